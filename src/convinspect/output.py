"""The one output pipeline: any result, any format, to stdout or (atomically) to a file."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from convinspect.core.checkrun import CheckRun
from convinspect.core.choices import Format
from convinspect.core.report import Report
from convinspect.core.sweep import Sweep
from convinspect.errors import InvalidInput

Result = Report | CheckRun | Sweep
FILE_WIDTH = 120  # Rich tables written to a file: fixed width, no colour


def render(result: Result, fmt: Format, *, diagram: bool = False) -> Any:
    """Text for every format; a Rich renderable for a report's or check run's table."""
    if isinstance(result, Report):
        if fmt is Format.TABLE:
            from convinspect.render.table import report_table

            return report_table(result, diagram)
        from convinspect.render import json, markdown, plain

        writers = {Format.JSON: json.report_json, Format.MARKDOWN: markdown.report_markdown,
                   Format.PLAIN: plain.report_plain}  # fmt: skip
        return writers[fmt](result, diagram)
    if isinstance(result, CheckRun):
        from convinspect.render import checks, json

        check_writers = {Format.TABLE: checks.check_table, Format.JSON: json.check_json,
                         Format.JUNIT: checks.check_junit, Format.GITHUB: checks.check_github,
                         Format.MARKDOWN: checks.check_markdown}  # fmt: skip
        return check_writers[fmt](result)
    from convinspect.render import json, sweep

    sweep_writers = {Format.TABLE: sweep.sweep_table, Format.JSON: json.sweep_json, Format.CSV: sweep.sweep_csv}
    return sweep_writers[fmt](result)


def summary(result: Result) -> str:
    """The one line printed on the terminal when the result goes to a file."""
    from convinspect.render import checks, sweep, words

    if isinstance(result, Report):
        return words.report_summary(result)
    if isinstance(result, CheckRun):
        return checks.summary_line(result)
    return sweep.summary_line(result)


def check_output(output: str | None, inputs: Iterable[str] = ()) -> None:
    """Before any work: the folder exists and is writable, and the target is none of the inputs."""
    if output is None:
        return
    target = Path(output)
    if target.is_dir():
        raise InvalidInput(f"{output} is a folder; give a file name", "output")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInput(f"cannot write {output}: the folder {folder} does not exist", "output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInput(f"cannot write {output}: the folder {folder} is not writable", "output")
    for source in inputs:
        with contextlib.suppress(OSError):
            if target.exists() and os.path.samefile(source, target):
                raise InvalidInput(f"{output} is also an input file; the report would replace it", "output")


def write(result: Result, fmt: Format, output: str | None = None, *, diagram: bool = False) -> None:
    """Render `result` and write it to stdout, or to `output` followed by a summary line on stdout."""
    rendered = render(result, fmt, diagram=diagram)
    if output is None:
        if isinstance(rendered, str):
            sys.stdout.write(rendered)
        else:
            _console(sys.stdout).print(rendered)
        sys.stdout.flush()
        return
    text = rendered if isinstance(rendered, str) else _plain_text(rendered)
    write_atomically(output, text)
    sys.stdout.write(f"{summary(result)}; written to {output}\n")
    sys.stdout.flush()


def _console(stream: Any) -> Any:
    from rich.console import Console

    # NO_COLOR means no styling at all (Rich alone would drop colours but keep bold and dim).
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(file=stream, soft_wrap=False, color_system=None if plain else "auto")


def _plain_text(renderable: Any) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=FILE_WIDTH, color_system=None, soft_wrap=False).print(renderable)
    return buffer.getvalue()


def write_atomically(path: str, text: str) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`:
    the file is always either the old content or the whole new one."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{target.name}.", suffix=".tmp", delete=False
        )
    except OSError as err:
        raise InvalidInput(f"cannot write {path}: {err.strerror}", "output") from None
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(handle.name, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise InvalidInput(f"cannot write {path}: {err.strerror}", "output") from None
