"""`build --backend all`: the layer on every Keras backend, each in a child convinspect of its own.

Keras binds one backend per process, so each backend's run is a child `convinspect build
--backend NAME --verify -F json`; `read_child` is the one reader of a child's JSON and exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys

from convinspect.core.commands.conformance import BackendRun, RunStatus
from convinspect.core.layer.runtime import CpuKernels
from convinspect.engines.session import BACKENDS, PACKAGES, installed
from convinspect.errors import InvalidInput

# A child convinspect that imports nothing from the current folder (`python -m` would put it first
# on sys.path, so a typer.py there would run).
_CHILD = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; from convinspect.entry import main; main()"
)


def run_everywhere(argv: list[str], cpu_kernels: CpuKernels) -> tuple[BackendRun, ...]:
    """`build ARGV` on every backend: a run per backend, MISSING where it is not installed."""
    runs = []
    for backend in BACKENDS:
        if not installed(backend):
            runs.append(BackendRun(backend, RunStatus.MISSING,
                                   error=f"not installed (pip install {PACKAGES[backend][1]})"))  # fmt: skip
            continue
        own = ["--cpu-kernels", str(cpu_kernels)] if backend == "tensorflow" else []
        child = [sys.executable, "-c", _CHILD, "build", *argv, *own, "--backend", backend, "--verify", "-F", "json"]
        runs.append(read_child(backend, subprocess.run(child, capture_output=True, text=True, check=False)))
    return tuple(runs)


def read_child(backend: str, proc: subprocess.CompletedProcess[str]) -> BackendRun:
    """A child's JSON and exit code, turned back into a typed run (the one place that reads them)."""
    try:
        document = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return BackendRun(backend, RunStatus.ERROR, error=_last_line(proc.stderr) or f"exit {proc.returncode}")
    if "error" in document:
        if document["error"].get("option") is not None:  # an option this backend cannot honour: the user's
            raise InvalidInput(f"{backend}: {document['error'].get('message')}")
        status = {2: RunStatus.INVALID, 1: RunStatus.FAILED}.get(proc.returncode, RunStatus.ERROR)
        return BackendRun(backend, status, error=str(document["error"].get("message")))
    status = {0: RunStatus.OK, 1: RunStatus.FAILED}.get(proc.returncode, RunStatus.ERROR)
    runtime = document.get("runtime", {})
    error = None
    if not runtime.get("runs", True):  # valid, but this backend cannot run it: nothing was verified
        status, error = RunStatus.ERROR, f"cannot run it: {runtime.get('reason')}"
    return BackendRun.from_report(backend, status, document, error)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
