"""Stable, greppable text for logs: one fact per line, `key: value`."""

from __future__ import annotations

from convinspect.core.report import Report
from convinspect.render import words


def _csv(values: tuple[int | None, ...] | list[int | None]) -> str:
    return ",".join("?" if v is None else str(v) for v in values)


def report_plain(report: Report) -> str:
    lines = [
        f"layer: {report.class_name} name={report.name}",
        f"engine: {report.engine} forward={report.forward or 'none'}",
        "config: " + " ".join(f"{k}={_config_value(v)}" for k, v in report.config.items()),
        f"input_shape: {_csv(report.input_shape)}",
        f"output_shape: {_csv(report.output_shape)}",
        f"variables_before: {len(report.variables_before)}",
    ]
    for v in report.variables_after:
        lines.append(
            f"variable: {v.path} shape={_csv(v.shape)} dtype={v.dtype} "
            f"trainable={str(v.trainable).lower()} params={v.params} bytes={v.bytes}"
        )
    p = report.params
    lines.append(f"params: trainable={p.trainable} non_trainable={p.non_trainable} total={p.total} bytes={p.bytes}")
    lines.append(f"arithmetic: {words.arithmetic(report.variables_after, p.total)}")
    for check in report.checks:
        lines.append(f"check: {check.name} expected={_config_value(check.expected)} "
                     f"actual={_config_value(check.actual)} ok={str(check.ok).lower()}")  # fmt: skip
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines) + "\n"


def _config_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return _csv(list(value))
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)
