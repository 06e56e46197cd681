"""GitHub-flavoured Markdown, for a CI job summary."""

from __future__ import annotations

from convinspect.core.layer.report import Report
from convinspect.render import story, words


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def report_markdown(report: Report, diagram: bool = False) -> str:
    p = report.params
    out = [
        f"### `{report.class_name}` {words.md_code(words.inert(report.name))}",
        "",
        f"Input `{words.shape_text(report.input_shape)}` → output `{words.shape_text(report.output_shape)}` "
        f"(engine: {report.engine}, {words.forward_text(report)})",
        "",
        _row("option", "value"),
        _row("---", "---"),
        *(_row(k, f"`{v}`") for k, v in words.config_items(report)),
        "",
        f"**Before the forward pass:** `{words.before_text(report)}`. {words.why_empty(report)}"
        if not report.variables_before
        else f"**Before the forward pass:** `{words.before_text(report)}`.",
        "",
        "**After the forward pass:**",
        "",
        _row("path", "shape", "dtype", "trainable", "params", "bytes"),
        _row("---", "---", "---", "---", "---:", "---:"),
    ]
    for v in report.variables_after:
        out.append(
            _row(words.md_code(words.inert(v.path)), f"`{words.shape_text(v.shape)}`", v.dtype,
                 "yes" if v.trainable else "no", words.thousands(v.params), words.human_bytes(v.bytes))
        )  # fmt: skip
    out += [
        "",
        f"**Totals:** {words.totals_text(report)}  ",
        f"`{words.arithmetic(report.variables_after, p.total)}`",
    ]
    header = words.geometry_header(report.measures.geometry[0].transposed)
    out += [
        "",
        f"**Cost:** {words.cost_text(report)}  ",
        *(f"{line}  " for line in words.cost_detail(report)),
        "",
        f"**Memory:** {words.memory_text(report)}  ",
        words.memory_detail(report),
        "",
        "**Geometry:**",
        "",
        _row(*header),
        _row(*("---" if h in ("axis", "padding") else "---:" for h in header)),
        *(_row(*words.geometry_row(g)) for g in report.measures.geometry),
    ]
    out += ["", *(f"- {words.geometry_formula(g)}" for g in report.measures.geometry)]
    out += [
        "",
        "**Weight layouts:**",
        "",
        _row("variable", "Keras", "PyTorch", "convert"),
        _row("---", "---", "---", "---"),
    ]
    for x in report.measures.layouts:
        out.append(_row(f"`{x.variable}`", f"`{words.shape_text(x.keras_shape)}` {', '.join(x.keras_axes)}",
                        f"`{words.shape_text(x.torch_shape)}` {', '.join(x.torch_axes)}",
                        f"`{words.conversion_text(x)}`"))  # fmt: skip
    out += ["", *(f"- PyTorch: `{words.module_text(x)}`" for x in report.measures.layouts if x.torch_module)]
    if report.checks:
        out += ["", _row("check", "expected", "actual", "result"), _row("---", "---", "---", "---")]
        for c in report.checks:
            out.append(_row(c.name, f"`{words.value_text(c.expected)}`", f"`{words.value_text(c.actual)}`",
                            "✅ passed" if c.ok else "❌ failed"))  # fmt: skip
    warning = words.runtime_warning(report)
    if warning:
        out += ["", f"> ⚠️ {warning}"]
    if words.notes(report):
        out += ["", *(f"> {note}  " for note in words.notes(report))]
    if report.story:
        head, *steps = story.explain_lines(report)
        out += ["", f"**{head}**", *(f"   - {line.strip()}" if line.startswith("   ") else line for line in steps)]
    if diagram:
        from convinspect.render.diagram import axis_diagram

        for g in report.measures.geometry:
            out += ["", "```text", *axis_diagram(g), "```"]
    return "\n".join(out) + "\n"
