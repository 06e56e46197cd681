"""GitHub-flavoured Markdown, for a CI job summary."""

from __future__ import annotations

from convinspect.core.layer.report import Report
from convinspect.render import words
from convinspect.render.layer import story
from convinspect.render.layer.sections import Section, assemble


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _heading(report: Report, _diagram: bool) -> list[str]:
    return [
        f"### `{report.class_name}` {words.md_code(words.inert(report.name))}",
        "",
        f"Input `{words.shape_text(report.input_shape)}` → output `{words.shape_text(report.output_shape)}` "
        f"(engine: {report.engine}, {words.forward_text(report)})",
    ]


def _config(report: Report, _diagram: bool) -> list[str]:
    rows = (_row(k, f"`{v}`") for k, v in words.config_items(report))
    return ["", _row("option", "value"), _row("---", "---"), *rows]


def _before(report: Report, _diagram: bool) -> list[str]:
    why = f" {words.why_empty(report)}" if not report.variables_before else ""
    return ["", f"**Before the forward pass:** `{words.before_text(report)}`.{why}"]


def _after(report: Report, _diagram: bool) -> list[str]:
    rows = [
        _row(words.md_code(words.inert(v.path)), f"`{words.shape_text(v.shape)}`", v.dtype,
             "yes" if v.trainable else "no", words.thousands(v.params), words.human_bytes(v.bytes))
        for v in report.variables_after
    ]  # fmt: skip
    header = _row("path", "shape", "dtype", "trainable", "params", "bytes")
    return ["", "**After the forward pass:**", "", header, _row("---", "---", "---", "---", "---:", "---:"), *rows]


def _totals(report: Report, _diagram: bool) -> list[str]:
    arithmetic = words.arithmetic(report.variables_after, report.params.total)
    return ["", f"**Totals:** {words.totals_text(report)}  ", f"`{arithmetic}`"]


def _cost(report: Report, _diagram: bool) -> list[str]:
    return ["", f"**Cost:** {words.cost_text(report)}  ", *(f"{line}  " for line in words.cost_detail(report))]


def _memory(report: Report, _diagram: bool) -> list[str]:
    return ["", f"**Memory:** {words.memory_text(report)}  ", words.memory_detail(report)]


def _geometry(report: Report, _diagram: bool) -> list[str]:
    header = words.geometry_header(report.measures.geometry[0].transposed)
    return [
        "",
        "**Geometry:**",
        "",
        _row(*header),
        _row(*("---" if h in ("axis", "padding") else "---:" for h in header)),
        *(_row(*words.geometry_row(g)) for g in report.measures.geometry),
        "",
        *(f"- {words.geometry_formula(g)}" for g in report.measures.geometry),
    ]


def _layouts(report: Report, _diagram: bool) -> list[str]:
    rows = [
        _row(f"`{x.variable}`", f"`{words.shape_text(x.keras_shape)}` {', '.join(x.keras_axes)}",
             f"`{words.shape_text(x.torch_shape)}` {', '.join(x.torch_axes)}", f"`{words.conversion_text(x)}`")
        for x in report.measures.layouts
    ]  # fmt: skip
    modules = (f"- PyTorch: `{words.module_text(x)}`" for x in report.measures.layouts if x.torch_module)
    header = [_row("variable", "Keras", "PyTorch", "convert"), _row("---", "---", "---", "---")]
    return ["", "**Weight layouts:**", "", *header, *rows, "", *modules]


def _checks(report: Report, _diagram: bool) -> list[str]:
    if not report.checks:
        return []
    rows = [_row(c.name, f"`{words.value_text(c.expected)}`", f"`{words.value_text(c.actual)}`",
                 "✅ passed" if c.ok else "❌ failed") for c in report.checks]  # fmt: skip
    return ["", _row("check", "expected", "actual", "result"), _row("---", "---", "---", "---"), *rows]


def _runtime(report: Report, _diagram: bool) -> list[str]:
    warning = words.runtime_warning(report)
    return ["", f"> ⚠️ {warning}"] if warning else []


def _notes(report: Report, _diagram: bool) -> list[str]:
    notes = words.notes(report)
    return ["", *(f"> {note}  " for note in notes)] if notes else []


def _story(report: Report, _diagram: bool) -> list[str]:
    if not report.story:
        return []
    head, *steps = story.explain_lines(report)
    return ["", f"**{head}**", *(f"   - {line.strip()}" if line.startswith("   ") else line for line in steps)]


def _diagram(report: Report, diagram: bool) -> list[str]:
    if not diagram:
        return []
    from convinspect.render.layer.diagram import axis_diagram

    return [line for g in report.measures.geometry for line in ("", "```text", *axis_diagram(g), "```")]


def _nothing(_report: Report, _diagram: bool) -> list[str]:
    return []


_SECTIONS: dict[str, Section[str]] = {
    "heading": _heading,
    "config": _config,
    "shapes": _nothing,  # on the heading's line
    "before": _before,
    "after": _after,
    "totals": _totals,
    "cost": _cost,
    "memory": _memory,
    "geometry": _geometry,
    "layouts": _layouts,
    "checks": _checks,
    "runtime": _runtime,
    "notes": _notes,
    "story": _story,
    "diagram": _diagram,
}


def report_markdown(report: Report, diagram: bool = False) -> str:
    return "\n".join(assemble(_SECTIONS, report, diagram)) + "\n"
