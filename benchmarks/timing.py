"""What every benchmark here shares: one command as a fresh process, timed."""

from __future__ import annotations

import os
import subprocess
import time


def run_once(argv: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process; any exit code outside `ok` stops the run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"command failed ({status}): {' '.join(argv)}")
    return wall, usage.ru_maxrss / 1024
