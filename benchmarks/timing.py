"""What every benchmark here shares: one command as a fresh process, timed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def run_once(argv: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process; any exit code outside `ok` stops the run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"command failed ({status}): {' '.join(argv)}")
    return wall, usage.ru_maxrss / 1024


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """An earlier commit's sources, in a temporary git worktree."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "-q", "--detach", str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(path)], check=False)
