"""`convinspect build --format json` for the headline example on every installed Keras backend.

Each backend runs as a fresh process (Keras binds its backend at import), interleaved so that
machine noise hits all alike; prints median wall time and peak RSS, and each backend's ratio
to TensorFlow. Target (issue 12): the fastest backend at most 0.6x the TensorFlow time.

Usage: python benchmarks/bench_backends.py [N] [--verify]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from timing import run_once

from convinspect.engines.session import BACKENDS, installed

HEADLINE = ["--filters", "64", "--kernel", "5", "--input", "2,32,32,1", "--format", "json"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=7)
    parser.add_argument("--verify", action="store_true", help="add --verify to every run")
    args = parser.parse_args()
    backends = [b for b in BACKENDS if installed(b)]
    extra = ["--verify"] if args.verify else []
    commands = {b: [sys.executable, "-m", "convinspect", "build", *HEADLINE, *extra, "--backend", b] for b in backends}
    commands["analytic (no backend)"] = [sys.executable, "-m", "convinspect", "build", *HEADLINE, "-e", "analytic"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    memory: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, argv in commands.items():
            wall, rss = run_once(argv)
            times[name].append(wall)
            memory[name].append(rss)
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["tensorflow"]
    verify = " --verify" if args.verify else ""
    print(f"convinspect build {' '.join(HEADLINE)}{verify}: {args.rounds} rounds, medians")
    print(f"{'backend':<24} {'wall':>8} {'× tensorflow':>13} {'peak RSS':>10}")
    for name in commands:
        rss = statistics.median(memory[name])
        print(f"{name:<24} {median[name]:>7.3f}s {median[name] / base:>12.2f}× {rss:>6.0f} MiB")
    fastest = min(backends, key=lambda b: median[b])
    print(f"fastest real layer: {fastest}, {median[fastest] / base:.2f}× TensorFlow's time (target <= 0.6×)")


if __name__ == "__main__":
    main()
