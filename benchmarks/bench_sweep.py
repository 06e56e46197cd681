"""`convinspect sweep` over 99,856 input shapes (the most under the 100,000 limit), next to two baselines:
the same shapes as full analytic reports in one process (`inspect_layer` in a loop, which also computes
geometry, layouts and memory), and one `convinspect build --engine analytic` process per shape
(median of a few builds, times the shape count).

Usage: python benchmarks/bench_sweep.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

LAYER = ["--filters", "64", "--kernel", "7", "--strides", "2"]
RANGES = "1,1..316,1..316,3"
SHAPES = 316 * 316
SWEEP = [sys.executable, "-m", "convinspect", "sweep", *LAYER, "--input", RANGES]
BUILD = [sys.executable, "-m", "convinspect", "build", *LAYER, "--input", "1,224,224,3", "-e", "analytic", "-F", "json"]
LOOP = f"""
import itertools, time
from convinspect import inspect_layer
from convinspect.errors import InvalidInput
start = time.perf_counter()
shapes = list(itertools.product([1], range(1, 317), range(1, 317), [3]))[:: {SHAPES // 10_000}]
for shape in shapes:
    try:
        inspect_layer({{"filters": 64, "kernel": 7, "strides": 2, "input": list(shape)}}, engine="analytic")
    except InvalidInput:
        pass
print((time.perf_counter() - start) / len(shapes) * {SHAPES})
"""


def run(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"command failed ({status}): {' '.join(argv)}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    commands = {f"sweep -F {fmt}": [*SWEEP, "--format", fmt] for fmt in ("table", "csv", "json")}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    loop, builds = [], []
    for _ in range(rounds):
        for name, argv in commands.items():
            wall, rss, _ = run(argv)
            samples[name].append((wall, rss))
        loop.append(float(run([sys.executable, "-c", LOOP])[2]))
        builds.extend(run(BUILD)[0] for _ in range(3))
    loop_s = statistics.median(loop)
    builds_s = statistics.median(builds) * SHAPES
    print(f"{rounds} rounds, medians, on {os.cpu_count()} CPUs; sweep {' '.join(LAYER)} --input {RANGES}")
    print(f"({SHAPES:,} shapes)")
    print(f"{'command':28} {'wall s':>9} {'peak RSS MiB':>13} {'×loop':>7} {'×builds':>9}")
    for name, values in samples.items():
        wall = statistics.median(w for w, _ in values)
        rss = statistics.median(r for _, r in values)
        print(f"{name:28} {wall:9.2f} {rss:13.1f} {wall / loop_s:7.2f} {wall / builds_s:9.5f}")
    print(f"{'inspect_layer loop (est.)':28} {loop_s:9.2f} {'':>13} {1:7.2f} {loop_s / builds_s:9.5f}")
    print(f"{'one build per shape (est.)':28} {builds_s:9.0f} {'':>13} {builds_s / loop_s:7.1f} {1:9.5f}")


if __name__ == "__main__":
    main()
