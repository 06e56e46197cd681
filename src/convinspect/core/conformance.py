"""--backend all: the same layer on every Keras backend, side by side (schema convinspect.conformance/1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONFORMANCE_SCHEMA = "convinspect.conformance/1"


@dataclass(frozen=True)
class BackendRun:
    backend: str
    status: str  # ok | failed (verify failed) | invalid (Keras rejected the layer) | error | missing (not installed)
    version: str | None = None
    report: Mapping[str, Any] | None = None  # the backend's convinspect.report/1 document
    error: str | None = None

    @property
    def output_shape(self) -> list[int | None] | None:
        return None if self.report is None else self.report["output_shape"]

    @property
    def variables(self) -> list[tuple[str, list[int]]] | None:
        if self.report is None:
            return None
        return [(v["name"], v["shape"]) for v in self.report["variables_after"]]

    @property
    def verify(self) -> Mapping[str, Any] | None:
        return None if self.report is None else self.report.get("verify")

    @property
    def kernels(self) -> Mapping[str, Any] | None:
        """TensorFlow's CPU kernel set ({kernels, onednn, because}); None on other backends."""
        if self.report is None or "kernels" not in self.report["runtime"]:
            return None
        return {key: self.report["runtime"][key] for key in ("kernels", "onednn", "because")}

    @property
    def runs(self) -> bool | None:
        return None if self.report is None else self.report["runtime"]["runs"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "status": self.status, "version": self.version, "runs": self.runs,
            "output_shape": self.output_shape,
            "variables": None if self.variables is None else [{"name": n, "shape": s} for n, s in self.variables],
            "verify": self.verify, "error": self.error,
        }  # fmt: skip


@dataclass(frozen=True)
class Conformance:
    layer: str  # the Keras class
    config: Mapping[str, Any]
    input_shape: list[int | None]
    runs: tuple[BackendRun, ...]

    @property
    def present(self) -> tuple[BackendRun, ...]:
        return tuple(run for run in self.runs if run.status != "missing")

    @property
    def disagreements(self) -> list[str]:
        """Fields on which the installed backends that built the layer differ."""
        built = [run for run in self.present if run.report is not None]
        found = []
        for name in ("output_shape", "variables"):
            values = {run.backend: getattr(run, name) for run in built}
            if len({repr(v) for v in values.values()}) > 1:
                found.append(name + ": " + ", ".join(f"{b} {v}" for b, v in values.items()))
        judged = [run for run in self.present if run.status in ("ok", "failed", "invalid")]
        verdicts = {run.backend: run.status == "invalid" for run in judged}
        if len(set(verdicts.values())) > 1:
            found.append("validity: " + ", ".join(f"{b} {'rejects' if v else 'accepts'}" for b, v in verdicts.items()))
        return found

    @property
    def exit_code(self) -> int:
        """2 when every backend rejects the layer; 3 when one could not run it; 1 when one fails
        verification or the backends disagree."""
        if self.present and all(run.status == "invalid" for run in self.present):
            return 2
        if any(run.status == "error" for run in self.runs):
            return 3
        if self.disagreements or any(run.status == "failed" for run in self.runs):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CONFORMANCE_SCHEMA,
            "layer": {"class": self.layer, "config": dict(self.config)},
            "input_shape": self.input_shape,
            "backends": [run.to_dict() for run in self.runs],
            "disagreements": self.disagreements,
            "exit_code": self.exit_code,
        }
