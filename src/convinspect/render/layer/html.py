"""The layer report as one self-contained HTML block: the lesson (no variables before the first call),
the variables after it, the totals, cost and memory, and the notes."""

from __future__ import annotations

from convinspect.core.layer.report import Report
from convinspect.render import html, words


def report_html(report: Report) -> str:
    rows = [
        (words.inert(v.path), words.shape_text(v.shape), v.dtype, "yes" if v.trainable else "no",
         words.thousands(v.params), words.human_bytes(v.bytes))
        for v in report.variables_after
    ]  # fmt: skip
    title = f"{report.class_name} '{words.inert(report.name)}' · engine: {report.engine} · {words.forward_text(report)}"
    parts = [
        f"<p>input {html.text(words.shape_text(report.input_shape))} → output "
        f"{html.text(words.shape_text(report.output_shape))}</p>",
        f"<p><b>Before the forward pass:</b> {html.text(words.before_text(report))}</p>",
        "<p><b>After the forward pass:</b></p>",
        html.table(("path", "shape", "dtype", "trainable", "params", "bytes"), rows, frozenset({4, 5})),
        f"<p><b>Totals:</b> {html.text(words.totals_text(report))}</p>",
        f"<p><b>Cost:</b> {html.text(words.cost_text(report))}</p>",
        f"<p><b>Memory:</b> {html.text(words.memory_text(report))}</p>",
    ]
    warning = words.runtime_warning(report)
    return html.block(title, parts, [*([warning] if warning else []), *(f"note: {n}" for n in words.notes(report))])
