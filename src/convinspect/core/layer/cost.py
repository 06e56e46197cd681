"""Compute cost (MACs, bias adds, FLOPs) and memory of one layer's forward pass.

Everything is derived from shapes (input, output, variables), so each engine
feeds in the shapes it found: the analytic engine its own arithmetic, the Keras
engine the real layer's. Conventions:

- a MAC is one multiply-accumulate; every kernel tap counts, including taps that
  land on padding (a dense kernel multiplies those zeros too);
- the bias is not a MAC: it is one add per output element (`bias_adds`);
- FLOPs = 2 x MACs + bias adds; `mult_adds` = MACs + bias adds (the figure fvcore and
  ptflops give; torchinfo's agrees except for transposed convs, see docs/conventions.md);
- activations are not counted;
- figures cover the whole batch; an unknown batch ('?') counts one example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from convinspect.core.vocab.choices import DataFormat
from convinspect.core.vocab.dtypes import ITEMSIZE

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class CostPart:
    """One convolution inside a layer (separable layers have two)."""

    name: str  # conv | transpose | depthwise | pointwise
    macs: int
    bias_adds: int

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.bias_adds

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "macs": self.macs, "bias_adds": self.bias_adds, "flops": self.flops}


@dataclass(frozen=True)
class Cost:
    batch: int  # examples counted
    batch_known: bool
    parts: tuple[CostPart, ...]

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.parts)

    @property
    def bias_adds(self) -> int:
        return sum(p.bias_adds for p in self.parts)

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.bias_adds

    @property
    def mult_adds(self) -> int:
        """MACs plus bias adds ("mult-adds" in layer summaries)."""
        return self.macs + self.bias_adds

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "per_example": not self.batch_known,
            "macs": self.macs,
            "bias_adds": self.bias_adds,
            "flops": self.flops,
            "mult_adds": self.mult_adds,
            "parts": [p.to_dict() for p in self.parts],
        }


@dataclass(frozen=True)
class Memory:
    """Bytes: weights by variable dtype, activations by compute dtype."""

    batch: int
    batch_known: bool
    weights: int
    input: int
    output: int
    variable_dtype: str
    compute_dtype: str

    @property
    def total(self) -> int:
        return self.weights + self.input + self.output

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "per_example": not self.batch_known,
            "weights": self.weights,
            "input": self.input,
            "output": self.output,
            "total": self.total,
            "variable_dtype": self.variable_dtype,
            "compute_dtype": self.compute_dtype,
        }


class CostTerms(Protocol):
    """What a family's recipe (core/layer/families.py) tells the cost: the convolutions inside the layer."""

    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Mapping[str, tuple[int, ...]], bias_adds: int
    ) -> list[CostPart]: ...


def layer_cost(
    recipe: CostTerms,
    data_format: DataFormat,
    input_shape: Shape,
    output_shape: Shape,
    kernels: Mapping[str, tuple[int, ...]],
    use_bias: bool,
) -> Cost:
    """MACs and bias adds of one forward pass, from the layer's shapes.

    `kernels` maps variable names (kernel, depthwise_kernel, pointwise_kernel) to shapes.
    """
    batch = 1 if input_shape[0] is None else input_shape[0]  # an unknown batch counts one example
    out_channels = data_format.channels(output_shape)
    positions = batch * math.prod(data_format.spatial(output_shape))  # output positions, all examples
    inputs = batch * math.prod(data_format.spatial(input_shape)) * data_format.channels(input_shape)
    bias_adds = positions * out_channels if use_bias else 0
    parts = recipe.cost_parts(positions, inputs, out_channels, kernels, bias_adds)
    return Cost(batch=batch, batch_known=input_shape[0] is not None, parts=tuple(parts))


def layer_memory(
    input_shape: Shape,
    output_shape: Shape,
    weights: int,
    variable_dtype: str,
    compute_dtype: str,
) -> Memory:
    """Bytes of weights (given) and of the input and output activations."""
    batch = 1 if input_shape[0] is None else input_shape[0]
    itemsize = ITEMSIZE[compute_dtype]

    def size(shape: Shape) -> int:
        return batch * math.prod(d for d in shape[1:] if d is not None) * itemsize

    return Memory(
        batch=batch,
        batch_known=input_shape[0] is not None,
        weights=weights,
        input=size(input_shape),
        output=size(output_shape),
        variable_dtype=variable_dtype,
        compute_dtype=compute_dtype,
    )
