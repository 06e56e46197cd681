"""Files a command writes: checked before any work, then written whole or not at all.

An output name is checked before anything runs (a file's name, in a writable folder, none of the
inputs, standard input included). The write goes to a temporary file beside the target, renamed
over it at the end: a reader never sees half a report, and Ctrl-C, SIGTERM or SIGHUP leave the old
file as it was. A symlink is written through; a device or a pipe (/dev/null, /dev/stdout) directly.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from convinspect.errors import ConvinspectError, InvalidInput, OutputError, Terminated


def check_output(output: str | None, inputs: Iterable[str] = (), option: str = "output") -> None:
    """Before any work: the name is a file's, its folder exists and is writable, and it is none of the inputs."""
    if output is None:
        return
    if not output.strip():
        raise InvalidInput("expected a file name; got an empty one", option)
    if output.endswith(("/", os.sep)) or Path(output).name in ("", ".", ".."):
        raise InvalidInput(f"{output!r} names a folder; give a file name", option)
    try:
        target = resolved(output)
        if target.is_dir():
            raise InvalidInput(f"{output} is a folder; give a file name", option)
        folder = target.parent
        if not folder.exists():
            raise InvalidInput(f"cannot write {output}: the folder {Path(output).parent} does not exist", option)
        if not folder.is_dir():
            raise InvalidInput(f"cannot write {output}: {Path(output).parent} is not a folder", option)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InvalidInput(f"cannot write {output}: the folder {Path(output).parent} is not writable", option)
        for source in inputs:
            with contextlib.suppress(OSError):
                if target.exists() and _same_file(source, target):
                    raise InvalidInput(f"{output} is also an input file; the report would replace it", option)
    except OSError as err:  # e.g. a name too long for the file system
        raise InvalidInput(f"cannot write {output}: {err.strerror}", option) from None


def resolved(path: str) -> Path:
    """Where a write to `path` lands: a symlink's target; a link to a pipe or a terminal (/dev/stdout
    when stdout is one) is the link itself, which the system opens for us."""
    real = Path(os.path.realpath(path))
    return real if real.exists() or not os.path.exists(path) else Path(path)


def _same_file(source: str, target: Path) -> bool:
    """Whether an input is the target; `-` is standard input, the same file when it was redirected from it."""
    if source != "-":
        return os.path.samefile(source, target)
    stdin, there = os.fstat(0), target.stat()
    return stat.S_ISREG(stdin.st_mode) and (stdin.st_dev, stdin.st_ino) == (there.st_dev, there.st_ino)


def write_atomically(path: str, text: str | Iterable[str], option: str = "output") -> None:
    """Write `text` to `path` so that the file is always either the old content or the whole new one.

    A regular file (or a new one) is written to a temporary file in the same folder,
    then renamed over the target; the temporary file goes away whatever happens,
    Ctrl-C and SIGTERM included. A symlink is written through to its target; a device
    or a FIFO (`/dev/null`, a pipe) is written to directly, never replaced.
    """
    target = resolved(path)
    chunks = (text,) if isinstance(text, str) else text
    try:
        if target.exists() and not stat.S_ISREG(target.stat().st_mode):
            with open(target, "wb") as handle:
                _write_chunks(handle, chunks)
            return
        with _cleanup_on_signals():
            _replace(target, chunks)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}", option) from None


def _write_chunks(handle: Any, chunks: Iterable[str]) -> None:
    for chunk in chunks:
        handle.write(chunk.encode("utf-8", errors="backslashreplace"))


def _replace(target: Path, chunks: Iterable[str]) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=".convinspect-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_chunks(handle, chunks)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            mode = target.stat().st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception for the length of a write, so `finally` runs."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    names = ("SIGTERM", "SIGHUP")
    signals = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, terminate) or signal.SIG_DFL for sig in signals}
    try:
        yield
    except Terminated as err:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.kill(os.getpid(), err.args[0])  # die of the same signal, the file untouched
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_snapshot(snapshot: str | None, against: str | None, target: str | None, inputs: Iterable[str]) -> None:
    """Before any work: --snapshot may be written, and replaces neither an input, --against nor --output."""
    if snapshot is None:
        return
    if against is not None and os.path.realpath(snapshot) == os.path.realpath(against):
        raise ConvinspectError(
            "is the --against baseline: writing it would replace the lock it is compared with (a rerun would "
            "then pass); write the new snapshot to another file", "snapshot")  # fmt: skip
    check_output(snapshot, inputs, "snapshot")
    if target is not None and os.path.realpath(snapshot) == os.path.realpath(target):
        raise ConvinspectError("is the same file as --output; give them different names", "snapshot")
