"""The one output pipeline: any result, any format, to stdout or (atomically) to a file."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from convinspect.core.checks.checkrun import CheckRun, EntryResult, Tally
from convinspect.core.checks.results import ModelResult
from convinspect.core.commands.conformance import Conformance, RunStatus
from convinspect.core.commands.solve import SolveResult
from convinspect.core.commands.sweep import Sweep
from convinspect.core.layer.report import Report
from convinspect.core.vocab.choices import Format
from convinspect.core.vocab.text import for_encoding, inert, inert_lines, json_for_encoding
from convinspect.errors import (
    EXIT_BACKEND,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    ConvinspectError,
    OutputError,
)
from convinspect.files import check_output, write_atomically
from convinspect.streams import messages, say, stderr_is_terminal

Result = Report | CheckRun | Sweep | ModelResult | Conformance | SolveResult
T = TypeVar("T")
FILE_WIDTH = 120  # Rich tables written to a file: fixed width, no colour


def render(result: Result, fmt: Format, *, diagram: bool = False) -> Any:
    """Text for every format; a Rich renderable for a report's or check run's table.

    Renderers escape the untrusted text they place (names, paths); text formats other
    than JSON pass through `inert_lines` as well, so nothing raw reaches a terminal.
    """
    rendered = _render(result, fmt, diagram=diagram)
    return inert_lines(rendered) if isinstance(rendered, str) and fmt is not Format.JSON else rendered


# The one render registry: result type -> format -> (render module, writer, whether it takes --diagram).
WRITERS: dict[type, dict[Format, tuple[str, str, bool]]] = {
    Report: {Format.TABLE: ("table", "report_table", True), Format.JSON: ("json", "report_json", True),
             Format.MARKDOWN: ("markdown", "report_markdown", True), Format.PLAIN: ("plain", "report_plain", True)},
    CheckRun: {Format.TABLE: ("checks", "check_table", False), Format.JSON: ("json", "check_json", False),
               Format.JUNIT: ("checks", "check_junit", False), Format.GITHUB: ("checks", "check_github", False),
               Format.MARKDOWN: ("checks", "check_markdown", False)},
    Sweep: {Format.TABLE: ("sweep", "sweep_table", False), Format.JSON: ("json", "sweep_json", False),
            Format.CSV: ("sweep", "sweep_csv", False)},
    ModelResult: {Format.TABLE: ("model", "model_table", False), Format.JSON: ("json", "model_json", False),
                  Format.MARKDOWN: ("model", "model_markdown", False), Format.CSV: ("model", "model_csv", False)},
    SolveResult: {Format.TABLE: ("solve", "solve_text", True), Format.JSON: ("json", "solve_json", False),
                  Format.MARKDOWN: ("solve", "solve_markdown", True)},
    Conformance: {Format.TABLE: ("conformance", "conformance_table", False),
                  Format.JSON: ("json", "conformance_json", False),
                  Format.MARKDOWN: ("conformance", "conformance_markdown", False),
                  Format.PLAIN: ("conformance", "conformance_plain", False)},
}  # fmt: skip
# Each command's formats, from what its results can be written as (model --layer writes a build report).
FORMATS: dict[str, tuple[Format, ...]] = {
    "build": tuple(WRITERS[Report]),
    "check": tuple(WRITERS[CheckRun]),
    "sweep": tuple(WRITERS[Sweep]),
    "model": (*WRITERS[ModelResult], Format.PLAIN),
    "solve": tuple(WRITERS[SolveResult]),
}


def _render(result: Result, fmt: Format, *, diagram: bool = False) -> Any:
    import importlib

    module, name, takes_diagram = WRITERS[type(result)][fmt]
    writer = getattr(importlib.import_module(f"convinspect.render.{module}"), name)
    return writer(result, diagram) if takes_diagram else writer(result)


def summary(result: Result) -> str:
    """The one line printed on the terminal when the result goes to a file."""
    from convinspect.render import checks, sweep, words

    if isinstance(result, Report):
        return words.report_summary(result)
    if isinstance(result, CheckRun):
        return checks.summary_line(result)
    if isinstance(result, ModelResult):
        from convinspect.render.model import summary_line

        return summary_line(result)
    if isinstance(result, SolveResult):
        from convinspect.render.solve import summary_line as solve_summary

        return solve_summary(result)
    if isinstance(result, Conformance):
        from convinspect.render.conformance import summary_line as conformance_summary

        return conformance_summary(result)
    return sweep.summary_line(result)


def output_target(output: str | None) -> str | None:
    """`-o -` means standard output, as `-` does for `check`'s input."""
    return None if output == "-" else output


def write(result: Result, fmt: Format, output: str | None = None, *, diagram: bool = False) -> None:
    """Render `result` and write it to stdout, or to `output` followed by a summary line on stdout."""
    rendered = render(result, fmt, diagram=diagram)
    if output is None:
        emit(rendered if isinstance(rendered, str) else _terminal_text(rendered), json_text=fmt is Format.JSON)
        return
    text = rendered if isinstance(rendered, str) else _plain_text(rendered)
    write_atomically(output, text)
    with contextlib.suppress(OutputError):  # the file holds the result; the summary is a courtesy
        emit(f"{summary(result)}; written to {inert(output)}\n")


def write_stream(
    chunks: Iterable[str], output: str | None, summary: Callable[[], str], *, json_text: bool = False
) -> None:
    """Like write, for a result rendered as it is computed: each chunk goes out (or into the
    temporary file) as soon as it exists, so memory stays flat however many entries a run has."""
    if output is None:
        for chunk in chunks:
            emit(chunk, json_text=json_text)
        return
    write_atomically(output, chunks)
    with contextlib.suppress(OutputError):
        emit(f"{summary()}; written to {inert(output)}\n")


def emit(text: str, *, json_text: bool = False) -> None:
    """Write to stdout in whatever encoding it has; a closed or full stdout is an OutputError.

    A reader that stops early (`| head -1`) is not an error: the rest goes to /dev/null.
    """
    stream = sys.stdout
    if stream is None:
        raise OutputError("standard output is closed; give --output FILE to write the result to a file")
    encoding = getattr(stream, "encoding", None) or "utf-8"
    text = json_for_encoding(text, encoding) if json_text else for_encoding(text, encoding)
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
    except (OSError, ValueError) as err:
        raise OutputError(f"cannot write to standard output: {getattr(err, 'strerror', None) or err}") from None


def silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


NARROWEST = 80  # columns: the width every table is laid out and tested at, at least


def _console(stream: Any) -> Any:
    from rich.console import Console

    from convinspect.streams import sane_columns

    sane_columns()
    # NO_COLOR means no styling at all (Rich alone would drop colours but keep bold and dim).
    plain = bool(os.environ.get("NO_COLOR"))
    console = Console(file=stream, soft_wrap=False, color_system=None if plain else "auto")
    if console.width < NARROWEST:  # a table that narrow cuts figures short: lay it out at 80, the terminal wraps
        console.width = 80
    return console


def _terminal_text(renderable: Any) -> str:
    """A Rich renderable as this terminal shows it (its width and colours), rendered to text
    so that writing it is emit's job alone (encodings, closed or full streams)."""
    import io

    from rich.console import Console

    if sys.stdout is None:
        return ""  # emit says that stdout is closed
    terminal = _console(sys.stdout)
    buffer = io.StringIO()
    Console(
        file=buffer, width=terminal.width, color_system=terminal.color_system,
        force_terminal=terminal.is_terminal, soft_wrap=False,
    ).print(renderable)  # fmt: skip
    if terminal.is_terminal:
        return buffer.getvalue()
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())  # no cell padding in files


def _plain_text(renderable: Any) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=FILE_WIDTH, color_system=None, soft_wrap=False).print(renderable)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


# -- a command's end: errors, progress, the lines on stderr and the exit code ----------------


def fail(err: ConvinspectError, json_errors: bool, schema: str) -> int:
    """Report an error the one way: a line on stderr (plus a JSON object for --format json)."""
    from convinspect.render.json import error_json

    say(f"convinspect: error: {err.message()}")
    if json_errors:
        with contextlib.suppress(ConvinspectError):  # stdout itself may be what failed
            emit(error_json(err, schema), json_text=True)
    return err.exit_code


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


def report_verdict(report: Report, fmt: Format, target: str | None) -> int:
    """A written layer report's lines on stderr (the warning where the format does not carry it, each
    failed check, a failed verification) and its exit code."""
    from convinspect.render.words import check_text, runtime_warning, verify_text

    warning = runtime_warning(report)
    if warning and (fmt is Format.JSON or target is not None):  # the human formats carry it themselves
        say(f"convinspect: {warning}")
    if report.runtime.crashed and report.runtime.observed:  # the environment failed, not the layer
        return EXIT_BACKEND
    for failed in (c for c in report.checks if not c.ok):
        say(f"convinspect: check failed: {check_text(failed)}")
    if report.verification is not None and report.verification.ok is False:
        say(f"convinspect: {verify_text(report.verification)}")
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def conformance_verdict(result: Conformance) -> int:
    """`--backend all`'s line on stderr and exit code, once its table is written."""
    if result.exit_code == 2:  # the layer itself is wrong: one error line, as build gives
        first = next(run for run in result.present if run.status is RunStatus.INVALID)
        raise ConvinspectError(f"every installed backend rejects the layer: {first.error}")
    if result.exit_code:
        failing = [f"{run.backend} {run.status}" + (f" ({run.error})" if run.error else "")
                   for run in result.runs if run.status in (RunStatus.FAILED, RunStatus.ERROR)]  # fmt: skip
        say(f"convinspect: the backends do not conform: {'; '.join(failing + result.disagreements)}")
    return result.exit_code


def model_verdict(result: ModelResult, fmt: Format, target: str | None) -> int:
    """A written model result's lines on stderr (the CPU-kernel warning where the format does not carry
    it, each failed check, the changes against the snapshot) and its exit code."""
    from convinspect.render.model import runtime_warning
    from convinspect.render.words import check_text

    warning = runtime_warning(result.report)
    if warning and (fmt in (Format.JSON, Format.CSV) or target is not None):  # the others carry it
        say(f"convinspect: {warning}")
    for failed in (c for c in result.checks if not c.ok):
        say(f"convinspect: check failed: {check_text(failed)}")
    if result.changes:
        say(f"convinspect: {len(result.changes)} layer change(s) against {result.against}")
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def verdict(result: Result, fmt: Format, target: str | None) -> int:
    """The lines on stderr and the exit code of a written result."""
    if isinstance(result, Report):
        return report_verdict(result, fmt, target)
    if isinstance(result, Conformance):
        return conformance_verdict(result)
    if isinstance(result, ModelResult):
        return model_verdict(result, fmt, target)
    if isinstance(result, SolveResult):
        if not result.solutions:
            say("convinspect: no solution within the bounds")
        return result.exit_code
    if isinstance(result, CheckRun):
        return result.exit_code
    if isinstance(result, Sweep):
        for line in sorted({row.error for row in result.rows if row.error}):
            say(f"convinspect: error: {inert(line)}")
        return result.exit_code
    return EXIT_OK


def write_check_stream(results: Iterable[EntryResult], target: str | None, bar: Bar) -> int:
    """A check run's JSON, written as each entry's result arrives (then let go); its exit code."""
    from convinspect.render.checks import summary_line
    from convinspect.render.json import check_json_stream

    tally = Tally()
    if bar.shown:
        results = (bar.advance(r) for r in results)
    write_stream(check_json_stream(results, tally), target, lambda: summary_line(tally), json_text=True)
    return tally.exit_code


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


def write_snapshot(snapshot: str | None, result: ModelResult | Report) -> None:
    if snapshot is not None and isinstance(result, ModelResult):
        from convinspect.core.checks.snapshot import snapshot_text

        write_atomically(snapshot, snapshot_text(result.report), "snapshot")
