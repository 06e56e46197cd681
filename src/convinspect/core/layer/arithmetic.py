"""Exact integer arithmetic of Keras 3 conv layers: verdicts, output shapes, variables.

Mirrors keras/src/layers/convolutional/* and keras/src/ops/operation_utils.py,
but in Python integers, so sizes up to the int64 range come out exact. What
differs between families is asked of the kind's recipe (core/layer/families.py).
"""

from __future__ import annotations

import math

from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.runtime import KernelChoice, Runtime, crash_predicted, known_crash, predicted
from convinspect.core.layer.spec import INT64_MAX, LayerSpec
from convinspect.errors import InvalidInput


def validate(spec: LayerSpec) -> None:
    """Raise InvalidInput for every config Keras rejects (constructor and build)."""
    spec.kind.recipe.check(spec.config, spec.channels, spec.input_shape)


def output_spatial(spec: LayerSpec) -> tuple[int, ...]:
    """Output length per spatial axis, unchecked."""
    c = spec.config
    ops = c.output_padding or (None,) * spec.kind.rank
    return tuple(
        spec.kind.recipe.output_length(n, k, s, d, c.padding, op)
        for n, k, s, d, op in zip(spec.spatial, c.kernel_size, c.strides, c.dilation_rate, ops)
    )


def check_runnable(spec: LayerSpec, shape: tuple[int | None, ...]) -> None:
    """Configs Keras builds but TensorFlow cannot run; every engine applies these.

    - empty outputs (a transposed conv can compute a size of 0; Keras rejects it for valid convs);
    - element counts past int64.
    What TensorFlow's kernels refuse although Keras accepts it is not invalid: see core/layer/runtime.py.
    """
    c = spec.config
    sizes = zip(spec.kind.spatial_axes, spec.data_format.spatial(shape), spec.spatial, c.kernel_size, c.dilation_rate)
    for axis, size, n, k, d in sizes:
        if size <= 0:
            raise InvalidInput(
                f"output {axis} would be {size}, and Keras rejects zero or negative sizes "
                f"(input {axis} {n}, effective kernel {effective_kernel(k, d)}, padding {c.padding})",
                rule="empty_output",
            )
    fits_int64(math.prod(d for d in shape if d is not None), "the output")


def output_shape(spec: LayerSpec) -> tuple[int | None, ...]:
    """Keras' verdict and output shape, without Keras."""
    validate(spec)
    channels = spec.kind.recipe.output_channels(spec.config, spec.channels)
    shape = spec.data_format.assemble(spec.batch, output_spatial(spec), channels)
    check_runnable(spec, shape)
    return shape


def runtime(spec: LayerSpec, kernels: KernelChoice) -> Runtime:
    """Whether TensorFlow on the CPU runs this valid layer on the kernel set `kernels` chose, predicted
    from the rules of core/layer/runtime.py."""
    rule = spec.kind.recipe.cpu_rule(spec.config, spec.kind.rank, kernels.kernels)
    crash = None if rule is not None else known_crash(spec.kind.class_name, spec.config.dilation_rate, kernels)
    return predicted(rule, kernels) if crash is None else crash_predicted(crash, kernels)


def variable_shapes(spec: LayerSpec) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of each variable build() creates, in Keras' order."""
    shapes = spec.kind.recipe.variables(spec.config, spec.channels, spec.kind.rank)
    for name, shape in shapes:
        fits_int64(math.prod(shape), f"the {name}")
    fits_int64(sum(math.prod(shape) for _, shape in shapes), "the layer's parameters")
    return shapes


def fits_int64(value: int, what: str) -> int:
    """Counts past int64 are refused rather than reported wrong downstream."""
    if value > INT64_MAX:
        raise InvalidInput(f"{what} would hold {value:,} elements, over the int64 limit {INT64_MAX:,}", rule="int64")
    return value
