"""A sweep -> table, JSON or CSV."""

from __future__ import annotations

import csv
import io

from convinspect.core.commands.sweep import Sweep
from convinspect.core.layer.story import constructor
from convinspect.core.vocab.text import inert
from convinspect.render import words
from convinspect.render.layer.story import call_text


def summary_line(sweep: Sweep) -> str:
    s = sweep.summary()
    text = f"{s.total:,} input shapes: {s.accepted:,} accepted, {s.rejected:,} rejected"
    if s.macs_min is not None:
        text += f"; MACs from {s.macs_min:,} to {s.macs_max:,}"
    return text + f" (engine: {sweep.engine})"


def sweep_csv(sweep: Sweep) -> str:
    """One row per input shape; every input dimension in its own column."""
    handle = io.StringIO()
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([*sweep.axes, "output_shape", "params", "macs", "flops", "status", "reason", "runs"])
    for row in sweep.rows:
        out = "" if row.output_shape is None else "x".join("?" if d is None else str(d) for d in row.output_shape)
        writer.writerow([
            *("?" if d is None else d for d in row.input_shape), out,
            "" if row.params is None else row.params,
            "" if row.cost is None else row.cost.macs,
            "" if row.cost is None else row.cost.flops,
            row.status, row.reason or "", "" if row.runs is None else str(row.runs).lower(),
        ])  # fmt: skip
    return handle.getvalue()


def sweep_table(sweep: Sweep) -> str:
    """An aligned text table, one line per input shape (plain text: Rich would take minutes on 100,000 rows)."""
    header = ("input", "output", "params", "MACs", "result")
    rows = [
        (
            words.shape_text(row.input_shape),
            "" if row.output_shape is None else words.shape_text(row.output_shape),
            "" if row.params is None else f"{row.params:,}",
            "" if row.cost is None else f"{row.cost.macs:,}",
            f"rejected: {row.reason}" if row.reason else "ok" if row.runs else f"ok, does not run ({row.runtime_rule})",
        )
        for row in sweep.rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header[:4])]

    def line(cells: tuple[str, ...]) -> str:
        left = f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}  {cells[3]:>{widths[3]}}"
        return f"{left}  {cells[4]}".rstrip()

    title = f"{call_text(constructor(sweep.spec))}\ninput {sweep.input}"
    rule = "─" * (sum(widths) + 8 + len("result"))
    footer = [summary_line(sweep)]
    if sweep.kernels is not None and any(row.runtime_rule for row in sweep.rows):
        footer.append(f"does not run: judged for TensorFlow's {sweep.kernels.kernels.label} CPU kernels "
                      f"({inert(sweep.kernels.because)})")  # fmt: skip
    return "\n".join([title, "", line(header), rule, *map(line, rows), "", *footer]) + "\n"
