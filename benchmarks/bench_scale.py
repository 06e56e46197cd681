"""`convinspect check` at scale: 1,000 vs 50,000 analytic entries, and the Keras engine's memory
over 2,000 and 20,000 entries, side by side with an earlier commit (before Keras' state was
released every 200 entries and spec-file lines were counted in linear time).

Usage: python benchmarks/bench_scale.py [--against REF] [--keras-entries N,N] [--analytic-entries N,N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import worktree
from bench_check import spec_text  # the same generated spec over all ten kinds


def measure(argv: list[str], env: dict[str, str] | None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", metavar="REF", help="an earlier commit to run side by side")
    parser.add_argument("--analytic-entries", default="1000,50000")
    parser.add_argument("--keras-entries", default="2000,20000")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "convinspect", "check"]
    with contextlib.ExitStack() as stack:
        trees: dict[str, dict[str, str] | None] = {"this tree": None}
        if args.against:
            tree = stack.enter_context(worktree(args.against))
            trees[args.against] = {**os.environ, "PYTHONPATH": str(tree / "src")}
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        print(f"{'run':52} {'wall s':>9} {'peak RSS MiB':>13}")
        for engine, counts in (("analytic", args.analytic_entries), ("keras", args.keras_entries)):
            for entries in (int(n) for n in counts.split(",")):
                spec = tmp / f"spec-{entries}.toml"
                spec.write_text(spec_text(entries))
                for name, env in trees.items():
                    wall, rss, code = measure([*cli, str(spec), "--engine", engine, "--format", "json"], env)
                    label = f"{name}: check {entries:,} entries --engine {engine}"
                    print(f"{label:52} {wall:9.2f} {rss:13.1f}" + ("" if code == 0 else f"  (exit {code})"), flush=True)


if __name__ == "__main__":
    main()
