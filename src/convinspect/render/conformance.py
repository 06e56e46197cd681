"""--backend all: the conformance table (Rich, Markdown, plain) and its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convinspect.core.commands.conformance import BackendRun, Conformance, RunStatus
from convinspect.core.layer.runtime import KernelSet
from convinspect.core.vocab.text import inert
from convinspect.render.words import shape_text

if TYPE_CHECKING:
    from rich.console import RenderableType

HEADER = ("backend", "runs", "output", "variables", "verify")


def _cells(run: BackendRun) -> list[str]:
    if not run.built:
        state = (
            run.error if run.status is RunStatus.MISSING else f"{run.status}" + (f": {run.error}" if run.error else "")
        )
        return [run.backend, "", "", "", inert(state or "")]
    variables = ", ".join(f"{inert(name)} {'×'.join(map(str, shape))}" for name, shape in run.variables or [])
    verify = run.verify
    if verify is None:
        checked = "not run"
    elif verify["ok"] is None:
        checked = f"skipped: {inert(str(verify['skipped']))}"
    else:
        checked = "ok" if verify["ok"] else f"FAILED ({verify['max_rel_error']:.2g})"
    output = shape_text(tuple(run.output_shape or ()))
    return [run.backend, "yes" if run.runs else "no", output, variables, checked]


def lines(result: Conformance) -> list[str]:
    """The sentences under the table: disagreements, findings, the verdict."""
    out = [f"disagree on {inert(d)}" for d in result.disagreements]
    for run in result.runs:
        if run.kernels is not None:
            kernels, because = KernelSet(run.kernels["kernels"]).label, inert(run.kernels["because"])
            out.append(f"{run.backend} used its {kernels} CPU kernels: {because}")
    for run in result.runs:
        verify = run.verify
        if verify is not None and verify["ok"] is False:
            out.append(f"{run.backend}: {inert(str(verify['finding']))}")
    present = len(result.present)
    verdict = {0: "conform", 1: "do not conform", 2: "all reject the layer", 3: "could not all run it"}[
        result.exit_code
    ]
    out.append(f"{present} of {len(result.runs)} backends installed; they {verdict} (exit {result.exit_code}); "
               "verify: max |error| / max |reference| against the float64 NumPy reference")  # fmt: skip
    return out


def conformance_table(result: Conformance) -> RenderableType:
    from rich import box  # Rich is imported only to draw a table: JSON and CSV never pay for it
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True,
                  title=f"{result.layer} on every Keras backend, input {shape_text(tuple(result.input_shape))}",
                  title_justify="left")  # fmt: skip
    for name in HEADER:
        table.add_column(name, overflow="fold")
    for run in result.runs:
        table.add_row(*(Text(cell) for cell in _cells(run)))
    return Group(table, *(Text(line) for line in lines(result)))


def conformance_markdown(result: Conformance) -> str:
    rows = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    rows += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(run)) + " |" for run in result.runs]
    title = f"### `{result.layer}` on every Keras backend, input `{shape_text(tuple(result.input_shape))}`"
    return title + "\n\n" + "\n".join(rows) + "\n\n" + "\n".join(f"- {line}" for line in lines(result)) + "\n"


def conformance_plain(result: Conformance) -> str:
    body = ["  ".join(HEADER)] + ["  ".join(_cells(run)) for run in result.runs]
    return "\n".join(body + lines(result)) + "\n"


def summary_line(result: Conformance) -> str:
    return lines(result)[-1]
