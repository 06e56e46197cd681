"""The progress bar on the real stderr: shown only when that is a terminal, invisible otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from convinspect.streams import messages, stderr_is_terminal

T = TypeVar("T")


class Bar:
    """A progress bar's three moves; each does nothing when stderr is not a terminal."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress, self._task = progress, task

    def total(self, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def advance(self, result: T) -> T:
        """Count one result done, and hand it on."""
        if self._progress is not None:
            self._progress.advance(self._task)
        return result

    def step(self, what: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=what, completed=done, total=total or None)

    @property
    def shown(self) -> bool:
        return self._progress is not None


@contextlib.contextmanager
def progress(what: str, *, show: bool = True) -> Iterator[Bar]:
    """A Rich progress bar on the real stderr, only when that is a terminal (and `show`)."""
    if not show or not stderr_is_terminal():
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=messages()), transient=True) as bar:
        yield Bar(bar, bar.add_task(what, total=None))
