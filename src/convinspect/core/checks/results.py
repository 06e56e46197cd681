"""What `convinspect model` delivers: the model's report, its checks and its changes against a snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.checks.snapshot import Change
from convinspect.core.layer.report import Check
from convinspect.core.layer.variables import Params
from convinspect.core.model.report import ModelReport
from convinspect.errors import EXIT_CHECK_FAILED, EXIT_OK


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

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_CHECK_FAILED

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
