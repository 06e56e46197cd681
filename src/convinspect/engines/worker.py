"""Real forward passes in a worker process that may die: the parent owns the report.

TensorFlow's CPU kernels can crash the process (a oneDNN kernel that segfaults on one layer);
in a worker, that costs one layer, not the run. The command line sends every Keras-engine
layer report here (`api.isolated()`); the Python API runs in its own process unless asked.

A worker is a `python -c` child that imports the Keras engine and answers pickled requests,
one at a time, on a pipe. Workers are kept per (backend, --cpu-kernels request), because
TensorFlow reads its oneDNN switch once per process: each request lands in a process whose
kernels are the ones it asks for. When a worker dies during a request, the parent starts a
fresh one and asks it again with no kernel run at all (Keras' symbolic call builds the layer
and gives its shapes), so the report is whole and says the forward pass crashed.
"""

from __future__ import annotations

import atexit
import copyreg
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from types import MappingProxyType
from typing import IO, Any

from convinspect.core.layer.report import Report
from convinspect.core.layer.runtime import ENV, CpuKernels
from convinspect.core.layer.spec import LayerSpec
from convinspect.engines.machine import user_switch
from convinspect.errors import BackendError


# Reports freeze their mappings (versions, a layout's torch module); they cross the pipe as dicts.
def frozen(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


copyreg.pickle(MappingProxyType, lambda proxy: (frozen, (dict(proxy),)))

SERVE = "from convinspect.engines.worker import serve; serve()"


def _child_code() -> str:
    """The child's program: this process's import path (never the current folder, which `python -c`
    would put first), then the serving loop."""
    path = [p for p in sys.path if p not in ("", ".")]
    return f"import sys; sys.path[:] = {path!r}; " + SERVE


class _Died(Exception):
    """The worker ended during a request: `signal` names the signal that killed it (None: it exited)."""

    def __init__(self, signal: str | None, detail: str) -> None:
        super().__init__(detail)
        self.signal = signal
        self.detail = detail


class Worker:
    """One child process with its own TensorFlow."""

    def __init__(self, env: dict[str, str]) -> None:
        debug = bool(os.environ.get("CONVINSPECT_DEBUG"))
        self.log: IO[bytes] | None = None if debug else tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _child_code()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, env=env,
        )  # fmt: skip

    def ask(self, request: tuple[Any, ...]) -> Any:
        """The child's answer, or _Died with how it ended."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            pickle.dump(request, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            kind, value = pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._died() from None
        if kind == "raise":
            raise value
        return value

    def _died(self) -> _Died:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it closed its pipe but lives on: end it
            code = None
        last = self._last_log_line()
        self.close()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return _Died(name, name)
        status = "stopped answering" if code is None else f"exited with status {code}"
        return _Died(None, status + (f": {last}" if last else ""))

    def _last_log_line(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - 4096))
        lines = [line.strip() for line in self.log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    def close(self) -> None:
        """End the child now: it holds nothing worth waiting for."""
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.log is not None:
            self.log.close()


_WORKERS: dict[tuple[str, str], Worker] = {}


def _environment(backend: str) -> dict[str, str]:
    """The user's environment (their own TF_ENABLE_ONEDNN_OPTS, not one --cpu-kernels set) on `backend`."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.pop(ENV, None)
    own = user_switch()
    if own is not None:
        env[ENV] = own
    return env


def _worker(backend: str, cpu_kernels: CpuKernels) -> Worker:
    key = (backend, str(cpu_kernels))
    worker = _WORKERS.get(key)
    if worker is None or worker.proc.poll() is not None:
        worker = _WORKERS[key] = Worker(_environment(backend))
    return worker


def inspect(spec: LayerSpec, *, backend: str, cpu_kernels: CpuKernels = CpuKernels.AUTO, **options: Any) -> Report:
    """engines.keras.inspect in a worker on `backend`. A signal that kills the worker in the forward
    pass becomes the report's runtime (a fresh worker builds the layer without running a kernel);
    a worker that fails any other way is a BackendError."""
    request = ("inspect", spec, backend, cpu_kernels, options)
    try:
        return _ask(request)
    except _Died as died:
        if died.signal is None:
            raise BackendError(f"the Keras engine's worker process {died.detail}") from None
        crash = died.signal
    try:  # the same layer, built and called symbolically only: every fact but the forward pass
        return _ask((*request[:4], {**options, "crashed": crash}))
    except _Died as again:
        raise BackendError(
            f"the Keras engine's worker process died ({again.detail}) even without running a kernel, after "
            f"{crash} in the forward pass of {spec.kind.class_name}"
        ) from None


def _ask(request: tuple[Any, ...]) -> Report:
    _, _, backend, cpu_kernels, _ = request
    try:
        return _worker(backend, cpu_kernels).ask(request)  # type: ignore[no-any-return]
    except _Died:
        _WORKERS.pop((backend, str(cpu_kernels)), None)
        raise


def release() -> None:
    """Ask each live worker to drop Keras' global state (a long check run's memory stays flat)."""
    for key, worker in list(_WORKERS.items()):
        try:
            worker.ask(("release",))
        except _Died:
            _WORKERS.pop(key, None)


@atexit.register
def close_all() -> None:
    """End every worker (at exit; tests call it too)."""
    while _WORKERS:
        _WORKERS.popitem()[1].close()


# -- the child ---------------------------------------------------------------------------------


def serve() -> None:
    """The worker's loop: requests on stdin, pickled answers on (a private copy of) stdout."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)  # anything Keras or TensorFlow prints goes to the log, never into the replies
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us
    _die_with_parent()
    from convinspect.engines import keras

    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("return", _answer(keras, request))
        except Exception as err:
            answer = ("raise", err)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that does not pickle keeps its type's name and text
            data = pickle.dumps(("raise", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
        replies.write(data)
        replies.flush()


def _answer(keras: Any, request: tuple[Any, ...]) -> Any:
    from convinspect.engines import session

    if request[0] == "release":
        if "keras" in sys.modules:  # nothing was built otherwise
            session.release()
        return None
    _, spec, backend, cpu_kernels, options = request
    session.select_kernels(cpu_kernels, session.select_backend(backend))
    return keras.inspect(spec, cpu_kernels=cpu_kernels, **options)


def _die_with_parent() -> None:
    """Linux: a parent killed outright (SIGTERM, SIGKILL) takes its worker with it, mid-computation too."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere the closed pipe ends the worker after its current request
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
