"""What solve finds: the bounds and fixed settings of a search, one axis's setting, a solution
(with the constructor to paste and where it runs), the nearest sizes when there is none, the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.commands.solve.text import command, keras_call
from convinspect.core.layer.kinds import Kind
from convinspect.core.layer.runtime import Rule
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.vocab.choices import Padding

SOLVE_SCHEMA = "convinspect.solve/1"


@dataclass(frozen=True)
class Bounds:
    kernel: int = 7
    stride: int = 4
    dilation: int = 3


@dataclass(frozen=True)
class Fixed:
    """The settings given on the command line; None: searched."""

    kernel: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    dilation: tuple[int, ...] | None = None
    padding: Padding | None = None
    output_padding: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Axis:
    """One axis's settings and the length they give."""

    kernel: int
    stride: int
    dilation: int
    output_padding: int | None
    length: int

    @property
    def score(self) -> tuple[int, ...]:
        return (self.output_padding is not None, self.dilation > 1, self.kernel, self.stride,
                self.output_padding or 0, self.dilation)  # fmt: skip


RANKING = (
    "no output_padding before output_padding, no dilation before dilation, kernels that cover their "
    "stride, smaller kernels, same before valid, the same settings on every axis, smaller strides"
)

# Whose runtime can refuse a setting Keras accepts: TensorFlow's CPU kernels (both sets) refuse the
# even-kernel transposed `same` case; Keras' JAX and NumPy backends run it (tests/integration/test_solve.py runs them),
# except where XLA's CPU compiler aborts on the layer (core/layer/xla.py).
REFUSING_BACKEND = "tensorflow"
RUNS_INSTEAD = ("jax", "numpy")


@dataclass(frozen=True)
class Solution:
    spec: LayerSpec
    output_shape: tuple[int | None, ...]
    encoder: LayerSpec | None = None  # transposed kinds: the forward conv that maps the target back
    refused: Rule | None = None  # the rule of TensorFlow's CPU kernels that refuses it (Keras accepts it)
    aborts: bool = False  # XLA's CPU compiler (the JAX backend) aborts the process on it

    @property
    def runs_everywhere(self) -> bool:
        return self.refused is None and not self.aborts

    @property
    def runs_on(self) -> tuple[str, ...]:
        """The backends that run it where TensorFlow's CPU kernels refuse it."""
        return tuple(b for b in RUNS_INSTEAD if not (b == "jax" and self.aborts))

    @property
    def keras(self) -> str:
        """The constructor to paste: `keras.layers.Conv2DTranspose(16, 3, strides=2)`."""
        return keras_call(self.spec)

    @property
    def command(self) -> str:
        return command(self.spec)

    def fails_on(self, backend: str) -> bool:
        return self.refused is not None if backend == REFUSING_BACKEND else backend == "jax" and self.aborts

    def to_dict(self) -> dict[str, Any]:
        c = self.spec.config
        out: dict[str, Any] = {
            "kernel_size": list(c.kernel_size), "strides": list(c.strides), "padding": str(c.padding),
            "dilation_rate": list(c.dilation_rate),
        }  # fmt: skip
        if "output_padding" in self.spec.kind.options:
            out["output_padding"] = None if c.output_padding is None else list(c.output_padding)
        if c.filters is not None:
            out["filters"] = c.filters
        if c.depth_multiplier is not None:
            out["depth_multiplier"] = c.depth_multiplier
        if c.groups is not None and c.groups != 1:
            out["groups"] = c.groups
        out["output_shape"] = list(self.output_shape)
        out["runs_everywhere"] = self.runs_everywhere
        if self.refused is not None:
            out["refused"] = {"by": "tensorflow_cpu", "rule": str(self.refused), "runs_on": list(self.runs_on)}
        if self.aborts:
            out["crashes"] = {"by": "xla_cpu", "backend": "jax", "signal": "SIGABRT"}
        out["keras"] = self.keras
        out["command"] = self.command
        if self.encoder is not None:
            out["encoder"] = {"keras": keras_call(self.encoder), "command": command(self.encoder)}
        return out


@dataclass(frozen=True)
class Nearest:
    axis: str
    target: int
    below: int | None
    above: int | None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "target": self.target, "below": self.below, "above": self.above, "hint": self.hint}


@dataclass(frozen=True)
class SolveResult:
    kind: Kind
    input_shape: tuple[int | None, ...]
    target: tuple[int | None, ...]
    bounds: Bounds
    limit: int
    solutions: tuple[Solution, ...]
    nearest: tuple[Nearest, ...] = ()
    channels_note: str | None = None
    truncated: bool = False  # some axis had more candidates than were combined (AXIS_CANDIDATES)
    backend: str = REFUSING_BACKEND  # whose runtime ranks the solutions
    runs_only: bool = False  # settings that runtime refuses were left out

    @property
    def exit_code(self) -> int:
        return 0 if self.solutions else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SOLVE_SCHEMA,
            "layer": self.kind.class_name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.target),
            "bounds": {
                "max_kernel": self.bounds.kernel,
                "max_stride": self.bounds.stride,
                "max_dilation": self.bounds.dilation,
                "limit": self.limit,
            },
            "backend": self.backend,
            "runs_only": self.runs_only,
            "solutions": [s.to_dict() for s in self.solutions],
            "truncated": self.truncated,
        }
        if not self.solutions:
            out["nearest"] = [n.to_dict() for n in self.nearest]
        if self.channels_note:
            out["notes"] = [self.channels_note]
        return out


# -- text a user pastes --------------------------------------------------------------------
