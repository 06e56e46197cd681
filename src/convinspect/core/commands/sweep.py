"""A sweep's result: one layer config over many input shapes, each accepted with figures or rejected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.layer.cost import Cost
from convinspect.core.layer.runtime import KernelChoice
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.vocab.choices import Engine
from convinspect.errors import EXIT_BACKEND, EXIT_OK

SWEEP_SCHEMA = "convinspect.sweep/1"


@dataclass(frozen=True)
class SweepSummary:
    total: int
    accepted: int
    macs_min: int | None
    macs_max: int | None

    @property
    def rejected(self) -> int:
        return self.total - self.accepted

    def to_dict(self) -> dict[str, int | None]:
        return {"total": self.total, "accepted": self.accepted, "rejected": self.rejected,
                "macs_min": self.macs_min, "macs_max": self.macs_max}  # fmt: skip


@dataclass(frozen=True)
class SweepRow:
    """One input shape: its figures, or why Keras rejects it."""

    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...] | None = None
    params: int | None = None
    cost: Cost | None = None
    reason: str | None = None
    runtime_rule: str | None = None  # why TensorFlow on the CPU cannot run an accepted shape
    error: str | None = None  # the forward pass crashed its process (the crash line): exit 3

    @property
    def runs(self) -> bool | None:
        return None if self.reason is not None else self.runtime_rule is None

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
            "runs": self.runs,
            "runtime_rule": self.runtime_rule,
            **({} if self.error is None else {"error": self.error}),
        }


@dataclass(frozen=True)
class Sweep:
    spec: LayerSpec  # the config, with the first input shape
    input: str  # the ranges as given
    engine: Engine
    rows: tuple[SweepRow, ...]
    kernels: KernelChoice | None = None  # TensorFlow's CPU kernel set the rows' `runs` are for

    @property
    def axes(self) -> tuple[str, ...]:
        """Names of the input dimensions, e.g. (batch, height, width, channels)."""
        return self.spec.kind.input_axes(self.spec.data_format)

    def summary(self) -> SweepSummary:
        """Counts, and the range of MACs over the accepted shapes (None when none is)."""
        macs = [row.cost.macs for row in self.rows if row.cost is not None]
        return SweepSummary(len(self.rows), len(macs), min(macs, default=None), max(macs, default=None))

    @property
    def exit_code(self) -> int:
        """3 when a row's forward pass crashed its process (the environment failed), else 0."""
        return EXIT_BACKEND if any(row.error for row in self.rows) else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SWEEP_SCHEMA,
            "layer": {"class": self.spec.kind.class_name, "name": self.spec.name, "config": self.spec.config_dict()},
            "engine": str(self.engine),
            "input": self.input,
            "axes": list(self.axes),
            "runtime": None if self.kernels is None else self.kernels.to_dict(),
            "summary": self.summary().to_dict(),
            "rows": [row.to_dict() for row in self.rows],
        }
