"""The one output pipeline: any result, any format, to stdout or (atomically) to a file."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from convinspect.core.checkrun import CheckRun
from convinspect.core.choices import Format
from convinspect.core.conformance import Conformance
from convinspect.core.modelcheck import ModelResult
from convinspect.core.report import Report
from convinspect.core.solve import SolveResult
from convinspect.core.sweep import Sweep
from convinspect.core.text import for_encoding, inert, inert_lines, json_for_encoding
from convinspect.errors import InvalidInput, OutputError, Terminated

Result = Report | CheckRun | Sweep | ModelResult | Conformance | SolveResult
FILE_WIDTH = 120  # Rich tables written to a file: fixed width, no colour


def render(result: Result, fmt: Format, *, diagram: bool = False) -> Any:
    """Text for every format; a Rich renderable for a report's or check run's table.

    Renderers escape the untrusted text they place (names, paths); text formats other
    than JSON pass through `inert_lines` as well, so nothing raw reaches a terminal.
    """
    rendered = _render(result, fmt, diagram=diagram)
    return inert_lines(rendered) if isinstance(rendered, str) and fmt is not Format.JSON else rendered


def _render(result: Result, fmt: Format, *, diagram: bool = False) -> Any:
    if isinstance(result, SolveResult):
        from convinspect.render import json, solve

        if fmt is Format.JSON:
            return json.dumps(result.to_dict())
        return (solve.solve_text if fmt is Format.TABLE else solve.solve_markdown)(result, diagram)
    if isinstance(result, Report):
        if fmt is Format.TABLE:
            from convinspect.render.table import report_table

            return report_table(result, diagram)
        from convinspect.render import json, markdown, plain

        writers = {Format.JSON: json.report_json, Format.MARKDOWN: markdown.report_markdown,
                   Format.PLAIN: plain.report_plain}  # fmt: skip
        return writers[fmt](result, diagram)
    if isinstance(result, Conformance):
        from convinspect.render import conformance, json

        conformance_writers = {Format.TABLE: conformance.conformance_table, Format.JSON: json.conformance_json,
                               Format.MARKDOWN: conformance.conformance_markdown,
                               Format.PLAIN: conformance.conformance_plain}  # fmt: skip
        return conformance_writers[fmt](result)
    if isinstance(result, ModelResult):
        from convinspect.render import json, model

        model_writers = {Format.TABLE: model.model_table, Format.JSON: json.model_json,
                         Format.MARKDOWN: model.model_markdown, Format.CSV: model.model_csv}  # fmt: skip
        return model_writers[fmt](result)
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


def check_output(output: str | None, inputs: Iterable[str] = (), option: str = "output") -> None:
    """Before any work: the name is a file's, its folder exists and is writable, and it is none of the inputs."""
    if output is None:
        return
    if not output.strip():
        raise InvalidInput("expected a file name; got an empty one", option)
    if output.endswith(("/", os.sep)) or Path(output).name in ("", ".", ".."):
        raise InvalidInput(f"{output!r} names a folder; give a file name", option)
    try:
        target = Path(os.path.realpath(output))  # a symlink is written through, to the file it points at
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
                if target.exists() and os.path.samefile(source, target):
                    raise InvalidInput(f"{output} is also an input file; the report would replace it", option)
    except OSError as err:  # e.g. a name too long for the file system
        raise InvalidInput(f"cannot write {output}: {err.strerror}", option) from None


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
        _silence_stdout()
    except (OSError, ValueError) as err:
        raise OutputError(f"cannot write to standard output: {getattr(err, 'strerror', None) or err}") from None


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _console(stream: Any) -> Any:
    from rich.console import Console

    from convinspect.streams import sane_columns

    sane_columns()
    # NO_COLOR means no styling at all (Rich alone would drop colours but keep bold and dim).
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(file=stream, soft_wrap=False, color_system=None if plain else "auto")


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


def write_atomically(path: str, text: str | Iterable[str], option: str = "output") -> None:
    """Write `text` to `path` so that the file is always either the old content or the whole new one.

    A regular file (or a new one) is written to a temporary file in the same folder,
    then renamed over the target; the temporary file goes away whatever happens,
    Ctrl-C and SIGTERM included. A symlink is written through to its target; a device
    or a FIFO (`/dev/null`, a pipe) is written to directly, never replaced.
    """
    target = Path(os.path.realpath(path))
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
