"""Rich renderables for the terminal; fits 80 columns."""

from __future__ import annotations

import re

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from convinspect.core.layer.report import Report
from convinspect.render import words
from convinspect.render.layer import story
from convinspect.render.layer.sections import Section, assemble


def _config_grid(report: Report) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(2):
        grid.add_column(style="cyan", no_wrap=True)
        grid.add_column()
    items = words.config_items(report)
    half = (len(items) + 1) // 2
    left, right = items[:half], items[half:]
    for i, (key, value) in enumerate(left):
        other = right[i] if i < len(right) else ("", "")
        grid.add_row(*(Text(cell) for cell in (key, value, *other)))
    return grid


def _variables_table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("path", style="bold")
    table.add_column("shape")
    table.add_column("dtype")
    table.add_column("trainable")
    table.add_column("params", justify="right")
    table.add_column("bytes", justify="right")
    for v in report.variables_after:
        cells = (words.inert(v.path), words.shape_text(v.shape), v.dtype, "yes" if v.trainable else "no",
                 words.thousands(v.params), words.human_bytes(v.bytes))  # fmt: skip
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _checks_table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title="checks", title_justify="left")
    for column in ("check", "expected", "actual", "result"):
        table.add_column(column)
    for c in report.checks:
        result = Text("passed", style="green") if c.ok else Text("FAILED", style="bold red")
        table.add_row(Text(c.name), Text(words.value_text(c.expected)), Text(words.value_text(c.actual)), result)
    return table


def _compact(title: str) -> Table:
    """A borderless table with one space between columns."""
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True,
                 title=title, title_justify="left")  # fmt: skip


def _aside(line: str) -> Padding:
    """A dim, indented line that keeps its indent when it wraps."""
    return Padding(Text(line, style="dim"), (0, 0, 0, 2))


def _geometry_table(report: Report) -> Table:
    geometry = report.measures.geometry
    table = _compact("geometry")
    for column in words.geometry_header(geometry[0].transposed):
        # Only the crop cell ("0+0, +2 after") may wrap: truncating would hide numbers.
        table.add_column(column, justify="left" if column in ("axis", "padding") else "right", no_wrap=column != "crop")
    for g in geometry:
        table.add_row(*(Text(cell) for cell in words.geometry_row(g)))
    return table


def _layouts_table(report: Report) -> Table:
    table = _compact("weight layouts")
    for column in ("variable", "Keras", "PyTorch", "convert (NumPy)"):
        table.add_column(column, overflow="fold")
    for layout in report.measures.layouts:
        table.add_row(
            layout.variable,
            Text.assemble(words.shape_text(layout.keras_shape), "\n", (",".join(layout.keras_axes), "dim")),
            Text.assemble(words.shape_text(layout.torch_shape), "\n", (",".join(layout.torch_axes), "dim")),
            Text("\n".join(words.conversion_steps(layout, ",")) or "as is"),
        )
    return table


def _diagram(report: Report) -> list[RenderableType]:
    from convinspect.render.layer import diagram as d

    parts: list[RenderableType] = []
    styles = {d.TAP: "bold cyan", d.PAD: "dim", d.UNREAD: "bold red", d.EXTRA: "yellow", d.GAP: "cyan"}
    for g in report.measures.geometry:
        lines = d.axis_diagram(g)
        parts += [Text(), Text(lines[0], style="bold")]
        for line in lines[1:-1]:
            text = Text(line)
            for glyph, style in styles.items():
                text.highlight_regex(re.escape(glyph), style)
            parts.append(text)
        parts.append(Text(lines[-1], style="dim"))
    return parts


def _heading(report: Report, _diagram: bool) -> list[RenderableType]:
    title = Text.assemble(
        (report.class_name, "bold magenta"), f" '{words.inert(report.name)}'  ",
        (f"engine: {report.engine} · {words.forward_text(report)}", "dim"),
    )  # fmt: skip
    return [title]


def _shapes(report: Report, _diagram: bool) -> list[RenderableType]:
    return [Text.assemble(
        "input ", (words.shape_text(report.input_shape), "bold"), "  →  output ",
        (words.shape_text(report.output_shape), "bold green"),
    )]  # fmt: skip


def _before(report: Report, _diagram: bool) -> list[RenderableType]:
    parts: list[RenderableType] = [
        Text(),
        Text.assemble(("Before the forward pass: ", "bold"), words.before_text(report)),
    ]
    if not report.variables_before:
        parts.append(Padding(Text(words.why_empty(report), style="italic"), (0, 0, 0, 2)))
    return parts


def _totals(report: Report, _diagram: bool) -> list[RenderableType]:
    return [
        Text.assemble(("Totals: ", "bold"), words.totals_text(report)),
        Text("  " + words.arithmetic(report.variables_after, report.params.total), style="yellow"),
    ]


def _cost(report: Report, _diagram: bool) -> list[RenderableType]:
    return [Text(), Text.assemble(("Cost: ", "bold"), words.cost_text(report)),
            *(_aside(line) for line in words.cost_detail(report))]  # fmt: skip


def _memory(report: Report, _diagram: bool) -> list[RenderableType]:
    return [Text.assemble(("Memory: ", "bold"), words.memory_text(report)), _aside(words.memory_detail(report))]


def _geometry(report: Report, _diagram: bool) -> list[RenderableType]:
    return [Text(), _geometry_table(report), *(_aside(words.geometry_formula(g)) for g in report.measures.geometry)]


def _layouts(report: Report, _diagram: bool) -> list[RenderableType]:
    modules = (_aside("PyTorch: " + words.module_text(x)) for x in report.measures.layouts if x.torch_module)
    return [Text(), _layouts_table(report), *modules]


def _runtime(report: Report, _diagram: bool) -> list[RenderableType]:
    warning = words.runtime_warning(report)
    return [Text(warning, style="bold yellow")] if warning else []


def _story(report: Report, _diagram: bool) -> list[RenderableType]:
    if not report.story:
        return []
    lines = story.explain_lines(report)
    return [Text(), Text(lines[0], style="bold"), *(_step_line(line) for line in lines[1:])]


_SECTIONS: dict[str, Section[RenderableType]] = {
    "heading": _heading,
    "config": lambda report, _: [_config_grid(report)],
    "shapes": _shapes,
    "before": _before,
    "after": lambda report, _: [Text(), Text("After the forward pass:", style="bold"), _variables_table(report)],
    "totals": _totals,
    "cost": _cost,
    "memory": _memory,
    "geometry": _geometry,
    "layouts": _layouts,
    "checks": lambda report, _: [Text(), _checks_table(report)] if report.checks else [],
    "runtime": _runtime,
    "notes": lambda report, _: [Text(f"note: {note}", style="dim") for note in words.notes(report)],
    "story": _story,
    "diagram": lambda report, diagram: list(_diagram(report)) if diagram else [],
}


def report_table(report: Report, diagram: bool = False) -> RenderableType:
    return Group(*assemble(_SECTIONS, report, diagram))


def _step_line(line: str) -> RenderableType:
    """Numbered step headings in bold; their details indented so wrapped lines stay under them."""
    if line[:1].isdigit():
        return Text(line, style="bold cyan")
    return Padding(Text(line.strip()), (0, 0, 0, 3)) if line else Text()
