"""Expectations (`--expect-*`, `--max-*`, and the same keys in spec files), judged by one evaluator
against the facts of a layer's report, a model's report or one of its rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convinspect.core.layer.report import Check, Report
from convinspect.core.layer.spec import parse_int, parse_shape
from convinspect.core.model.report import LayerRow, ModelReport
from convinspect.core.vocab.text import shown
from convinspect.core.vocab.units import parse_bytes
from convinspect.errors import InvalidInput

EXPECTATION_KEYS = (
    "expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params", "max_macs", "expect_runs",
)  # fmt: skip
MODEL_KEYS = ("expect_params", "max_params", "max_macs", "expect_runs", "max_training_memory")
LAYER_KEYS = ("expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params", "max_macs")


@dataclass(frozen=True)
class Expectations:
    output: tuple[int | None, ...] | None = None
    params: int | None = None
    kernel: tuple[int | None, ...] | None = None
    bias: tuple[int | None, ...] | None = None
    max_params: int | None = None
    max_macs: int | None = None
    runs: bool = False  # expect the backend to run the layer
    max_training_memory: int | None = None  # bytes: the predicted peak of one train step


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
        max_training_memory=None if values.get("max_training_memory") is None
        else parse_bytes(values["max_training_memory"], "max_training_memory"),
    )  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """What expectations are judged against, for a layer, a model or one of a model's rows."""

    params: int
    macs: int | None
    shapes: Mapping[str, list[int | None] | None]  # output / kernel / bias: only those that apply
    runs: bool | None = None  # None: no expect_runs applies
    complete: bool = True  # False: `macs` leaves work out, so no MAC limit can pass
    training_peak: int | None = None  # the predicted peak of a train step (a model's, with --training)
    training_complete: bool = True  # False: some layers have no activation rule, so no memory limit can pass
    refusals: Mapping[str, InvalidInput] = field(default_factory=dict)  # expectation key -> why it cannot apply


def evaluate(expect: Expectations, facts: Facts, prefix: str = "") -> tuple[Check, ...]:
    """One Check per expectation given (and applicable), named `prefix + name`."""
    pairs: list[tuple[str, Any, Any, bool]] = []
    wanted: tuple[tuple[str, Any], ...] = (
        ("output", expect.output), ("params", expect.params), ("kernel", expect.kernel), ("bias", expect.bias),
    )  # fmt: skip
    for key, want in wanted:
        if want is None:
            continue
        if key in facts.refusals:
            raise facts.refusals[key]
        if key == "params":
            pairs.append(("params", want, facts.params, False))
        elif key in facts.shapes:
            pairs.append((f"{key}_shape", list(want), facts.shapes[key], False))
    if expect.max_params is not None:
        pairs.append(("max_params", expect.max_params, facts.params, True))
    if expect.max_macs is not None:
        pairs.append(("max_macs", expect.max_macs, facts.macs, True))
    if expect.max_training_memory is not None:
        if "max_training_memory" in facts.refusals:
            raise facts.refusals["max_training_memory"]
        pairs.append(("max_training_memory", expect.max_training_memory, facts.training_peak, True))
    if expect.runs:
        if "runs" in facts.refusals:
            raise facts.refusals["runs"]
        if facts.runs is not None:
            pairs.append(("runs", True, facts.runs, False))
    checks = []
    for name, expected, actual, limit in pairs:
        if name == "max_macs" and not facts.complete:  # a MAC limit never passes on a count that leaves work out
            checks.append(Check(prefix + name, expected, f"{actual} + work not counted", False, limit))
            continue
        if name == "max_training_memory" and actual is None:  # an unknown size: nothing to compare
            checks.append(
                Check(prefix + name, expected, "unknown (some sizes are unknown: give the input)", False, limit)
            )
            continue
        if name == "max_training_memory" and not facts.training_complete:  # nor a memory limit on a partial peak
            checks.append(Check(prefix + name, expected, f"{actual} + layers with no activation rule", False, limit))
            continue
        ok = actual is not None and (actual <= expected if limit else actual == expected)
        checks.append(Check(prefix + name, expected, actual, ok, limit))
    return tuple(checks)


def _listed(shape: tuple[int | None, ...] | tuple[int, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def layer_facts(report: Report) -> Facts:
    kernel, bias = report.variable("kernel"), report.variable("bias")
    refusals = {}
    if kernel is None:  # a separable layer's kernels have other names: the expectation cannot apply
        names = " and ".join(v.name for v in report.variables_after if v.name.endswith("kernel"))
        refusals["kernel"] = InvalidInput(
            f"{report.class_name} has no variable named kernel (its kernels are {names})", "expect_kernel"
        )
    return Facts(
        params=report.params.total,
        macs=report.measures.cost.macs,
        shapes={
            "output": list(report.output_shape),
            "kernel": _listed(kernel.shape if kernel else None),
            "bias": _listed(bias.shape if bias else None),
        },
        runs=report.runtime.runs,
        refusals=refusals,
    )


def row_facts(row: LayerRow) -> Facts:
    def shape(name: str) -> list[int | None] | None:
        return _listed(next((w.shape for w in row.weights if w.name == name), None))

    shapes = {"output": _listed(row.output_shape), "kernel": shape("kernel"), "bias": shape("bias")}
    return Facts(params=row.params.total, macs=row.macs, shapes=shapes, complete=row.complete)


def model_facts(report: ModelReport) -> Facts:
    refusals = {}
    if report.runtime is None:
        refusals["runs"] = InvalidInput(
            "judges TensorFlow's CPU kernels, and this report has none to judge (the model runs on another Keras "
            "backend)", "expect_runs"
        )  # fmt: skip
    runs = None if report.runtime is None else report.runtime.runs
    totals = report.totals
    training = report.training
    if training is None:
        refusals["max_training_memory"] = InvalidInput(
            "judges the memory of a train step, and this report has none (ask for it with --training)",
            "max_training_memory")  # fmt: skip
    return Facts(params=totals.params.total, macs=totals.macs, shapes={}, runs=runs, refusals=refusals,
                 complete=totals.complete, training_peak=None if training is None else training.peak,
                 training_complete=training is None or training.complete)  # fmt: skip


def evaluate_model(
    report: ModelReport, model: Mapping[str, object], layers: Mapping[str, Mapping[str, object]]
) -> tuple[Check, ...]:
    """Checks for the model's expectations, then each named layer's (`layer NAME: output_shape`)."""
    given = any(value is not None for value in model.values()) or bool(layers)
    if given and not report.built:
        raise InvalidInput(
            "the model has no input shape, so it has no shapes, parameters or MACs to check yet; give --input "
            "(`input = ...` in a spec file)"
        )
    checks = evaluate(parse_expectations(model), model_facts(report))
    for name, values in layers.items():
        unknown = set(values) - set(LAYER_KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise InvalidInput(f"layer {shown(name)}: unknown expectation {shown(key)}; expected one of "
                               + ", ".join(LAYER_KEYS))  # fmt: skip
        row = report.row(name)
        if row is None:
            raise InvalidInput(f"the model has no layer {shown(name)}{_closest(report, name)}")
        checks += evaluate(parse_expectations(values), row_facts(row), f"{row.key}: ")
    return checks


def _closest(report: ModelReport, name: str) -> str:
    import difflib

    names = [row.key for row in report.rows]
    found = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {shown(found[0])}?)" if found else ""


def find_row(report: ModelReport, name: str) -> LayerRow:
    row = report.row(name)
    if row is None:
        raise InvalidInput(f"the model has no layer {shown(name)}{_closest(report, name)}", "layer")
    return row


def _flag(raw: object) -> bool:
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    raise InvalidInput(f"expected true or false; got {raw!r}", "expect_runs")


def with_checks(report: Report, expect: Expectations) -> Report:
    return dataclasses.replace(report, checks=report.checks + evaluate(expect, layer_facts(report)))
