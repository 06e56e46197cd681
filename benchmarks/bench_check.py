"""`convinspect check` on a generated 1,000-entry spec: Keras engine vs analytic engine,
next to the cost of separate `convinspect build` processes (median of a few, times 1,000).

Usage: python benchmarks/bench_check.py [ENTRIES] [BUILD_SAMPLES] [--against REF [--rounds N]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import worktree

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


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("entries", nargs="?", type=int, default=1000)
    parser.add_argument("build_samples", nargs="?", type=int, default=5)
    parser.add_argument("--against", metavar="REF", help="an earlier commit: `check --engine keras` of both, "
                        "interleaved, medians and the ratio")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the --against comparison")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "convinspect"]
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.toml"
        spec.write_text(spec_text(args.entries))
        if args.against:
            return compare(cli, spec, args.entries, args.against, args.rounds)
        rows = []
        for engine in ("analytic", "keras"):
            wall, rss, code = measure([*cli, "check", str(spec), "--engine", engine, "--format", "json"])
            assert code == 0, f"check --engine {engine} exited {code}"
            rows.append((f"check {args.entries} entries --engine {engine}", wall, rss))
        build = [*cli, "build", "--filters", "64", "--kernel", "5", "--input", "2,32,32,1", "--format", "json"]
        for engine in ("analytic", "keras"):
            samples = [measure([*build, "--engine", engine]) for _ in range(args.build_samples)]
            wall = statistics.median(s[0] for s in samples)
            rss = statistics.median(s[1] for s in samples)
            rows.append((f"{args.entries} x build --engine {engine} (median x {args.entries})", wall * args.entries,
                         rss))  # fmt: skip
    print(f"{'run':52} {'wall s':>9} {'peak RSS MiB':>13}")
    for name, wall, rss in rows:
        print(f"{name:52} {wall:9.2f} {rss:13.1f}")
    keras_check, keras_builds = rows[1][1], rows[3][1]
    print(f"one keras check run is {keras_builds / keras_check:.0f}x faster than {args.entries} separate keras builds")


def compare(cli: list[str], spec: Path, entries: int, ref: str, rounds: int) -> None:
    """`check --engine keras` now and at `ref`, interleaved: medians and now/ref. Peak RSS is the largest
    process of each run's tree (wait4 counts the descendants a process waited for: the worker)."""
    with worktree(ref) as tree:
        runs = {"now": None, ref: {**os.environ, "PYTHONPATH": str(tree / "src")}}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        argv = [*cli, "check", str(spec), "--engine", "keras", "--format", "json"]
        for _ in range(rounds):
            for name, env in runs.items():
                wall, rss, code = measure(argv, env)
                assert code == 0, f"{name}: check exited {code}"
                samples[name].append((wall, rss))
    med = {n: statistics.median(w for w, _ in s) for n, s in samples.items()}
    print(f"check {entries} entries --engine keras, {rounds} rounds interleaved, medians, {os.cpu_count()} CPUs")
    for name, wall in med.items():
        rss = statistics.median(r for _, r in samples[name])
        each = ", ".join(f"{w:.2f}" for w, _ in samples[name])
        print(f"  {name:20} {wall:8.2f} s  peak RSS {rss:7.1f} MiB  (runs: {each})")
    print(f"  now / {ref}: {med['now'] / med[ref]:.3f}x")


if __name__ == "__main__":
    main()
