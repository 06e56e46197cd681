"""Expectations on a report (`--expect-*`, `--max-*`, and the same keys in spec files)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.report import Check, Report
from convinspect.core.spec import parse_int, parse_shape
from convinspect.errors import InvalidInput

EXPECTATION_KEYS = (
    "expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params", "max_macs", "expect_runs",
)  # fmt: skip


@dataclass(frozen=True)
class Expectations:
    output: tuple[int | None, ...] | None = None
    params: int | None = None
    kernel: tuple[int | None, ...] | None = None
    bias: tuple[int | None, ...] | None = None
    max_params: int | None = None
    max_macs: int | None = None
    runs: bool = False  # expect the backend to run the layer


def parse_expectations(values: Mapping[str, object]) -> Expectations:
    """`expect_*` / `max_params` values (None = not given) -> Expectations."""

    def shape(key: str) -> tuple[int | None, ...] | None:
        raw = values.get(key)
        return None if raw is None else parse_shape(raw, key)

    def count(key: str) -> int | None:
        raw = values.get(key)
        return None if raw is None else parse_int(raw, key, minimum=0)

    return Expectations(
        output=shape("expect_output"),
        params=count("expect_params"),
        kernel=shape("expect_kernel"),
        bias=shape("expect_bias"),
        max_params=count("max_params"),
        max_macs=count("max_macs"),
        runs=_flag(values.get("expect_runs")),
    )


def _listed(shape: tuple[int | None, ...] | tuple[int, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def evaluate(report: Report, expect: Expectations) -> tuple[Check, ...]:
    """One Check per expectation given."""
    checks: list[Check] = []
    kernel, bias = report.variable("kernel"), report.variable("bias")
    pairs: list[tuple[str, Any, Any, bool]] = []
    if expect.output is not None:
        pairs.append(("output_shape", list(expect.output), list(report.output_shape), False))
    if expect.params is not None:
        pairs.append(("params", expect.params, report.params.total, False))
    if expect.kernel is not None:
        if kernel is None:  # a separable layer's kernels have other names: the expectation cannot apply
            names = " and ".join(v.name for v in report.variables_after if v.name.endswith("kernel"))
            raise InvalidInput(
                f"{report.class_name} has no variable named kernel (its kernels are {names})", "expect_kernel"
            )
        pairs.append(("kernel_shape", list(expect.kernel), _listed(kernel.shape if kernel else None), False))
    if expect.bias is not None:
        pairs.append(("bias_shape", list(expect.bias), _listed(bias.shape if bias else None), False))
    if expect.max_params is not None:
        pairs.append(("max_params", expect.max_params, report.params.total, True))
    if expect.max_macs is not None:
        pairs.append(("max_macs", expect.max_macs, report.measures.cost.macs, True))
    if expect.runs:
        pairs.append(("runs", True, report.runtime.runs, False))
    for name, expected, actual, is_limit in pairs:
        ok = actual is not None and actual <= expected if is_limit else actual == expected
        checks.append(Check(name, expected, actual, ok))
    return tuple(checks)


def _flag(raw: object) -> bool:
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    raise InvalidInput(f"expected true or false; got {raw!r}", "expect_runs")


def with_checks(report: Report, expect: Expectations) -> Report:
    return dataclasses.replace(report, checks=report.checks + evaluate(report, expect))
