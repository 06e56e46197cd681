"""convinspect build vs a bare Keras script, and the analytic engine vs the Keras engine.

Runs each command N times as a fresh process (interleaved, so machine noise hits
all of them alike) and prints median wall time and median peak RSS side by side,
with ratios against the baselines.

Usage: python benchmarks/bench_build.py [N] [--against REF]
  --against REF  also runs the analytic and Keras builds of an earlier commit (checked out
                 into a temporary git worktree), to show a start-up regression side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys

from timing import run_once, worktree

HEADLINE = ["--filters", "64", "--kernel", "5", "--input", "2,32,32,1"]
CLI = [sys.executable, "-m", "convinspect", "build", *HEADLINE, "--format", "json"]

# The same Keras calls convinspect makes for the headline example, with nothing else.
BARE = """
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, numpy as np, tensorflow as tf
layer = keras.layers.Conv2D(64, 5)
before = list(layer.trainable_variables)
y = layer(np.random.default_rng().standard_normal((2, 32, 32, 1), dtype=np.float32))
print(json.dumps({
    "before": before,
    "after": [[v.path, list(v.shape), str(v.dtype)] for v in layer.trainable_variables],
    "output": list(y.shape), "params": layer.count_params(),
    "versions": [keras.__version__, tf.__version__],
}))
"""

COMMANDS = {
    "bare keras script": [sys.executable, "-c", BARE],
    "convinspect build (keras)": CLI,
    "convinspect build --engine analytic": [*CLI, "--engine", "analytic"],
    "convinspect build --explain (keras)": [*CLI, "--explain"],
    "convinspect build --explain --diagram -e analytic": [*CLI, "--explain", "--diagram", "--engine", "analytic"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=7)
    parser.add_argument("--against", metavar="REF", help="an earlier commit to compare with")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        commands: dict[str, tuple[list[str], dict[str, str] | None]] = {n: (a, None) for n, a in COMMANDS.items()}
        if args.against:
            tree = stack.enter_context(worktree(args.against))
            env = {**os.environ, "PYTHONPATH": str(tree / "src")}
            commands[f"{args.against}: build (keras)"] = (CLI, env)
            commands[f"{args.against}: build --engine analytic"] = ([*CLI, "--engine", "analytic"], env)
        measure(commands, args.rounds)


def measure(commands: dict[str, tuple[list[str], dict[str, str] | None]], rounds: int) -> None:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for argv, env in commands.values():  # warm the page cache once
        run_once(argv, env)
    for _ in range(rounds):
        for name, (argv, env) in commands.items():
            samples[name].append(run_once(argv, env))
    med = {n: (statistics.median(w for w, _ in s), statistics.median(r for _, r in s)) for n, s in samples.items()}
    base_wall, base_rss = med["bare keras script"]
    keras_wall = med["convinspect build (keras)"][0]
    print(f"{rounds} rounds, medians, on {os.cpu_count()} CPUs; headline: build {' '.join(HEADLINE)}")
    print(f"{'command':50} {'wall s':>8} {'peak RSS MiB':>13} {'wall ×bare':>11} {'RSS ×bare':>10}")
    for name, (wall, rss) in med.items():
        print(f"{name:50} {wall:8.3f} {rss:13.1f} {wall / base_wall:11.2f} {rss / base_rss:10.2f}")
    analytic_wall, _ = med["convinspect build --engine analytic"]
    print(f"analytic engine: {analytic_wall * 1000:.0f} ms median, {keras_wall / analytic_wall:.1f}× faster than keras")
    for name, (wall, _) in med.items():
        if name.endswith(": build --engine analytic"):
            ref = name.split(":")[0]
            now, then = analytic_wall * 1000, wall * 1000
            print(f"analytic engine vs {ref}: {now:.0f} ms vs {then:.0f} ms ({analytic_wall / wall:.2f}×)")
        if name.endswith(": build (keras)"):
            ref = name.split(":")[0]
            print(f"keras engine vs {ref}: {keras_wall:.2f} s vs {wall:.2f} s ({keras_wall / wall:.3f}×)")


if __name__ == "__main__":
    main()
