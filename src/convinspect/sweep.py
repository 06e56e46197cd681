"""Sweeps: one layer config over every input shape in some ranges."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.api import ENGINES, inspect_layer
from convinspect.core import arithmetic
from convinspect.core.cost import Cost, layer_cost
from convinspect.core.report import Report
from convinspect.core.spec import LayerSpec, parse_choice, parse_shape_ranges, parse_spec
from convinspect.errors import InvalidInput

SWEEP_SCHEMA = "convinspect.sweep/1"


@dataclass(frozen=True)
class SweepRow:
    """One input shape: its figures, or why Keras rejects it."""

    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...] | None = None
    params: int | None = None
    cost: Cost | None = None
    reason: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.reason is None else "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "status": self.status,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params,
            "macs": None if self.cost is None else self.cost.macs,
            "flops": None if self.cost is None else self.cost.flops,
            "reason": self.reason,
        }


def _analytic_row(spec: LayerSpec) -> SweepRow:
    """The sweep's figures straight from the core arithmetic: no report, no layouts."""
    output = arithmetic.output_shape(spec)
    variables = dict(arithmetic.variable_shapes(spec))
    cost = layer_cost(spec.kind.family, spec.input_shape, output, variables, spec.use_bias, spec.channels_last)
    return SweepRow(spec.input_shape, output, sum(math.prod(v) for v in variables.values()), cost)


def _report_row(report: Report) -> SweepRow:
    return SweepRow(report.input_shape, report.output_shape, report.params.total, report.measures.cost)


@dataclass(frozen=True)
class Sweep:
    spec: LayerSpec  # the config, with the first input shape
    input: str  # the ranges as given
    engine: str
    rows: tuple[SweepRow, ...]

    @property
    def axes(self) -> tuple[str, ...]:
        """Names of the input dimensions, e.g. (batch, height, width, channels)."""
        return tuple(self.spec.kind.input_layout(self.spec.data_format).strip("()").split(", "))

    def summary(self) -> dict[str, int | None]:
        """Counts, and the range of MACs over the accepted shapes (None when none is)."""
        macs = [row.cost.macs for row in self.rows if row.cost is not None]
        accepted = len(macs)
        return {
            "total": len(self.rows), "accepted": accepted, "rejected": len(self.rows) - accepted,
            "macs_min": min(macs, default=None), "macs_max": max(macs, default=None),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        config = self.spec.config()
        return {
            "schema": SWEEP_SCHEMA,
            "layer": {"class": self.spec.kind.class_name, "name": self.spec.name, "config": config},
            "engine": self.engine,
            "input": self.input,
            "axes": list(self.axes),
            "summary": self.summary(),
            "rows": [row.to_dict() for row in self.rows],
        }


def run_sweep(
    values: Mapping[str, object],
    *,
    engine: str = "analytic",
    on_total: Callable[[int], None] | None = None,
    on_result: Callable[[SweepRow], None] | None = None,
    **engine_options: Any,
) -> Sweep:
    """Inspect the layer for every input shape in the ranges of `values["input"]`.

    Bad options (and too many combinations) raise InvalidInput before anything runs;
    an input shape the layer rejects becomes a row with the reason.
    """
    engine = parse_choice(engine, "engine", ENGINES)
    raw = values.get("input")
    if raw is None:
        raise InvalidInput("is required (ranges allowed: 1,220..232,220..232,3)", "input")
    dims = parse_shape_ranges(raw)
    shapes = list(itertools.product(*dims))
    spec = parse_spec({**values, "input": list(shapes[0])})  # options checked once, for every row
    if on_total:
        on_total(len(shapes))
    rows = []
    for shape in shapes:
        each = dataclasses.replace(spec, input_shape=shape)
        try:
            if engine == "analytic":
                row = _analytic_row(each)
            else:
                row = _report_row(inspect_layer(each, engine=engine, **engine_options))
        except InvalidInput as err:
            row = SweepRow(shape, reason=err.message())
        rows.append(row)
        if on_result:
            on_result(row)
    return Sweep(spec, str(raw), engine, tuple(rows))
