"""Stable, greppable text for logs: one fact per line, `key: value`."""

from __future__ import annotations

from convinspect.core.layer.report import Report
from convinspect.render import words
from convinspect.render.layer import story
from convinspect.render.layer.sections import Section, assemble


def _csv(values: tuple[int | None, ...] | list[int | None]) -> str:
    return ",".join("?" if v is None else str(v) for v in values)


def _heading(report: Report, _diagram: bool) -> list[str]:
    return [
        f"layer: {report.class_name} name={words.inert(report.name)}",
        f"engine: {report.engine} forward={'none' if report.forward is None else report.forward.mode}",
    ]


def _after(report: Report, _diagram: bool) -> list[str]:
    return [
        f"variable: {words.inert(v.path)} shape={_csv(v.shape)} dtype={v.dtype} "
        f"trainable={str(v.trainable).lower()} params={v.params} bytes={v.bytes}"
        for v in report.variables_after
    ]


def _totals(report: Report, _diagram: bool) -> list[str]:
    p = report.params
    return [
        f"params: trainable={p.trainable} non_trainable={p.non_trainable} total={p.total} bytes={p.bytes}",
        f"arithmetic: {words.arithmetic(report.variables_after, p.total)}",
    ]


def _cost(report: Report, _diagram: bool) -> list[str]:
    cost = report.measures.cost
    parts = [f"cost_part: {_pairs(part.to_dict())}" for part in cost.parts] if len(cost.parts) > 1 else []
    return ["cost: " + _pairs(cost.to_dict(), skip=("parts",)), *parts]


def _layouts(report: Report, _diagram: bool) -> list[str]:
    lines = []
    for layout in report.measures.layouts:
        lines.append(
            f"layout: variable={layout.variable} keras={_csv(layout.keras_shape)} "
            f"keras_axes={','.join(layout.keras_axes)} torch={_csv(layout.torch_shape)} "
            f"torch_axes={','.join(layout.torch_axes)} convert=w{''.join(words.conversion_steps(layout, ','))}"
        )
        if layout.torch_module:
            lines.append(f"torch_module: {words.module_text(layout)}")
    return lines


def _checks(report: Report, _diagram: bool) -> list[str]:
    return [f"check: {check.name} expected={_config_value(check.expected)} "
            f"actual={_config_value(check.actual)} ok={str(check.ok).lower()}" for check in report.checks]  # fmt: skip


def _runtime(report: Report, _diagram: bool) -> list[str]:
    # The kernel set is a fact of the machine: said where it decides something (JSON always has it).
    machine = ("reason",) if not report.runtime.runs else ("reason", "kernels", "onednn", "because")
    lines = ["runtime: " + _pairs({k: v for k, v in report.runtime.to_dict().items() if k not in machine})]
    warning = words.runtime_warning(report)
    return [*lines, warning] if warning else lines


def _diagram(report: Report, diagram: bool) -> list[str]:
    if not diagram:
        return []
    from convinspect.render.layer.diagram import axis_diagram

    return [f"diagram: {line}" for g in report.measures.geometry for line in axis_diagram(g)]


_SECTIONS: dict[str, Section[str]] = {
    "heading": _heading,
    "config": lambda report, _: [
        "config: " + " ".join(f"{k}={_config_value(v)}" for k, v in words.config_dict(report).items())
    ],
    "shapes": lambda report, _: [
        f"input_shape: {_csv(report.input_shape)}",
        f"output_shape: {_csv(report.output_shape)}",
    ],
    "before": lambda report, _: [f"variables_before: {len(report.variables_before)}"],
    "after": _after,
    "totals": _totals,
    "cost": _cost,
    "memory": lambda report, _: ["memory: " + _pairs(report.measures.memory.to_dict())],
    "geometry": lambda report, _: ["geometry: " + _pairs(g.to_dict()) for g in report.measures.geometry],
    "layouts": _layouts,
    "checks": _checks,
    "runtime": _runtime,
    "notes": lambda report, _: [f"note: {note}" for note in words.notes(report)],
    "story": lambda report, _: (
        [f"explain: {line.strip()}" for line in story.explain_lines(report) if line] if report.story else []
    ),
    "diagram": _diagram,
}


def report_plain(report: Report, diagram: bool = False) -> str:
    return "\n".join(assemble(_SECTIONS, report, diagram)) + "\n"


def _pairs(data: dict[str, object], skip: tuple[str, ...] = ()) -> str:
    return " ".join(f"{k}={_config_value(v)}" for k, v in data.items() if k not in skip)


def _config_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return _csv(list(value))
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)
