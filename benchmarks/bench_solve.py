"""`convinspect solve` with the default bounds for the 1D, 2D and 3D transposed kinds, against the analytic
engine's start-up (`build --engine analytic`).

Each command is a fresh process, interleaved; prints medians and each solve's time above the start-up.
Target (issue 13): the analytic start-up plus at most 50 ms.

Usage: python benchmarks/bench_solve.py [N]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from timing import run_once

CLI = [sys.executable, "-m", "convinspect"]
COMMANDS = {
    "build --engine analytic (start-up)": [*CLI, *"build -f 16 -k 3 -i 1,12,12,32 -e analytic -F json".split()],
    "solve conv1d-transpose 12 -> 25": [*CLI, *"solve -l conv1d-transpose -i ?,12,32 -O ?,25,16 -F json".split()],
    "solve conv2d-transpose 12x12 -> 25x25": [
        *CLI,
        *"solve -l conv2d-transpose -i ?,12,12,32 -O ?,25,25,16 -F json".split(),
    ],
    "solve conv3d-transpose 6^3 -> 12^3": [
        *CLI,
        *"solve -l conv3d-transpose -i ?,6,6,6,8 -O ?,12,12,12,4 -F json".split(),
    ],
    "solve conv3d-transpose 5^3 -> 11^3 (none)": [
        *CLI,
        *"solve -l conv3d-transpose -i ?,5,5,5,8 -O ?,11,11,11,4 -F json --max-stride 2".split(),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():
            times[name].append(run_once(argv, ok=(0, 1))[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    base = next(iter(median.values()))
    print(f"{args.rounds} rounds, medians (fresh processes)")
    for name, value in median.items():
        extra = "" if value is base else f"  (+{(value - base) * 1000:.0f} ms over the start-up; target <= 50 ms)"
        print(f"{name:<44} {value * 1000:>6.0f} ms{extra}")


if __name__ == "__main__":
    main()
