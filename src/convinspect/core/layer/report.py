"""Report: what an engine found about one layer (its checks, its --explain story as typed steps),
to_dict() as the JSON contract, and Disagreement, where two engines' reports differ."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.forward import ForwardChoice
from convinspect.core.layer.kinds import Kind
from convinspect.core.layer.measures import Measures
from convinspect.core.layer.runtime import Runtime
from convinspect.core.layer.variables import Params, Variable
from convinspect.core.layer.verify import Verification
from convinspect.core.vocab.choices import Engine
from convinspect.errors import EXIT_BACKEND, EXIT_CHECK_FAILED, EXIT_OK, BackendError

REPORT_SCHEMA = "convinspect.report/1"
Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class Check:
    """One expectation and how it fared."""

    name: str
    expected: Any
    actual: Any
    ok: bool
    limit: bool = False  # an upper bound (max_params, max_macs): the actual may be at most the expected

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "actual": self.actual, "ok": self.ok}


def _listed(shape: Shape | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


@dataclass(frozen=True)
class Call:
    """A constructor call: the class and the arguments that differ from Keras' defaults."""

    class_name: str
    kwargs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_name, "kwargs": dict(self.kwargs)}


@dataclass(frozen=True)
class StoryVariable:
    """A variable the story shows: its path, shape, and each dimension's size with its layout axis."""

    path: str
    shape: tuple[int, ...]
    dims: tuple[tuple[int, str], ...]  # (size, axis label): `kh`, `in/groups`, `filters`, ...

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "shape": list(self.shape),
                "dims": [{"size": size, "axis": axis} for size, axis in self.dims]}  # fmt: skip


@dataclass(frozen=True)
class Constructed:
    """Step 1: what a freshly constructed layer shows (None: needs a real layer)."""

    call: Call
    built: bool | None
    trainable_variables: tuple[str, ...] | None
    count_params_error: str | None  # count_params()' complaint, as Keras words it

    def to_dict(self) -> dict[str, Any]:
        variables = None if self.trainable_variables is None else list(self.trainable_variables)
        return {"call": self.call.to_dict(), "built": self.built, "trainable_variables": variables,
                "count_params_error": self.count_params_error}  # fmt: skip


@dataclass(frozen=True)
class FirstCall:
    """Step 2: the first call builds the layer from its input's channels."""

    input_shape: Shape
    build_input_shape: Shape | None
    channel_axis: int
    input_channels: int
    variables: tuple[StoryVariable, ...]
    built: bool | None
    output_shape: Shape

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "build_input_shape": _listed(self.build_input_shape),
                "channel_axis": self.channel_axis, "input_channels": self.input_channels,
                "variables": [v.to_dict() for v in self.variables], "built": self.built,
                "output_shape": list(self.output_shape)}  # fmt: skip


@dataclass(frozen=True)
class ExplicitBuild:
    """Step 3: layer.build(shape) on a fresh layer, with no data."""

    input_shape: Shape
    built: bool | None
    variables: tuple[StoryVariable, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "built": self.built,
                "variables": [v.to_dict() for v in self.variables]}  # fmt: skip


@dataclass(frozen=True)
class SymbolicInput:
    """Step 4: a fresh layer called on keras.Input(shape=..., batch_size=...)."""

    shape: Shape  # per example
    batch_size: int | None
    output_type: str | None
    output_shape: Shape
    variables: tuple[StoryVariable, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"input": {"shape": list(self.shape), "batch_size": self.batch_size},
                "output_type": self.output_type, "output_shape": list(self.output_shape),
                "variables": [v.to_dict() for v in self.variables]}  # fmt: skip


Facts = Constructed | FirstCall | ExplicitBuild | SymbolicInput


@dataclass(frozen=True)
class Step:
    """One step of the lazy-build story (--explain).

    `observed`: done on a real Keras layer; otherwise computed by the analytic engine,
    with `needs_keras` naming the facts only a real layer can show.
    """

    key: str  # construct | first_call | explicit_build | symbolic_input
    observed: bool
    facts: Facts
    needs_keras: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.key, "observed": self.observed, **self.facts.to_dict(),
                "needs_keras": list(self.needs_keras)}  # fmt: skip


@dataclass(frozen=True)
class Report:
    """Everything one engine learnt about one layer: facts only, no prose."""

    kind: Kind
    name: str
    config: LayerConfig
    engine: Engine  # KERAS or ANALYTIC
    forward: ForwardChoice | None  # None for the analytic engine
    input_shape: Shape
    output_shape: Shape
    variables_before: tuple[Variable, ...]
    variables_after: tuple[Variable, ...]
    versions: Mapping[str, str | None]
    measures: Measures
    runtime: Runtime
    checks: tuple[Check, ...] = ()
    story: tuple[Step, ...] = ()  # only with --explain
    agreed_with: Engine | None = None  # the other engine, when --engine both compared them
    verification: Verification | None = None  # only with --verify

    def __post_init__(self) -> None:
        # Frozen all the way down where callers look: the versions are a read-only view.
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))

    @property
    def class_name(self) -> str:
        return self.kind.class_name

    @property
    def params(self) -> Params:
        return Params.of(self.variables_after)

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables_after if v.name == name), None)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks) and (
            self.verification is None or self.verification.ok is not False
        )

    @property
    def exit_code(self) -> int:
        """3 when the kernel crashed the real forward pass (the environment failed, not the layer),
        else 1 when a check or the verification failed."""
        if self.runtime.crashed and self.runtime.observed:
            return EXIT_BACKEND
        return EXIT_OK if self.ok else EXIT_CHECK_FAILED

    @property
    def macs(self) -> int:
        return self.measures.cost.macs

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": REPORT_SCHEMA,
            "layer": {"class": self.class_name, "name": self.name, "config": self.config.to_dict(self.kind.options)},
            "engine": str(self.engine),
            "forward": None if self.forward is None else str(self.forward.mode),
            "forward_choice": None if self.forward is None else self.forward.to_dict(),
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "variables_before": [v.to_dict() for v in self.variables_before],
            "variables_after": [v.to_dict() for v in self.variables_after],
            "params": self.params.to_dict(),
            "cost": self.measures.cost.to_dict(),
            "memory": self.measures.memory.to_dict(),
            "geometry": [g.to_dict() for g in self.measures.geometry],
            "layouts": [layout.to_dict() for layout in self.measures.layouts],
            "runtime": self.runtime.to_dict(),
        }
        if self.story:
            out["explain"] = [step.to_dict() for step in self.story]
        out["checks"] = [c.to_dict() for c in self.checks]
        if self.verification is not None:
            out["verify"] = self.verification.to_dict()
        out["agreed_with"] = None if self.agreed_with is None else str(self.agreed_with)
        out["versions"] = dict(self.versions)
        return out


# The fields that describe the layer itself (engine, forward choice and versions legitimately differ
# between engines, and params derive from the variables).
SHARED_FIELDS = ("name", "config", "input_shape", "output_shape", "variables_before", "variables_after", "measures")


@dataclass(frozen=True)
class Difference:
    """A field on which two reports disagree: its path (`variables_after[0].shape[2]`) and both values."""

    path: str
    left: object
    right: object


def differences(a: object, b: object, path: str = "") -> list[Difference]:
    """Every leaf where two values (dataclasses, mappings, sequences of them) disagree."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type) and type(a) is type(b):
        named = ((f.name, f"{path}.{f.name}" if path else f.name) for f in dataclasses.fields(a))
        return [d for name, where in named for d in differences(getattr(a, name), getattr(b, name), where)]
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        found: list[Difference] = []
        for key in [*a, *(k for k in b if k not in a)]:
            where = f"{path}.{key}" if path else str(key)
            found += differences(a[key], b[key], where) if key in a and key in b else [
                Difference(where, a.get(key), b.get(key))]  # fmt: skip
        return found
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [Difference(path, a, b)]


@dataclass(frozen=True)
class Disagreement:
    """Where two engines' facts about one layer or model differ: a lead and each difference as a line."""

    lead: str  # "engines disagree on 3 field(s)"
    differences: tuple[str, ...]

    def text(self) -> str:
        """The lead and the first five differences, `; `-joined, with how many more there are."""
        more = f" (and {len(self.differences) - 5} more)" if len(self.differences) > 5 else ""
        return f"{self.lead}: {'; '.join(self.differences[:5])}{more}"

    def error(self) -> BackendError:
        return BackendError(self.text())


def disagreement(a: Report, b: Report) -> Disagreement | None:
    """How two engines' reports of the same layer differ (None when they agree on every shared field)."""
    found = compare(a, b)
    if not found:
        return None
    lines = tuple(f"{d.path}: {a.engine} {d.left!r}, {b.engine} {d.right!r}" for d in found)
    return Disagreement(f"engines disagree on {len(found)} field(s)", lines)


def compare(a: Report, b: Report) -> list[Difference]:
    """The shared fields on which two engines' reports differ (empty when they agree). The runtime
    verdict (whether it runs, the rule, the kernel set; TensorFlow words it, the rules predict it) is
    compared only on the same backend (the analytic engine predicts TensorFlow's)."""
    found = [d for name in SHARED_FIELDS for d in differences(getattr(a, name), getattr(b, name), name)]
    if a.runtime.backend == b.runtime.backend:
        found += differences(_verdict(a.runtime), _verdict(b.runtime), "runtime")
    return found


def _verdict(runtime: Runtime) -> dict[str, object]:
    return {"runs": runtime.runs, "rule": runtime.rule,
            "kernels": None if runtime.kernels is None else runtime.kernels.kernels}  # fmt: skip
