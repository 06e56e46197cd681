"""Exact integer arithmetic of Keras 3 conv layers: verdicts, output shapes, variables.

Mirrors keras/src/layers/convolutional/* and keras/src/ops/operation_utils.py,
but in Python integers, so sizes up to the int64 range come out exact.
"""

from __future__ import annotations

import math

from convinspect.core.spec import INT64_MAX, LayerSpec
from convinspect.errors import InvalidInput


def effective_kernel(k: int, d: int) -> int:
    """Kernel extent once dilated: d·(k−1)+1."""
    return d * (k - 1) + 1


def conv_length(n: int, k: int, s: int, d: int, padding: str) -> int:
    """Output length of a forward conv along one axis (may be <= 0 for valid)."""
    if padding == "valid":
        return (n - effective_kernel(k, d)) // s + 1
    return (n - 1) // s + 1  # same and causal: ceil(n / s)


def transpose_length(n: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
    """Output length of a transposed conv along one axis."""
    ke = effective_kernel(k, d)
    if padding == "valid":
        extra = max(ke, s) - ke if output_padding is None else output_padding
        return (n - 1) * s + ke + extra
    if output_padding is None:
        return n * s
    return (n - 1) * s + ke % 2 + output_padding


def validate(spec: LayerSpec) -> None:
    """Raise InvalidInput for every config Keras rejects (constructor and build)."""
    family = spec.kind.family
    if spec.kind.forbids_strided_dilation and max(spec.strides) > 1 and max(spec.dilation_rate) > 1:
        raise InvalidInput(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={spec.strides} and dilation_rate={spec.dilation_rate}"
        )
    if family == "conv":
        assert spec.filters is not None and spec.groups is not None
        if spec.filters % spec.groups:
            raise InvalidInput(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={spec.groups}, filters={spec.filters}."
            )
        if spec.channels % spec.groups:
            raise InvalidInput(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={spec.groups}, but the input has {spec.channels} "
                f"channels (full input shape is {spec.input_shape})."
            )
    if family == "transpose" and spec.output_padding is not None:
        for axis, (op, s) in enumerate(zip(spec.output_padding, spec.strides)):
            if op >= s:
                raise InvalidInput(
                    "`output_padding` must be strictly less than `strides` for all "
                    f"dimensions. At dimension {axis}, `output_padding` is {op} but "
                    f"`strides` is {s}."
                )


def output_channels(spec: LayerSpec) -> int:
    if spec.kind.family == "depthwise":
        assert spec.depth_multiplier is not None
        return spec.channels * spec.depth_multiplier
    assert spec.filters is not None
    return spec.filters


def output_spatial(spec: LayerSpec) -> tuple[int, ...]:
    """Output length per spatial axis, unchecked."""
    if spec.kind.family == "transpose":
        ops = spec.output_padding or (None,) * spec.kind.rank
        return tuple(
            transpose_length(n, k, s, d, spec.padding, op)
            for n, k, s, d, op in zip(spec.spatial, spec.kernel_size, spec.strides, spec.dilation_rate, ops)
        )
    return tuple(
        conv_length(n, k, s, d, spec.padding)
        for n, k, s, d in zip(spec.spatial, spec.kernel_size, spec.strides, spec.dilation_rate)
    )


def assemble_shape(spec: LayerSpec, spatial: tuple[int, ...], channels: int) -> tuple[int | None, ...]:
    if spec.channels_last:
        return (spec.batch, *spatial, channels)
    return (spec.batch, channels, *spatial)


def check_runnable(spec: LayerSpec, shape: tuple[int | None, ...]) -> None:
    """Configs Keras builds but TensorFlow cannot run; every engine applies these.

    - empty outputs (a transposed conv can compute a size of 0; Keras rejects it for valid convs);
    - transposed `same` convs with an even effective kernel and output_padding 0 on an
      axis: the output (in-1)·s is too short for its `same` conv to give the input back,
      and TensorFlow's Conv*DBackpropInput refuses it at call time;
    - element counts past int64.
    """
    dims = shape[1:-1] if spec.channels_last else shape[2:]
    sizes = zip(spec.kind.spatial_axes, dims, spec.spatial, spec.kernel_size, spec.dilation_rate)
    for axis, size, n, k, d in sizes:
        if size is not None and size <= 0:
            raise InvalidInput(
                f"output {axis} would be {size}, and Keras rejects zero or negative sizes "
                f"(input {axis} {n}, effective kernel {effective_kernel(k, d)}, padding {spec.padding})"
            )
    if spec.kind.family == "transpose" and spec.padding == "same" and spec.output_padding is not None:
        axes = zip(spec.kind.spatial_axes, spec.kernel_size, spec.dilation_rate, spec.output_padding)
        for axis, k, d, op in axes:
            if op == 0 and effective_kernel(k, d) % 2 == 0:
                raise InvalidInput(
                    f"TensorFlow cannot run {spec.kind.class_name} with padding='same', an even effective "
                    f"kernel ({effective_kernel(k, d)}) and output_padding=0 on the {axis} axis: the output "
                    "would be one step too short to map back onto the input; use output_padding >= 1 "
                    "there, or leave output_padding unset"
                )
    fits_int64(math.prod(d for d in shape if d is not None), "the output")


def output_shape(spec: LayerSpec) -> tuple[int | None, ...]:
    """Keras' verdict and output shape, without Keras."""
    validate(spec)
    shape = assemble_shape(spec, output_spatial(spec), output_channels(spec))
    check_runnable(spec, shape)
    return shape


def variable_shapes(spec: LayerSpec) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of each variable build() creates, in Keras' order."""
    k, c, family = spec.kind, spec.channels, spec.kind.family
    ks = spec.kernel_size
    if family == "conv":
        assert spec.groups is not None and spec.filters is not None
        shapes = [("kernel", (*ks, c // spec.groups, spec.filters))]
        bias = spec.filters
    elif family == "transpose":
        assert spec.filters is not None
        shapes = [("kernel", (*ks, spec.filters, c))]
        bias = spec.filters
    elif family == "depthwise":
        assert spec.depth_multiplier is not None
        shapes = [("kernel", (*ks, c, spec.depth_multiplier))]
        bias = c * spec.depth_multiplier
    else:
        assert spec.depth_multiplier is not None and spec.filters is not None
        shapes = [
            ("depthwise_kernel", (*ks, c, spec.depth_multiplier)),
            ("pointwise_kernel", ((1,) * k.rank) + (c * spec.depth_multiplier, spec.filters)),
        ]
        bias = spec.filters
    if spec.use_bias:
        shapes.append(("bias", (bias,)))
    for name, shape in shapes:
        fits_int64(math.prod(shape), f"the {name}")
    return shapes


def fits_int64(value: int, what: str) -> int:
    """Counts past int64 are refused rather than reported wrong downstream."""
    if value > INT64_MAX:
        raise InvalidInput(f"{what} would hold {value:,} elements, over the int64 limit {INT64_MAX:,}")
    return value
