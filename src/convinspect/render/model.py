"""A model report as a Rich table (80 columns), Markdown and CSV, with the same notes under each."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from convinspect.core.checks.results import ModelResult
from convinspect.core.checks.snapshot import Change
from convinspect.core.layer.runtime import Rule, Runtime
from convinspect.core.model.report import LayerRow, ModelReport, ReceptiveField
from convinspect.core.model.source import SourceKind
from convinspect.core.vocab.text import inert
from convinspect.render.words import check_text, human_bytes, md_code, thousands, value_text

if TYPE_CHECKING:
    from rich.console import RenderableType

_SI = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def compact(count: int | None) -> str:
    """118.0M, 3.86G: MACs at a glance (exact figures are in JSON and Markdown)."""
    if count is None:
        return "?"
    for scale, unit in _SI:
        if count >= scale:
            return f"{count / scale:.3g}{unit}" if count < 100 * scale else f"{count / scale:.0f}{unit}"
    return str(count)


def shape_cell(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "?"
    return "×".join("?" if d is None else str(d) for d in shape)


def output_cell(row: LayerRow) -> str:
    """The output column: a held layer the model never calls has none."""
    return "not called" if row.calls == 0 else shape_cell(row.output_shape)


def _memory_cell(row: LayerRow) -> str:
    unknown = row.activation_bytes is None or row.outputs is None or not row.calls
    return "" if unknown else human_bytes(row.activation_bytes)  # type: ignore[arg-type]


def field_text(field: ReceptiveField | None) -> str:
    if field is None:
        return ""
    if field.whole:
        return "whole input"
    sizes = "×".join(str(f.size) for _, f in field.axes)
    jumps = {f.jump for _, f in field.axes}
    jump = "×".join(str(f.jump) for _, f in field.axes) if len(jumps) > 1 else str(jumps.pop())
    return f"{sizes} /{jump}"


def variables_text(row: LayerRow) -> str:
    """`kernel 3×3×1×32, bias 32`: a conv row's variable shapes."""
    return ", ".join(f"{inert(w.name)} {shape_cell(w.shape)}" for w in row.weights)


def visible(result: ModelResult) -> list[LayerRow]:
    """The rows --depth keeps: nested rows deeper than it fold into their model's row."""
    if result.depth is None:
        return list(result.report.rows)
    return [row for row in result.report.rows if row.depth <= result.depth]


def _params_cell(row: LayerRow) -> str:
    if row.outputs is None:
        return "0 (unbuilt)"
    if row.shared:
        return "shared"
    return thousands(row.params.total)


def notes(result: ModelResult) -> list[str]:
    """The sentences under the table: totals, batch, conventions, lazy build, shared layers, checks."""
    report, t = result.report, result.report.totals
    lines = []
    p = t.params
    lines.append(
        f"Params: {thousands(p.total)} ({human_bytes(t.bytes)}): trainable {thousands(p.trainable)}, "
        f"non-trainable {thousands(p.non_trainable)}"
        + ("; bytes by dtype: " + ", ".join(f"{k} {human_bytes(v)}" for k, v in t.bytes_by_dtype.items())
           if len(t.bytes_by_dtype) > 1 else "")
    )  # fmt: skip
    if report.built:
        per = "per example (the batch is unknown)" if not report.batch_known else "for the whole batch"
        flops = "?" if t.flops is None else thousands(t.flops)
        lines.append(
            f"MACs: {'?' if t.macs is None else thousands(t.macs)}, bias adds "
            f"{'?' if t.bias_adds is None else thousands(t.bias_adds)}, FLOPs {flops}, {per}. "
            "MACs count the conv layers, Dense, recurrent layers and attention; normalisation, pooling, activations "
            "and merges are not counted."
        )
        if t.macs is None:
            lines.append(f"Some inputs have an unknown spatial size ('?'): give {_input(report)} to count their MACs.")
    lines.extend(lazy_story(report))
    for row in report.shared:
        lines.append(
            f"Shared: {inert(row.qualified)} is called {row.calls} times; its {thousands(row.params.total)} "
            "parameters are counted once, its MACs at every call."
        )
    if report.agreed_with is not None:
        lines.append(f"The {report.agreed_with} engine agrees on every layer's output shape and variables.")
    unsized = [row for row in report.rows if not row.sized]
    if unsized:
        lines.append(
            f"{len(unsized)} layer(s) have no analytic rule (first: {inert(unsized[0].qualified)}, "
            f"{inert(unsized[0].class_name)}): their shapes and variables are Keras' own; their MACs are those of "
            "the conv and Dense sublayers Keras was seen calling."
        )
    lines.extend(incomplete_lines(report))
    warning = runtime_warning(report)
    if warning:
        lines.append(warning)
    lines.extend(training_lines(report))
    for check in result.checks:
        lines.append(f"check {check_text(check)}: {'passed' if check.ok else 'FAILED'}")
    if result.changes is not None:
        lines.extend(change_lines(result))
    return lines


_BATCH_FROM = {
    "option": "as asked",
    "input": "the input's",
    "default": "fit()'s default",
    "fit": "the largest that fits",
}


def training_lines(report: ModelReport) -> list[str]:
    """The train step's memory in words: the parts, the peak and where, XLA's figure, what is missing."""
    memory = report.training
    if memory is None:
        return []
    choice = memory.optimizer
    options = ", ".join(f"{k}={v}" for k, v in choice.options.items() if v not in (False, 0, ""))
    optimizer = (
        choice.name + (f" ({options})" if options else "") + (" in a LossScaleOptimizer" if choice.loss_scale else "")
    )
    where = f" at {inert(memory.peak_at)} ({memory.peak_pass} pass)" if memory.peak_at else ""
    lines = [
        f"Training, one step of {optimizer} at batch {thousands(memory.batch)} ({_BATCH_FROM[memory.batch_from]}): "
        f"weights {human_bytes(memory.weights)}, gradients {human_bytes(memory.gradients)}, optimizer state "
        f"{human_bytes(memory.optimizer_bytes)}, activations kept for the backward pass "
        f"{_bytes_text(memory.activations)}, batch and targets {_bytes_text(memory.data)}; predicted peak "
        f"{_bytes_text(memory.peak)}{where}."
    ]  # fmt: skip
    if memory.fit is not None:
        lines.append(f"Fit: batch {thousands(memory.batch)} is the largest whose predicted peak fits in "
                     f"{human_bytes(memory.fit)}.")  # fmt: skip
    measured = memory.measured
    if measured is not None:
        error = memory.error
        gap = "" if error is None else f"; the prediction is {error * 100:+.1f}%"
        lines.append(
            f"Measured by XLA (Keras' JAX backend, compiled in {measured['compile_seconds']:.1f} s): peak "
            f"{human_bytes(measured['peak'])} = arguments {human_bytes(measured['arguments'])} + outputs "
            f"{human_bytes(measured['outputs'])} - aliased {human_bytes(measured['aliased'])} + temporaries "
            f"{human_bytes(measured['temporaries'])}{gap}."
        )
    if memory.unruled:
        named = ", ".join(inert(k) for k in memory.unruled[:5]) + (
            f" and {len(memory.unruled) - 5} more" if len(memory.unruled) > 5 else ""
        )
        lines.append(f"Training memory is incomplete: no activation rule for {len(memory.unruled)} layer call(s) "
                     f"({named}); the activations and peak leave them out.")  # fmt: skip
    return lines


def _bytes_text(count: int | None) -> str:
    return "?" if count is None else human_bytes(count)


def incomplete_lines(report: ModelReport) -> list[str]:
    """The gap, said: which rows' MACs leave work out, and what."""
    rows = [row for row in report.rows if not row.container and row.uncounted]
    if not rows:
        return []
    named = "; ".join(
        f"{inert(row.key)} ({inert(row.class_name)})"
        + ("" if row.uncounted == (row.name,) else ": " + ", ".join(inert(n) for n in row.uncounted[:3])
           + (f" and {len(row.uncounted) - 3} more" if len(row.uncounted) > 3 else ""))
        for row in rows[:5]
    )  # fmt: skip
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return [f"MACs are incomplete: the total leaves out work no rule counts, in {len(rows)} layer(s): {named}{more}."]


def runtime_warning(report: ModelReport) -> str | None:
    """One line when TensorFlow's CPU kernels would refuse some conv layers: which, why, what would work."""
    runtime = report.runtime
    if runtime is None or runtime.runs:
        return None
    by_rule: dict[Rule, list[str]] = {}
    for key, rule in runtime.refused:
        by_rule.setdefault(rule, []).append(key)
    convs = sum(1 for row in report.rows if row.conv is not None)
    parts = []
    for rule, keys in by_rule.items():
        spec = next(row.conv for row in report.rows if row.key == keys[0])
        assert spec is not None
        choice = runtime.kernels[spec.compute_dtype]
        named = ", ".join(inert(k) for k in keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        remedy = Runtime(False, False, rule, kernels=choice).remedy
        parts.append(f"{named} ({rule}, on its {choice.kernels.label} kernels: {inert(choice.because)}; "
                     f"they would run with {remedy})")  # fmt: skip
    return (f"warning: TensorFlow on the CPU would not run {len(runtime.refused)} of {convs} conv layer calls "
            f"(predicted from their configuration): {'; '.join(parts)}")  # fmt: skip


def _input(report: ModelReport, value: str = "") -> str:
    """How the reader gives an input shape: convinspect.summary's argument, or the command line's option."""
    return "input_shape" if report.source.kind is SourceKind.LIVE else f"--input{value}"


def lazy_story(report: ModelReport) -> list[str]:
    if not report.lazy:
        return []
    if not report.built:
        return [
            "The model has no input shape, so Keras has created no variables yet: summary() shows every "
            f"output shape as '?' and params as '0 (unbuilt)'. Give {_input(report, ' SHAPE')} to build it."
        ]
    owners = [row for row in report.rows if row.weights]
    listed = "; ".join(
        f"{inert(row.qualified)}: " + ", ".join(f"{inert(w.name)} {value_text(list(w.shape))}" for w in row.weights)
        for row in owners[:6]
    ) + (f"; and {len(owners) - 6} more layers" if len(owners) > 6 else "")
    shape = report.input_shapes[0]
    return [
        f"Before it was built: {report.variables_before} variables (the configuration has no input shape). "
        f"Built for input {value_text(None if shape is None else list(shape))}: {report.variable_count} variables "
        f"in {len(owners)} layers. {listed}."
    ]


def change_lines(result: ModelResult) -> list[str]:
    if not result.changes:
        return [f"Snapshot: no layer changed against {inert(result.against or '')}."]
    lines = [f"Snapshot: {len(result.changes)} change(s) against {inert(result.against or '')}:"]
    lines.extend("  " + change_text(change) for change in result.changes)
    return lines


def change_text(change: Change) -> str:
    if change.change == "changed":
        return f"changed {inert(change.layer)} {change.field}: {value_text(change.old)} -> {value_text(change.new)}"
    return f"{change.change} {inert(change.layer)} ({inert(str(change.layer_class))})"


def model_table(result: ModelResult) -> RenderableType:
    from rich import box  # Rich is imported only to draw a table: JSON and CSV never pay for it
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    report = result.report
    title = f"{inert(report.name)} ({inert(report.class_name)}) · {report.engine} engine"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True,
                  title=title, title_justify="left")  # fmt: skip
    if report.training is not None:
        return Group(_training_table(result, table), *(Text(line) for line in notes(result)))
    table.add_column("Layer (type)", overflow="fold", ratio=1)
    table.add_column("Output", overflow="fold")
    table.add_column("Params", justify="right", no_wrap=True)
    table.add_column("Frozen", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("Memory", justify="right", no_wrap=True)
    for row in visible(result):
        name = Text("  " * row.depth + inert(row.name), style="bold" if row.container else "")
        name.append(f" ({inert(row.class_name)})", style="dim")
        if row.conv is not None and row.weights:
            name.append("\n" + "  " * row.depth + "  " + variables_text(row), style="dim")
        frozen = (
            ""
            if row.outputs is None or row.call
            else thousands(row.params.non_trainable)
            if row.params.non_trainable
            else ""
        )
        memory = _memory_cell(row)
        macs = compact(row.macs) if row.macs else ("?" if row.macs is None else "")
        if not row.complete:
            macs = f"{macs}+?" if row.macs else "not counted"
        table.add_row(name, output_cell(row), _params_cell(row), frozen, macs, memory)
    return Group(table, *(Text(line) for line in notes(result)))


TRAINING_HEADER = ("Weights", "Grads", "Optimizer", "Kept", "Peak")


def training_cells(report: ModelReport, row: LayerRow) -> tuple[str, ...]:
    """A row's train-step memory: its weights, their gradients and optimizer state, the activations it
    keeps for the backward pass, and the step's memory in use while it runs."""
    memory = report.training
    part = None if memory is None else memory.rows.get(row.key)
    if part is None:
        return ("",) * 5
    owned = [short_bytes(v) if v else "" for v in (part.weights, part.gradients, part.optimizer)]
    kept = "?" if part.activations is None else short_bytes(part.activations) if part.activations else ""
    if row.keeps is None and not row.container:
        kept = "no rule"
    return (*owned, kept, "?" if part.peak is None else short_bytes(part.peak))


def short_bytes(count: int) -> str:
    """Three significant digits in binary units: `620 KiB`, `1.14 MiB`, `16.6 MiB` (JSON has the bytes)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 999.5 or unit == "PiB":
            return f"{count} B" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _training_table(result: ModelResult, table: Any) -> Any:
    from rich.text import Text

    table.add_column("Layer (type)", overflow="fold", ratio=1)
    for header in TRAINING_HEADER:
        table.add_column(header, justify="right", no_wrap=True)
    for row in visible(result):
        name = Text("  " * row.depth + inert(row.name), style="bold" if row.container else "")
        name.append(f" ({inert(row.class_name)})", style="dim")
        table.add_row(name, *training_cells(result.report, row))
    return table


def model_markdown(result: ModelResult) -> str:
    report = result.report
    lines = [f"### {md_code(report.name)} ({report.class_name}), {report.engine} engine", ""]
    training = report.training is not None
    extra = " weights | gradients | optimizer | kept | peak |" if training else ""
    lines.append(
        "| layer | class | output shape | params | non-trainable | MACs | memory | receptive field | variables |"
        + extra
    )
    lines.append("|---|---|---|---:|---:|---:|---:|---|---|" + "---:|" * (5 if training else 0))
    for row in visible(result):
        cells = [
            ("&nbsp;&nbsp;" * row.depth) + md_code(row.name),
            md_code(row.class_name),
            md_code(output_cell(row)),
            _params_cell(row),
            thousands(row.params.non_trainable) if row.call == 0 else "",
            ("?" if row.macs is None else thousands(row.macs)) + ("" if row.complete else " + not counted"),
            "" if row.activation_bytes is None else human_bytes(row.activation_bytes),
            field_text(row.receptive_field),
            md_code(variables_text(row)) if row.weights else "",
        ]
        if training:
            cells.extend(_training_bytes(report, row))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")  # even in code spans
    lines.append("")
    lines.extend(f"- {md_escape(line)}" for line in notes(result))
    return "\n".join(lines) + "\n"


def model_html(result: ModelResult) -> str:
    """The model table as one self-contained HTML block: every row and figure, nothing cut."""
    from convinspect.render import html

    report = result.report
    header: tuple[str, ...] = ("Layer", "Class", "Output", "Params", "Non-trainable", "MACs", "Memory",
                               "Receptive field", "Variables")  # fmt: skip
    rows = [_html_cells(row) for row in visible(result)]
    if report.training is not None:
        header += ("Weights", "Gradients", "Optimizer", "Kept", "Peak")
        rows = [cells + training_cells(report, row) for cells, row in zip(rows, visible(result), strict=True)]
    title = f"{inert(report.name)} ({inert(report.class_name)}) · {report.engine} engine"
    numeric = frozenset({3, 4, 5, 6, 9, 10, 11, 12, 13})
    return html.block(title, [html.table(header, rows, numeric)], notes(result))


def _html_cells(row: LayerRow) -> tuple[str, ...]:
    nbsp = "\u00a0"
    return (
        nbsp * 2 * row.depth + inert(row.name), inert(row.class_name), output_cell(row), _params_cell(row),
        thousands(row.params.non_trainable) if row.call == 0 and row.params.non_trainable else "",
        ("?" if row.macs is None else thousands(row.macs)) + ("" if row.complete else " + not counted"),
        _memory_cell(row),
        field_text(row.receptive_field), variables_text(row) if row.weights else "",
    )  # fmt: skip


def _training_bytes(report: ModelReport, row: LayerRow) -> list[str]:
    """A row's train-step memory as exact byte counts (Markdown and CSV)."""
    part = None if report.training is None else report.training.rows.get(row.key)
    if part is None:
        return [""] * 5
    values = (part.weights, part.gradients, part.optimizer, part.activations, part.peak)
    return ["" if v is None else str(v) for v in values]


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("*", "\\*").replace("_", "\\_")


CSV_COLUMNS = (
    "path", "class", "call", "output_shape", "trainable", "non_trainable", "macs", "bias_adds",
    "activation_bytes", "receptive_field", "macs_complete",
)  # fmt: skip


TRAINING_CSV = ("training_weights", "training_gradients", "training_optimizer", "training_activations",
                "training_peak")  # fmt: skip


def model_csv(result: ModelResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    training = result.report.training is not None
    writer.writerow(CSV_COLUMNS + (TRAINING_CSV if training else ()))
    for row in visible(result):
        extra = _training_bytes(result.report, row) if training else []
        writer.writerow(
            [
                _cell(row.qualified),
                _cell(row.class_name),
                row.call,
                output_cell(row),
                row.params.trainable,
                row.params.non_trainable,
                "" if row.macs is None else row.macs,
                "" if row.bias_adds is None else row.bias_adds,
                "" if row.activation_bytes is None else row.activation_bytes,
                field_text(row.receptive_field),
                str(row.complete).lower(),
                *extra,
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ is read as text."""
    text = inert(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def summary_line(result: ModelResult) -> str:
    report = result.report
    t = report.totals
    macs = compact(t.macs) + ("" if t.complete else " (incomplete)")
    text = f"{inert(report.name)}: {len(report.rows)} rows, {thousands(t.params.total)} params, MACs {macs}"
    if report.training is not None:
        text += f", training peak {_bytes_text(report.training.peak)} at batch {thousands(report.training.batch)}"
    failed = sum(1 for c in result.checks if not c.ok)
    if failed:
        text += f", {failed} check(s) failed"
    if result.changes:
        text += f", {len(result.changes)} change(s) against the snapshot"
    return text
