"""The one output pipeline: any result, through its presenter (render/registry.py), in any of its formats,
to stdout or (atomically) to a file; then its lines on stderr and its exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from convinspect.core.checks.checkrun import EntryResult, Tally
from convinspect.core.vocab.choices import Format
from convinspect.core.vocab.text import for_encoding, inert, inert_lines, json_for_encoding
from convinspect.errors import ConvinspectError, InvalidInput, OutputError
from convinspect.files import write_atomically
from convinspect.progress import Bar
from convinspect.render.registry import FORMATS, Result, View, presenter
from convinspect.streams import say

__all__ = ["FORMATS", "emit", "fail", "output_target", "plain_text", "render", "silence_stdout", "verdict", "write",
           "write_check_stream", "write_stream"]  # fmt: skip
FILE_WIDTH = 120  # Rich tables written to a file: fixed width, no colour


def render(result: Result, fmt: Format, *, diagram: bool = False, at: tuple[int, ...] | None = None) -> Any:
    """Text for every format; a Rich renderable for a table.

    Renderers escape the untrusted text they place (names, paths); text formats other
    than JSON pass through `inert_lines` as well, so nothing raw reaches a terminal.
    """
    writers = presenter(result).writers
    if fmt not in writers:
        raise InvalidInput(f"{fmt} does not apply to this result; it is written as {', '.join(writers)}", "format")
    rendered = writers[fmt](result, View(diagram, at))
    if fmt in (Format.SVG, Format.HTML):  # markup: its writer escaped every name it placed
        return rendered
    return inert_lines(rendered) if isinstance(rendered, str) and fmt is not Format.JSON else rendered


def output_target(output: str | None) -> str | None:
    """`-o -` means standard output, as `-` does for `check`'s input."""
    return None if output == "-" else output


def write(result: Result, fmt: Format, output: str | None = None, *, diagram: bool = False,
          at: tuple[int, ...] | None = None) -> None:  # fmt: skip
    """Render `result` and write it to stdout, or to `output` followed by a summary line on stdout."""
    rendered = render(result, fmt, diagram=diagram, at=at)
    if output is None:
        emit(rendered if isinstance(rendered, str) else _terminal_text(rendered), json_text=fmt is Format.JSON)
        return
    text = rendered if isinstance(rendered, str) else plain_text(rendered)
    write_atomically(output, text)
    with contextlib.suppress(OutputError):  # the file holds the result; the summary is a courtesy
        emit(f"{presenter(result).summary(result)}; written to {inert(output)}\n")


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


class _Encoded:
    """A Rich renderable, drawn as the console's encoding can carry it: Rich writes box lines and
    glyphs that an ASCII stdout cannot take, so there the plain text gets ASCII stand-ins."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if console.encoding.lower().startswith("utf"):
            yield self.renderable
            return
        from rich.text import Text

        yield Text(for_encoding(plain_text(self.renderable, options.max_width), console.encoding))


def encoded(renderable: Any) -> Any:
    """`renderable` for any Rich console, whatever its encoding (rich.print of a summary)."""
    return _Encoded(renderable)


def plain_text(renderable: Any, width: int = FILE_WIDTH) -> str:
    """A Rich renderable as plain text `width` columns wide (a file, a notebook's text/plain)."""
    import io

    from rich.console import Console

    if isinstance(renderable, str):
        return renderable
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, soft_wrap=False, force_jupyter=False).print(renderable)
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


def verdict(result: Result, fmt: Format, target: str | None) -> int:
    """The lines on stderr and the exit code of a written result (`target`: its file, None for stdout)."""
    for line in presenter(result).notes(result, fmt, target):
        say(f"convinspect: {line}")
    return result.exit_code


def write_check_stream(results: Iterable[EntryResult], target: str | None, bar: Bar) -> int:
    """A check run's JSON, written as each entry's result arrives (then let go); its exit code."""
    from convinspect.render.checks import summary_line
    from convinspect.render.json import check_json_stream

    tally = Tally()
    if bar.shown:
        results = (bar.advance(r) for r in results)
    write_stream(check_json_stream(results, tally), target, lambda: summary_line(tally), json_text=True)
    return tally.exit_code
