"""Compute cost (MACs, bias adds, FLOPs) and memory of one layer's forward pass.

Everything is derived from shapes (input, output, variables), so each engine
feeds in the shapes it found: the analytic engine its own arithmetic, the Keras
engine the real layer's. Conventions:

- a MAC is one multiply-accumulate; every kernel tap counts, including taps that
  land on padding (a dense kernel multiplies those zeros too);
- the bias is not a MAC: it is one add per output element (`bias_adds`);
- FLOPs = 2 x MACs + bias adds; `mult_adds` (torchinfo's figure) = MACs + bias adds;
- activations are not counted;
- figures cover the whole batch; an unknown batch ('?') counts one example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.spec import ITEMSIZE

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
        """What torchinfo-style summaries print as "mult-adds": MACs plus bias adds."""
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
    def activations(self) -> int:
        return self.input + self.output

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


def spatial(shape: Shape, channels_last: bool) -> tuple[int, ...]:
    """The spatial dimensions of a full shape (batch and channels left out)."""
    dims = shape[1:-1] if channels_last else shape[2:]
    return tuple(d for d in dims if d is not None)


def _split(shape: Shape, channels_last: bool) -> tuple[int, tuple[int, ...], int]:
    """(examples counted, spatial dims, channels); an unknown batch counts as 1."""
    batch = 1 if shape[0] is None else shape[0]
    channels = shape[-1] if channels_last else shape[1]
    assert channels is not None
    return batch, spatial(shape, channels_last), channels


def layer_cost(
    family: str,
    input_shape: Shape,
    output_shape: Shape,
    kernels: Mapping[str, tuple[int, ...]],
    use_bias: bool,
    channels_last: bool = True,
) -> Cost:
    """MACs and bias adds of one forward pass, from the layer's shapes.

    `kernels` maps variable names (kernel, depthwise_kernel, pointwise_kernel) to shapes.
    """
    batch, in_spatial, in_channels = _split(input_shape, channels_last)
    _, out_spatial, out_channels = _split(output_shape, channels_last)
    positions = batch * math.prod(out_spatial)  # output positions, all examples
    bias_adds = positions * out_channels if use_bias else 0
    if family == "conv":  # kernel (k..., in/groups, filters): each output reads k... x in/groups
        parts = [CostPart("conv", positions * out_channels * math.prod(kernels["kernel"][:-1]), bias_adds)]
    elif family == "transpose":  # kernel (k..., filters, in): each input element scatters k... x filters
        inputs = batch * math.prod(in_spatial) * in_channels
        parts = [CostPart("transpose", inputs * math.prod(kernels["kernel"][:-1]), bias_adds)]
    elif family == "depthwise":  # kernel (k..., in, multiplier): each output reads k... of one channel
        parts = [CostPart("depthwise", positions * out_channels * math.prod(kernels["kernel"][:-2]), bias_adds)]
    else:  # separable: depthwise then a 1x1 pointwise conv; the bias follows the pointwise part
        depthwise = kernels["depthwise_kernel"]
        middle = depthwise[-2] * depthwise[-1]
        parts = [
            CostPart("depthwise", positions * middle * math.prod(depthwise[:-2]), 0),
            CostPart("pointwise", positions * out_channels * middle, bias_adds),
        ]
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
