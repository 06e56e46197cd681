"""--backend all: the same layer on every Keras backend, side by side (schema convinspect.conformance/1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.vocab.choices import Choice

CONFORMANCE_SCHEMA = "convinspect.conformance/1"


class RunStatus(Choice):
    OK = "ok"
    FAILED = "failed"  # the verification failed
    INVALID = "invalid"  # Keras rejected the layer
    ERROR = "error"  # the backend could not run it
    MISSING = "missing"  # not installed


@dataclass(frozen=True)
class BackendRun:
    """One backend's run, as its own process reported it (read back from its JSON at the boundary)."""

    backend: str
    status: RunStatus
    version: str | None = None
    output_shape: list[int | None] | None = None
    variables: list[tuple[str, list[int]]] | None = None
    verify: Mapping[str, Any] | None = None  # the child's verification, as its report gives it
    kernels: Mapping[str, Any] | None = None  # TensorFlow's CPU kernel set ({kernels, onednn, because})
    runs: bool | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))  # a status given by its name is the member

    @classmethod
    def from_report(cls, backend: str, status: RunStatus, document: Mapping[str, Any], error: str | None = None
                    ) -> BackendRun:  # fmt: skip
        """The run from the child's convinspect.report/1 document."""
        runtime = document["runtime"]
        kernels = {key: runtime[key] for key in ("kernels", "onednn", "because")} if "kernels" in runtime else None
        return cls(
            backend,
            status,
            version=document.get("versions", {}).get("backend_version"),
            output_shape=document["output_shape"],
            variables=[(v["name"], v["shape"]) for v in document["variables_after"]],
            verify=document.get("verify"),
            kernels=kernels,
            runs=runtime["runs"],
            error=error,
        )

    @property
    def built(self) -> bool:
        return self.output_shape is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "status": str(self.status), "version": self.version, "runs": self.runs,
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
        return tuple(run for run in self.runs if run.status is not RunStatus.MISSING)

    @property
    def disagreements(self) -> list[str]:
        """Fields on which the installed backends that built the layer differ."""
        built = [run for run in self.present if run.built]
        found = []
        for name in ("output_shape", "variables"):
            values = {run.backend: getattr(run, name) for run in built}
            if len({repr(v) for v in values.values()}) > 1:
                found.append(name + ": " + ", ".join(f"{b} {v}" for b, v in values.items()))
        judged = [run for run in self.present if run.status in (RunStatus.OK, RunStatus.FAILED, RunStatus.INVALID)]
        verdicts = {run.backend: run.status is RunStatus.INVALID for run in judged}
        if len(set(verdicts.values())) > 1:
            found.append("validity: " + ", ".join(f"{b} {'rejects' if v else 'accepts'}" for b, v in verdicts.items()))
        return found

    @property
    def exit_code(self) -> int:
        """2 when every backend rejects the layer; 3 when one could not run it; 1 when one fails
        verification or the backends disagree."""
        if self.present and all(run.status is RunStatus.INVALID for run in self.present):
            return 2
        if any(run.status is RunStatus.ERROR for run in self.runs):
            return 3
        if self.disagreements or any(run.status is RunStatus.FAILED for run in self.runs):
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
