"""Independent NumPy references the property tests hold the code against.

- `reads_per_cell`: from a report's geometry taps, how many kernel taps touch each input cell.
- `conv_nd` / `conv_transpose_nd`: convolutions written the PyTorch way for any rank,
  (N, C, spatial...) inputs, (F, C/groups, k...) and (C, F, k...) weights, in float64.
- `torch_reference`: a whole layer of any of the ten kinds run with those, on weights
  converted by the report's layouts.
- `torch_output_length`: PyTorch's documented output-size formulas for a module's arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from convinspect.core.layer.families import Family
from convinspect.core.layer.geometry import AxisGeometry
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.report import Report

Array = Any  # a NumPy array


def reads_per_cell(g: AxisGeometry) -> Array:
    """Along one axis, the taps that touch each input cell: reads by an output (forward convs),
    or writes that survive the crop (transposed convs)."""
    counts = np.zeros(g.input, dtype=np.int64)
    if g.transposed:
        for i in range(g.input):
            counts[i] = sum(0 <= t < g.output for t in g.taps(i))
    else:
        for o in range(g.output):
            for t in g.taps(o):
                if 0 <= t < g.input:
                    counts[t] += 1
    return counts


def reads_per_input(geometry: Sequence[AxisGeometry]) -> Array:
    """The outer product over axes: taps that touch each spatial input cell."""
    counts = np.ones((), dtype=np.int64)
    for g in geometry:
        counts = np.multiply.outer(counts, reads_per_cell(g))
    return counts


def to_torch(array: Array, layout: Layout) -> Array:
    """The report's conversion: reshape (depthwise kernels only), then transpose."""
    assert tuple(array.shape) == layout.keras_shape, (array.shape, layout)
    if layout.reshape is not None:
        array = array.reshape(layout.reshape)
    converted = array.transpose(layout.transpose)
    assert tuple(converted.shape) == layout.torch_shape, (converted.shape, layout)
    return converted


def _with_bias(out: Array, bias: Array | None) -> Array:
    if bias is None:
        return out
    return out + bias.reshape(1, -1, *([1] * (out.ndim - 2)))


def conv_nd(
    x: Array, w: Array, bias: Array | None, *, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[tuple[int, int]], groups: int,
) -> Array:  # fmt: skip
    """torch.nn.functional.conv{r}d with explicit (before, after) zero padding per axis:
    x (N, C, spatial...), w (F, C/groups, k...); the output size follows from the arguments."""
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    batch, channels = x.shape[:2]
    filters, per_group = w.shape[:2]
    kernel = w.shape[2:]
    assert channels == per_group * groups and filters % groups == 0, (x.shape, w.shape, groups)
    sizes = [
        (n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(x.shape[2:], kernel, strides, dilations)
    ]  # fmt: skip
    assert all(size > 0 for size in sizes), sizes
    out = np.zeros((batch, filters, *sizes))
    step = filters // groups
    for offsets in itertools.product(*(range(k) for k in kernel)):
        window = tuple(
            slice(j * d, j * d + (m - 1) * s + 1, s) for j, d, s, m in zip(offsets, dilations, strides, sizes)
        )  # fmt: skip
        patch = x[(slice(None), slice(None), *window)]
        for g in range(groups):
            tap = w[(slice(g * step, (g + 1) * step), slice(None), *offsets)]
            out[:, g * step : (g + 1) * step] += np.einsum(
                "nc...,fc->nf...", patch[:, g * per_group : (g + 1) * per_group], tap
            )
    return _with_bias(out, bias)


def conv_transpose_nd(
    x: Array, w: Array, bias: Array | None, *, strides: Sequence[int], dilations: Sequence[int],
    crops: Sequence[tuple[int, int, int]],
) -> Array:  # fmt: skip
    """torch.nn.functional.conv_transpose{r}d without padding: x (N, C, spatial...), w (C, F, k...)
    scattered onto (n-1)*s + d*(k-1) + 1 cells per axis; then, per axis, (crop_before, crop_after,
    extra_after): crop at both ends, extend the end with cells no input reaches."""
    batch, channels = x.shape[:2]
    assert w.shape[0] == channels, (x.shape, w.shape)
    filters, kernel, inputs = w.shape[1], w.shape[2:], x.shape[2:]
    scatter = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(inputs, kernel, strides, dilations)]
    full = np.zeros((batch, filters, *(length + extra for length, (_, _, extra) in zip(scatter, crops))))
    for offsets in itertools.product(*(range(k) for k in kernel)):
        window = tuple(
            slice(j * d, j * d + (n - 1) * s + 1, s) for j, d, s, n in zip(offsets, dilations, strides, inputs)
        )  # fmt: skip
        tap = w[(slice(None), slice(None), *offsets)]
        full[(slice(None), slice(None), *window)] += np.einsum("nc...,cf->nf...", x, tap)
    kept = tuple(slice(before, full.shape[2 + a] - after) for a, (before, after, _) in enumerate(crops))
    return _with_bias(full[(slice(None), slice(None), *kept)], bias)


def torch_reference(report: Report, weights: Mapping[str, Array], x: Array) -> Array:
    """The layer run the PyTorch way on (N, C, spatial...) input `x`, with the Keras weights
    converted by the report's layouts and the geometry's padding, stride, dilation and crops."""
    layouts = {layout.variable: layout for layout in report.measures.layouts}
    assert set(layouts) == set(weights), (sorted(layouts), sorted(weights))
    w = {name: to_torch(np.asarray(array, dtype=np.float64), layouts[name]) for name, array in weights.items()}
    geometry = report.measures.geometry
    strides, dilations = [g.stride for g in geometry], [g.dilation for g in geometry]
    pads = [(g.pad_before, g.pad_after) for g in geometry]
    bias, channels, family = w.get("bias"), x.shape[1], report.kind.family
    if family is Family.TRANSPOSE:
        crops = [(g.crop_before, g.crop_after, g.extra_after) for g in geometry]
        return conv_transpose_nd(x, w["kernel"], bias, strides=strides, dilations=dilations, crops=crops)
    if family is Family.CONV:
        groups = report.config.groups
        assert groups is not None
        return conv_nd(x, w["kernel"], bias, strides=strides, dilations=dilations, pads=pads, groups=groups)
    if family is Family.DEPTHWISE:  # a grouped conv, one group per input channel
        return conv_nd(x, w["kernel"], bias, strides=strides, dilations=dilations, pads=pads, groups=channels)
    middle = conv_nd(x, w["depthwise_kernel"], None, strides=strides, dilations=dilations, pads=pads, groups=channels)
    ones = [1] * len(geometry)
    return conv_nd(
        middle, w["pointwise_kernel"], bias, strides=ones, dilations=ones, pads=[(0, 0)] * len(ones), groups=1
    )


def torch_output_length(module: Mapping[str, Any], axis: int, n: int) -> int:
    """PyTorch's documented output size of a Conv{r}d / ConvTranspose{r}d module along one axis."""
    k, s, d, p = module["kernel_size"][axis], module["stride"][axis], module["dilation"][axis], module["padding"][axis]
    if "ConvTranspose" in module["class"]:
        return (n - 1) * s - 2 * p + d * (k - 1) + module["output_padding"][axis] + 1
    return (n + 2 * p - d * (k - 1) - 1) // s + 1
