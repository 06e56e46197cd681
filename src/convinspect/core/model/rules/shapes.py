"""Layers that move, merge or keep values without arithmetic: the input, activations and dropout,
padding, cropping and upsampling, merges, concatenation, flatten, reshape, permute, repeat."""

from __future__ import annotations

import math
from collections.abc import Sequence

from convinspect.core.model.rules.common import (
    Config,
    Shape,
    Unsizable,
    axes_of,
    checked_activation,
    data_format_of,
    int_pairs,
    int_tuple,
    need_rank,
    shape_repr,
    spatial_axes,
)
from convinspect.core.model.rules.registry import Sized, Window, identity_windows, rule
from convinspect.core.vocab.choices import DataFormat
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


@rule("InputLayer")
def _input(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    return Sized((inputs[0],), windows=identity_windows(inputs[0]))


_SAME_SHAPE = (
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Rescaling", "Identity", "StochasticDepth", "Masking",
)  # fmt: skip


_RATES = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "AlphaDropout")


@rule(*_SAME_SHAPE)
def _same(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    if class_name == "Activation":
        checked_activation(name, config.get("activation"))
    if class_name in _RATES:
        rate = config.get("rate")
        if type(rate) not in (int, float) or not 0 <= rate <= 1:  # type: ignore[operator]
            given = rate if type(rate) in (int, float) else shown(rate)
            raise InvalidInput(f"layer {shown(name)} ({class_name}): rate is {given}; Keras takes a number between "
                               "0 and 1")  # fmt: skip
    return Sized((inputs[0],), windows=identity_windows(inputs[0]))


_RESIZE = {f"{op}{r}D": r for op in ("ZeroPadding", "Cropping", "UpSampling") for r in (1, 2, 3)}


@rule(*_RESIZE)
def _resize(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _RESIZE[class_name]
    shape = inputs[0]
    need_rank(name, shape, rank + 2, class_name)
    data_format = (
        data_format_of(config) if rank > 1 or class_name.startswith("ZeroPadding") else DataFormat.CHANNELS_LAST
    )
    out = list(shape)
    windows: list[Window | None] = list(identity_windows(shape))
    if class_name.startswith("UpSampling"):
        size = int_tuple(config.get("size", 2), rank, "size", name)
        for index, axis in enumerate(spatial_axes(rank, data_format)):
            n = shape[axis]
            out[axis] = None if n is None else n * size[index]
            windows[axis] = None  # one input cell feeds several outputs: not a window
        return Sized((tuple(out),), windows=tuple(windows))
    key = "padding" if class_name.startswith("ZeroPadding") else "cropping"
    pairs = int_pairs(config.get(key, 1), rank, key, name)
    sign = 1 if key == "padding" else -1
    for (before, after), axis in zip(pairs, spatial_axes(rank, data_format)):
        n = shape[axis]
        if n is not None:
            out[axis] = n + sign * (before + after)
            if out[axis] <= 0:  # type: ignore[operator]
                raise InvalidInput(
                    f"layer {shown(name)} ({class_name}): cropping {before + after} of an axis of size {n}"
                )
        windows[axis] = Window(axis, 1, 1, sign * before)
    return Sized((tuple(out),), windows=tuple(windows))


def _broadcast(shapes: Sequence[Shape], name: str, class_name: str) -> Shape:
    """The elementwise result shape of merges (NumPy broadcasting; None stays None)."""
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for dims in zip(*padded):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise InvalidInput(
                f"layer {shown(name)} ({class_name}) cannot combine shapes " + ", ".join(shape_repr(s) for s in shapes)
            )
        if known:
            out.append(known.pop())
        else:
            out.append(None if None in dims else 1)
    return tuple(out)


_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Divide", "TrueDivide", "CustomScaleLayer")


@rule(*_MERGES)
def _merge(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    if class_name == "CustomScaleLayer":  # inception_resnet_v2: inputs[0] + inputs[1] * scale
        if len(inputs) != 2:
            raise InvalidInput(f"layer {shown(name)} (CustomScaleLayer) takes two inputs, got {len(inputs)}")
    if not inputs:
        raise InvalidInput(f"layer {shown(name)} ({class_name}) has no inputs")
    out = _broadcast(inputs, name, class_name)
    return Sized((out,), windows=identity_windows(out))


@rule("Concatenate")
def _concatenate(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    ndim = len(inputs[0])
    if any(len(s) != ndim for s in inputs):
        raise InvalidInput(f"layer {shown(name)} (Concatenate): inputs of different ranks")
    axis = axes_of(config.get("axis", -1), ndim, name)[0]
    out: list[int | None] = []
    for a in range(ndim):
        dims = [s[a] for s in inputs]
        if a == axis:
            out.append(None if None in dims else sum(d for d in dims if d is not None))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise InvalidInput(
                f"layer {shown(name)} (Concatenate) needs inputs that match except on axis {axis}, got "
                + ", ".join(shape_repr(s) for s in inputs)
            )
        out.append(known.pop() if known else None)
    windows = tuple(None if a == axis else Window(a) for a in range(ndim))
    return Sized((tuple(out),), windows=windows)


@rule("Flatten")
def _flatten(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    rest = shape[1:]
    out = (shape[0], None if None in rest else math.prod(d for d in rest if d is not None))
    return Sized((out,), windows=(Window(0), None))


@rule("Reshape")
def _reshape(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    target = config.get("target_shape")
    if not isinstance(target, (list, tuple)) or not all(type(d) is int and (d > 0 or d == -1) for d in target):
        raise InvalidInput(f"layer {shown(name)} (Reshape): target_shape is {shown(target)}")
    if list(target).count(-1) > 1:
        raise InvalidInput(f"layer {shown(name)} (Reshape): more than one -1 in target_shape {shown(target)}")
    if None in shape[1:]:
        raise Unsizable(f"layer {shown(name)}: Reshape of an unknown size {shape_repr(shape)}; use --engine keras")
    total = math.prod(d for d in shape[1:] if d is not None)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise InvalidInput(f"layer {shown(name)} (Reshape) cannot reshape {shape_repr(shape)} into {shown(target)}")
        dims = tuple(total // known if d == -1 else d for d in target)
    else:
        if known != total:
            raise InvalidInput(f"layer {shown(name)} (Reshape) cannot reshape {shape_repr(shape)} into {shown(target)}")
        dims = tuple(target)
    out = (shape[0], *dims)
    return Sized((out,), windows=tuple([Window(0)] + [None] * len(dims)))


@rule("Permute")
def _permute(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    dims = config.get("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(shape))):
        raise InvalidInput(f"layer {shown(name)} (Permute): dims is {shown(dims)} for inputs {shape_repr(shape)}")
    out = (shape[0], *(shape[d] for d in dims))
    return Sized((out,), windows=(Window(0), *(Window(d) for d in dims)))


@rule("RepeatVector")
def _repeat(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    n = config.get("n")
    if type(n) is not int or n < 1:
        raise InvalidInput(f"layer {shown(name)} (RepeatVector): n is {shown(n)}")
    shape = inputs[0]
    return Sized(((shape[0], n, *shape[1:]),), windows=(Window(0), None, *(Window(a) for a in range(1, len(shape)))))
