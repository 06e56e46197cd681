"""Stable, greppable text for logs: one fact per line, `key: value`."""

from __future__ import annotations

from convinspect.core.layer.report import Report
from convinspect.render import story, words


def _csv(values: tuple[int | None, ...] | list[int | None]) -> str:
    return ",".join("?" if v is None else str(v) for v in values)


def report_plain(report: Report, diagram: bool = False) -> str:
    lines = [
        f"layer: {report.class_name} name={words.inert(report.name)}",
        f"engine: {report.engine} forward={'none' if report.forward is None else report.forward.mode}",
        "config: " + " ".join(f"{k}={_config_value(v)}" for k, v in words.config_dict(report).items()),
        f"input_shape: {_csv(report.input_shape)}",
        f"output_shape: {_csv(report.output_shape)}",
        f"variables_before: {len(report.variables_before)}",
    ]
    for v in report.variables_after:
        lines.append(
            f"variable: {words.inert(v.path)} shape={_csv(v.shape)} dtype={v.dtype} "
            f"trainable={str(v.trainable).lower()} params={v.params} bytes={v.bytes}"
        )
    p = report.params
    lines.append(f"params: trainable={p.trainable} non_trainable={p.non_trainable} total={p.total} bytes={p.bytes}")
    lines.append(f"arithmetic: {words.arithmetic(report.variables_after, p.total)}")
    lines.append("cost: " + _pairs(report.measures.cost.to_dict(), skip=("parts",)))
    if len(report.measures.cost.parts) > 1:
        lines.extend("cost_part: " + _pairs(part.to_dict()) for part in report.measures.cost.parts)
    lines.append("memory: " + _pairs(report.measures.memory.to_dict()))
    lines.extend("geometry: " + _pairs(g.to_dict()) for g in report.measures.geometry)
    for layout in report.measures.layouts:
        lines.append(
            f"layout: variable={layout.variable} keras={_csv(layout.keras_shape)} "
            f"keras_axes={','.join(layout.keras_axes)} torch={_csv(layout.torch_shape)} "
            f"torch_axes={','.join(layout.torch_axes)} convert=w{''.join(words.conversion_steps(layout, ','))}"
        )
        if layout.torch_module:
            lines.append(f"torch_module: {words.module_text(layout)}")
    for check in report.checks:
        lines.append(f"check: {check.name} expected={_config_value(check.expected)} "
                     f"actual={_config_value(check.actual)} ok={str(check.ok).lower()}")  # fmt: skip
    # The kernel set is a fact of the machine: said where it decides something (JSON always has it).
    machine = ("reason",) if not report.runtime.runs else ("reason", "kernels", "onednn", "because")
    lines.append("runtime: " + _pairs({k: v for k, v in report.runtime.to_dict().items() if k not in machine}))
    warning = words.runtime_warning(report)
    if warning:
        lines.append(warning)
    lines.extend(f"note: {note}" for note in words.notes(report))
    if report.story:
        lines.extend(f"explain: {line.strip()}" for line in story.explain_lines(report) if line)
    if diagram:
        from convinspect.render.diagram import axis_diagram

        lines.extend(f"diagram: {line}" for g in report.measures.geometry for line in axis_diagram(g))
    return "\n".join(lines) + "\n"


def _pairs(data: dict[str, object], skip: tuple[str, ...] = ()) -> str:
    return " ".join(f"{k}={_config_value(v)}" for k, v in data.items() if k not in skip)


def _config_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return _csv(list(value))
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)
