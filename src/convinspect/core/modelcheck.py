"""A model report's CI contract: expectations on the model and its layers, and shape snapshots.

A snapshot (`--snapshot FILE`) locks every layer's class, output shape, parameters and MACs;
`--against FILE` lists each layer added, removed or changed (field: old -> new).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.expectations import Expectations, parse_expectations
from convinspect.core.model import LayerRow, ModelReport, Params
from convinspect.core.report import Check
from convinspect.core.text import shown
from convinspect.errors import InvalidInput

SNAPSHOT_SCHEMA = "convinspect.snapshot/1"
MODEL_KEYS = ("expect_params", "max_params", "max_macs", "expect_runs")
LAYER_KEYS = ("expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params", "max_macs")
_FIELDS = ("class", "output_shape", "params", "macs")


@dataclass(frozen=True)
class Change:
    layer: str
    change: str  # added | removed | changed
    field: str | None = None
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "change": self.change, "field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class ModelResult:
    """What `convinspect model` delivers: the report, its checks, and the changes against a snapshot."""

    report: ModelReport
    checks: tuple[Check, ...] = ()
    changes: tuple[Change, ...] | None = None  # None: no --against
    against: str | None = None
    depth: int | None = None  # --depth: nested rows deeper than this are folded into their model's row

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.changes

    # What a check run shows of each entry (see render/checks.py), as a layer's Report has it.
    @property
    def class_name(self) -> str:
        return self.report.class_name

    @property
    def output_shape(self) -> tuple[int | None, ...] | None:
        top = [row for row in self.report.rows if not row.path]
        return top[-1].output_shape if top else None

    @property
    def params(self) -> Params:
        return self.report.totals.params

    @property
    def macs(self) -> int | None:
        return self.report.totals.macs

    def to_dict(self) -> dict[str, Any]:
        out = self.report.to_dict()
        out["checks"] = [c.to_dict() for c in self.checks]
        out["snapshot"] = None if self.changes is None else {
            "against": self.against, "changes": [c.to_dict() for c in self.changes]
        }  # fmt: skip
        return out


def _row_checks(prefix: str, row: LayerRow | None, report: ModelReport, expect: Expectations) -> list[Check]:
    pairs: list[tuple[str, Any, Any, bool]] = []
    params = report.totals.params.total if row is None else row.params.total
    macs = report.totals.macs if row is None else row.macs
    if row is not None and expect.output is not None:
        pairs.append(("output_shape", list(expect.output), _listed(row.output_shape), False))
    if expect.params is not None:
        pairs.append(("params", expect.params, params, False))
    for key, want in (("kernel", expect.kernel), ("bias", expect.bias)):
        if row is not None and want is not None:
            found = next((w.shape for w in row.weights if w.name == key), None)
            pairs.append((f"{key}_shape", list(want), _listed(found), False))
    if expect.max_params is not None:
        pairs.append(("max_params", expect.max_params, params, True))
    if expect.max_macs is not None:
        pairs.append(("max_macs", expect.max_macs, macs, True))
    if row is None and expect.runs:  # every conv layer on TensorFlow's CPU kernels
        if report.runtime is None:
            raise InvalidInput("judges TensorFlow's CPU kernels, and this report has none to judge (the model runs on "
                               "another Keras backend)", "expect_runs")  # fmt: skip
        pairs.append(("runs", True, report.runtime.runs, False))
    return [
        Check(
            prefix + name,
            expected,
            actual,
            actual is not None and (actual <= expected if limit else actual == expected),
        )
        for name, expected, actual, limit in pairs
    ]


def _listed(shape: tuple[int | None, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def evaluate(
    report: ModelReport, model: Mapping[str, object], layers: Mapping[str, Mapping[str, object]]
) -> tuple[Check, ...]:
    """Checks for the model's expectations, then each named layer's (`layer NAME: output_shape`)."""
    given = any(value is not None for value in model.values()) or bool(layers)
    if given and not report.built:
        raise InvalidInput(
            "the model has no input shape, so it has no shapes, parameters or MACs to check yet; give --input "
            "(`input = ...` in a spec file)"
        )
    checks = _row_checks("", None, report, parse_expectations(model))
    for name, values in layers.items():
        unknown = set(values) - set(LAYER_KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise InvalidInput(f"layer {shown(name)}: unknown expectation {shown(key)}; expected one of "
                               + ", ".join(LAYER_KEYS))  # fmt: skip
        row = report.row(name)
        if row is None:
            raise InvalidInput(f"the model has no layer {shown(name)}{_closest(report, name)}")
        checks += _row_checks(f"{row.key}: ", row, report, parse_expectations(values))
    return tuple(checks)


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


# -- snapshots ---------------------------------------------------------------------------


def _entry(row: LayerRow) -> dict[str, Any]:
    return {
        "class": row.class_name,
        "output_shape": _listed(row.output_shape),
        "params": row.params.total,
        "macs": row.macs,
    }


def snapshot(report: ModelReport) -> dict[str, Any]:
    """The lock: every row (nested models' rows too), keyed by its path."""
    inputs = [None if s is None else list(s) for s in report.input_shapes]
    return {
        "schema": SNAPSHOT_SCHEMA,
        "model": report.name,
        "input_shape": inputs[0] if len(inputs) == 1 else inputs,
        "totals": {"params": report.totals.params.total, "macs": report.totals.macs},
        "layers": {row.key: _entry(row) for row in report.rows},
    }


def snapshot_text(report: ModelReport) -> str:
    return json.dumps(snapshot(report), indent=1, ensure_ascii=False) + "\n"


def read_snapshot(text: str, path: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInput(f"{shown(path)} is not a snapshot: not valid JSON ({error})", "against") from None
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        raise InvalidInput(f"{shown(path)} is not a snapshot: it holds an integer with more digits than Python "
                           "reads (4,300)", "against") from None  # fmt: skip
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA or not isinstance(data.get("layers"), dict):
        raise InvalidInput(
            f"{shown(path)} is not a snapshot written by --snapshot (schema {SNAPSHOT_SCHEMA})", "against"
        )
    for key, entry in data["layers"].items():
        if not isinstance(entry, dict):
            raise InvalidInput(f"{shown(path)}: layer {shown(key)} is not an object", "against")
    return data


def compare(old: Mapping[str, Any], report: ModelReport) -> tuple[Change, ...]:
    """Each layer added, removed or changed since the snapshot, in the report's order then the old one's."""
    before: Mapping[str, Mapping[str, Any]] = old["layers"]
    now = {row.key: _entry(row) for row in report.rows}
    changes: list[Change] = []
    for key, entry in now.items():
        if key not in before:
            changes.append(Change(key, "added", new=entry))
            continue
        for name in _FIELDS:
            if before[key].get(name) != entry[name]:
                changes.append(Change(key, "changed", name, before[key].get(name), entry[name]))
    changes.extend(Change(key, "removed", old=dict(entry)) for key, entry in before.items() if key not in now)
    return tuple(changes)
