"""What each result is written as: its writer per format, its one-line summary, and the lines it
leaves on stderr once written. One `Presenter` per result type, holding real functions.

Every result carries its own `exit_code` (the `Result` protocol); a presenter adds the words.
Rich is imported only by a table writer when it runs, so `--format json` never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from convinspect.core.checks.checkrun import CheckRun
from convinspect.core.checks.results import ModelResult
from convinspect.core.commands.conformance import Conformance, RunStatus
from convinspect.core.commands.solve import SolveResult
from convinspect.core.commands.sweep import Sweep
from convinspect.core.layer.report import Report
from convinspect.core.vocab.choices import Format
from convinspect.core.vocab.text import inert
from convinspect.errors import EXIT_INVALID, ConvinspectError
from convinspect.render import checks, conformance, json, model, solve, sweep, words
from convinspect.render.layer import markdown, plain

if TYPE_CHECKING:
    from rich.console import RenderableType


class Result(Protocol):
    """What every command's result says for itself: how the command ends."""

    @property
    def exit_code(self) -> int: ...


R = TypeVar("R", contravariant=True)
T = TypeVar("T")


@dataclass(frozen=True)
class View:
    """How the reader asked to see a result, beyond its format."""

    diagram: bool = False  # --diagram (build), --explain (solve)
    at: tuple[int, ...] | None = None  # the cell a figure follows (build --format svg --at)


Writer = Callable[[T, View], Any]  # (result, view) -> text, or a Rich renderable for a table


@dataclass(frozen=True)
class Presenter(Generic[R]):
    writers: Mapping[Format, Writer[R]]
    summary: Callable[[R], str]  # the line on the terminal when the result goes to a file
    # The lines on stderr once the result is written in `fmt` (to `target`, None for stdout).
    notes: Callable[[R, Format, str | None], list[str]]


def _alone(write: Callable[[T], Any]) -> Writer[T]:
    """A writer that takes no --diagram / --explain."""
    return lambda result, _view: write(result)


def _flagged(write: Callable[[T, bool], Any]) -> Writer[T]:
    """A writer that takes --diagram (or solve's --explain)."""
    return lambda result, view: write(result, view.diagram)


def _report_table(report: Report, view: View) -> RenderableType:
    from convinspect.render.layer.table import report_table  # Rich, on demand

    return report_table(report, view.diagram)


def _report_page(report: Report, _view: View) -> str:
    from convinspect.render.page import layer_page

    return layer_page(report)


def _check_page(run: CheckRun) -> str:
    from convinspect.render.page import check_page

    return check_page(run)


def _model_page(result: ModelResult) -> str:
    from convinspect.render.page import model_page

    return model_page(result)


def _report_svg(report: Report, view: View) -> str:
    from convinspect.render.layer.svg import report_svg

    return report_svg(report, view.at)


def _report_notes(report: Report, fmt: Format, target: str | None) -> list[str]:
    """The CPU-kernel warning where the format does not carry it, then each failed check and a
    failed verification; a crashed forward pass says no more (the environment failed, not the layer)."""
    warning = words.runtime_warning(report)
    out = [warning] if warning and (fmt is Format.JSON or target is not None) else []
    if report.runtime.crashed and report.runtime.observed:
        return out
    out += [f"check failed: {words.check_text(c)}" for c in report.checks if not c.ok]
    if report.verification is not None and report.verification.ok is False:
        out.append(words.verify_text(report.verification))
    return out


def _model_notes(result: ModelResult, fmt: Format, target: str | None) -> list[str]:
    warning = model.runtime_warning(result.report)
    out = [warning] if warning and (fmt in (Format.JSON, Format.CSV) or target is not None) else []
    out += [f"check failed: {words.check_text(c)}" for c in result.checks if not c.ok]
    if result.changes:
        out.append(f"{len(result.changes)} layer change(s) against {result.against}")
    return out


def _conformance_notes(result: Conformance, _fmt: Format, _target: str | None) -> list[str]:
    if result.exit_code == EXIT_INVALID:  # the layer itself is wrong: one error line, as build gives
        first = next(run for run in result.present if run.status is RunStatus.INVALID)
        raise ConvinspectError(f"every installed backend rejects the layer: {first.error}")
    if not result.exit_code:
        return []
    failing = [f"{run.backend} {run.status}" + (f" ({run.error})" if run.error else "")
               for run in result.runs if run.status in (RunStatus.FAILED, RunStatus.ERROR)]  # fmt: skip
    return [f"the backends do not conform: {'; '.join(failing + result.disagreements)}"]


def _solve_notes(result: SolveResult, _fmt: Format, _target: str | None) -> list[str]:
    return [] if result.solutions else ["no solution within the bounds"]


def _sweep_notes(result: Sweep, _fmt: Format, _target: str | None) -> list[str]:
    return [f"error: {inert(line)}" for line in sorted({row.error for row in result.rows if row.error})]


def _no_notes(_result: object, _fmt: Format, _target: str | None) -> list[str]:
    return []


PRESENTERS: Mapping[type, Presenter[Any]] = {
    Report: Presenter[Report](
        {Format.TABLE: _report_table, Format.JSON: _flagged(json.report_json),
         Format.MARKDOWN: _flagged(markdown.report_markdown), Format.PLAIN: _flagged(plain.report_plain),
         Format.SVG: _report_svg, Format.HTML: _report_page},
        words.report_summary, _report_notes),
    CheckRun: Presenter[CheckRun](
        {Format.TABLE: _alone(checks.check_table), Format.JSON: _alone(json.check_json),
         Format.JUNIT: _alone(checks.check_junit), Format.GITHUB: _alone(checks.check_github),
         Format.MARKDOWN: _alone(checks.check_markdown), Format.HTML: _alone(_check_page)},
        checks.summary_line, _no_notes),
    Sweep: Presenter[Sweep](
        {Format.TABLE: _alone(sweep.sweep_table), Format.JSON: _alone(json.sweep_json),
         Format.CSV: _alone(sweep.sweep_csv)},
        sweep.summary_line, _sweep_notes),
    ModelResult: Presenter[ModelResult](
        {Format.TABLE: _alone(model.model_table), Format.JSON: _alone(json.model_json),
         Format.MARKDOWN: _alone(model.model_markdown), Format.CSV: _alone(model.model_csv),
         Format.HTML: _alone(_model_page)},
        model.summary_line, _model_notes),
    SolveResult: Presenter[SolveResult](
        {Format.TABLE: _flagged(solve.solve_text), Format.JSON: _alone(json.solve_json),
         Format.MARKDOWN: _flagged(solve.solve_markdown)},
        solve.summary_line, _solve_notes),
    Conformance: Presenter[Conformance](
        {Format.TABLE: _alone(conformance.conformance_table), Format.JSON: _alone(json.conformance_json),
         Format.MARKDOWN: _alone(conformance.conformance_markdown),
         Format.PLAIN: _alone(conformance.conformance_plain)},
        conformance.summary_line, _conformance_notes),
}  # fmt: skip


def presenter(result: object) -> Presenter[Any]:
    """The presenter of the result's type, or of the type it extends (a notebook summary is a report)."""
    return next(PRESENTERS[cls] for cls in type(result).__mro__ if cls in PRESENTERS)


# Each command's formats, from what its results can be written as (model --layer writes a build report).
FORMATS: Mapping[str, tuple[Format, ...]] = {
    "build": tuple(PRESENTERS[Report].writers),
    "check": tuple(PRESENTERS[CheckRun].writers),
    "sweep": tuple(PRESENTERS[Sweep].writers),
    "model": (*PRESENTERS[ModelResult].writers, Format.PLAIN),
    "solve": tuple(PRESENTERS[SolveResult].writers),
}
