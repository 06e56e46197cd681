"""`convinspect check` on a generated 1,000-entry spec: Keras engine vs analytic engine,
next to the cost of separate `convinspect build` processes (median of a few, times 1,000).

Usage: python benchmarks/bench_check.py [ENTRIES] [BUILD_SAMPLES]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = [
    ("conv1d", "filters = {f}\nkernel = 3\npadding = 'causal'\ninput = '2,{n},{c}'"),
    ("conv2d", "filters = {f}\nkernel = 3\nstrides = 2\npadding = 'same'\ninput = '2,{n},{n},{c}'"),
    ("conv3d", "filters = {f}\nkernel = 3\ninput = '1,{m},{m},{m},{c}'"),
    ("depthwise-conv1d", "kernel = 3\ndepth_multiplier = 2\ninput = '2,{n},{c}'"),
    ("depthwise-conv2d", "kernel = 3\ninput = '2,{n},{n},{c}'"),
    ("separable-conv1d", "filters = {f}\nkernel = 3\ninput = '2,{n},{c}'"),
    ("separable-conv2d", "filters = {f}\nkernel = 3\npadding = 'same'\ninput = '2,{n},{n},{c}'"),
    ("conv1d-transpose", "filters = {f}\nkernel = 3\nstrides = 2\ninput = '2,{n},{c}'"),
    ("conv2d-transpose", "filters = {f}\nkernel = 2\nstrides = 2\ninput = '2,{n},{n},{c}'"),
    ("conv3d-transpose", "filters = {f}\nkernel = 2\nstrides = 2\ninput = '1,{m},{m},{m},{c}'"),
]


def spec_text(entries: int) -> str:
    parts = []
    for i in range(entries):
        kind, body = KINDS[i % len(KINDS)]
        values = {"f": 8 + i % 24, "n": 16 + i % 17, "m": 4 + i % 5, "c": 1 + i % 4}
        parts.append(f"[[layer]]\nname = 'entry {i}'\nlayer = '{kind}'\n{body.format(**values)}\nmax_params = 100000\n")
    return "\n".join(parts)


def measure(argv: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    build_samples = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    cli = [sys.executable, "-m", "convinspect"]
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.toml"
        spec.write_text(spec_text(entries))
        rows = []
        for engine in ("analytic", "keras"):
            wall, rss, code = measure([*cli, "check", str(spec), "--engine", engine, "--format", "json"])
            assert code == 0, f"check --engine {engine} exited {code}"
            rows.append((f"check {entries} entries --engine {engine}", wall, rss))
        build = [*cli, "build", "--filters", "64", "--kernel", "5", "--input", "2,32,32,1", "--format", "json"]
        for engine in ("analytic", "keras"):
            samples = [measure([*build, "--engine", engine]) for _ in range(build_samples)]
            wall = statistics.median(s[0] for s in samples)
            rss = statistics.median(s[1] for s in samples)
            rows.append((f"{entries} x build --engine {engine} (median x {entries})", wall * entries, rss))
    print(f"{'run':52} {'wall s':>9} {'peak RSS MiB':>13}")
    for name, wall, rss in rows:
        print(f"{name:52} {wall:9.2f} {rss:13.1f}")
    keras_check, keras_builds = rows[1][1], rows[3][1]
    print(f"one keras check run is {keras_builds / keras_check:.0f}x faster than {entries} separate keras builds")


if __name__ == "__main__":
    main()
