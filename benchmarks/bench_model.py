"""convinspect model on ResNet-50's configuration: analytic vs Keras engine vs a bare Keras script.

Saves keras.applications.ResNet50(weights=None) once, as a .keras archive, then runs each
command N times as a fresh process (interleaved, so machine noise hits all alike) and prints
median wall time and peak RSS side by side, with ratios.

Targets (issue 11): analytic at most 0.3 s and at least 10x faster than the Keras engine on the
same file; the Keras engine at most 1.2x a bare script that loads the model and counts its params.

Usage: python benchmarks/bench_model.py [N] [--application NAME] [--against REF]
  --against REF  also runs both engines from an earlier commit (a temporary git worktree), side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import run_once, worktree

# What the Keras engine does without --load-weights: build the model from config.json, count.
BARE = """
import json, os, sys, zipfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
with zipfile.ZipFile(sys.argv[1]) as archive:
    config = json.loads(archive.read("config.json"))
model = keras.saving.deserialize_keras_object(config, safe_mode=True)
print(model.count_params(), [tuple(layer.output.shape) for layer in model.layers][-1])
"""

SAVE = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

getattr(keras.applications, sys.argv[2])(weights=None).save(sys.argv[1])
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=7)
    parser.add_argument("--application", default="ResNet50")
    parser.add_argument("--against", metavar="REF", help="an earlier commit to compare with")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        path = str(Path(tmp) / f"{args.application}.keras")
        subprocess.run([sys.executable, "-c", SAVE, path, args.application], check=True, capture_output=True)
        cli = [sys.executable, "-m", "convinspect", "model", path, "--format", "json"]
        commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "bare keras script (load config, count_params)": ([sys.executable, "-c", BARE, path], None),
            "convinspect model (keras engine)": (cli, None),
            "convinspect model --engine analytic": ([*cli, "--engine", "analytic"], None),
        }
        if args.against:
            env = {**os.environ, "PYTHONPATH": str(stack.enter_context(worktree(args.against)) / "src")}
            commands[f"{args.against}: model (keras engine)"] = (cli, env)
            commands[f"{args.against}: model --engine analytic"] = ([*cli, "--engine", "analytic"], env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        memory: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (argv, env_) in commands.items():
                wall, rss = run_once(argv, env_)
                times[name].append(wall)
                memory[name].append(rss)
    median = {name: statistics.median(values) for name, values in times.items()}
    bare, keras_engine, analytic = list(median.values())[:3]
    print(f"{args.application} (weights=None) saved as .keras; {args.rounds} rounds, medians")
    print(f"{'command':<48} {'wall':>8} {'peak RSS':>10}")
    for name in commands:
        print(f"{name:<48} {median[name]:>7.3f}s {statistics.median(memory[name]):>7.0f} MiB")
    print(f"keras engine / bare script:     {keras_engine / bare:.2f}x  (target <= 1.2x)")
    print(f"keras engine / analytic engine: {keras_engine / analytic:.1f}x  (target >= 10x)")
    print(f"analytic engine:                {analytic:.3f}s  (target <= 0.3 s)")
    if args.against:
        before_keras, before_analytic = list(median.values())[3:]
        print(f"keras engine / {args.against}'s:      {keras_engine / before_keras:.2f}x")
        print(f"analytic engine / {args.against}'s:   {analytic / before_analytic:.2f}x")


if __name__ == "__main__":
    main()
