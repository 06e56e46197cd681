"""The command line's streams: TensorFlow silenced on file descriptor 2, convinspect's own lines kept.

TensorFlow's C++ start-up lines (oneDNN, CUDA probing) ignore TF_CPP_MIN_LOG_LEVEL in
TF 2.21 and write to fd 2 directly. So for the length of a command, fd 2 points at
/dev/null and convinspect writes its messages and progress bar to a copy of the real
stderr. The Python API never touches fd 2: a program that imports convinspect keeps
its own stderr. CONVINSPECT_DEBUG=1 lets everything through.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

_messages: TextIO | None = None  # the real stderr while fd 2 is silenced


def messages() -> TextIO | None:
    """Where convinspect's own lines go: the real stderr (None when there is none, as with `2>&-`)."""
    return _messages if _messages is not None else sys.stderr


def say(line: str) -> None:
    """One line on the real stderr; a closed or broken stderr loses the line, never the exit code."""
    stream = messages()
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(line + "\n")
        stream.flush()


def _uses_fd2(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured stream (tests) has no descriptor
        return False


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null (and ignore Python warnings) until the block ends."""
    global _messages
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("CONVINSPECT_DEBUG"):
        yield
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    _plug_closed_descriptors()
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - plugged above
        saved = -1
    if saved >= 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        if _uses_fd2(sys.stderr):
            encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
            _messages = os.fdopen(os.dup(saved), "w", encoding=encoding, errors="backslashreplace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if _messages is not None:
            with contextlib.suppress(OSError, ValueError):
                _messages.close()
            _messages = None
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)


def _plug_closed_descriptors() -> None:
    """Point a closed fd 0, 1 or 2 at /dev/null, so that no file opened later takes its number
    (TensorFlow would log into it). sys.stdout stays None: a closed stdout is still reported."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            plug = os.open(os.devnull, os.O_RDWR)
            if plug != fd:
                os.dup2(plug, fd)
                os.close(plug)


MAX_COLUMNS = 1000


def sane_columns() -> None:
    """Drop a COLUMNS that is not an integer from 1 to MAX_COLUMNS (0 makes Rich print nothing,
    a huge one makes it pad every line to that width or fail)."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and not (columns.strip().isdigit() and 0 < int(columns) <= MAX_COLUMNS):
        del os.environ["COLUMNS"]


def stderr_is_terminal() -> bool:
    stream = messages()
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False
