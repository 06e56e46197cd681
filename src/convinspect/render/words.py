"""Phrases shared by every text format."""

from __future__ import annotations

from typing import Any

from convinspect.core.report import Report, Variable
from convinspect.core.units import human_bytes, thousands

__all__ = ["human_bytes", "thousands"]


def shape_text(shape: tuple[int | None, ...] | list[int | None]) -> str:
    """Keras style: `(2, 16, 16, 64)`, `(64,)`, `(None, 30, 30, 8)`."""
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return shape_text(list(value))
    return str(value)


def config_items(report: Report) -> list[tuple[str, str]]:
    return [(key, value_text(value)) for key, value in report.config.items()]


def arithmetic(variables: tuple[Variable, ...], total: int) -> str:
    """`5×5×1×64 + 64 = 1,664`: each variable's shape multiplied out, then summed."""
    if not variables:
        return "0"
    terms = ["×".join(str(d) for d in v.shape) for v in variables]
    return " + ".join(terms) + f" = {thousands(total)}"


def input_channels(report: Report) -> int | None:
    last = report.config.get("data_format", "channels_last") == "channels_last"
    return report.input_shape[-1] if last else report.input_shape[1]


def why_empty(report: Report) -> str:
    """The one line that explains the empty list before the first call."""
    return (
        f"{report.class_name} creates its weights in build(), on the first call: the kernel's "
        f"shape needs the input's channel count ({input_channels(report)}), which only an input can tell it."
    )


def before_text(report: Report) -> str:
    if not report.variables_before:
        return "trainable_variables = []"
    return "trainable_variables = [" + ", ".join(v.path for v in report.variables_before) + "]"


def forward_text(report: Report) -> str:
    if report.forward is None:
        return "no forward pass (analytic engine: computed from the hyperparameters)"
    return f"{report.forward} forward pass"


def totals_text(report: Report) -> str:
    p = report.params
    return (
        f"trainable {thousands(p.trainable)} · non-trainable {thousands(p.non_trainable)} · "
        f"total {thousands(p.total)} params · {human_bytes(p.bytes)}"
    )


def check_text(check: Any) -> str:
    """`output_shape: expected (1, 8, 8, 8), actual (1, 6, 6, 8)`; limits read `at most`."""
    expected = value_text(check.expected)
    if check.name.startswith("max_"):
        expected = f"at most {expected}"
    return f"{check.name}: expected {expected}, actual {value_text(check.actual)}"
