"""--verify: the real layer's output on seeded random weights and input, against the float64 reference."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from convinspect.core.layer import arithmetic
from convinspect.core.layer.forward import pass_bytes
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.verify import Verification, tolerance
from convinspect.core.vocab.units import human_bytes
from convinspect.errors import BackendError, InvalidInput


def terms_of(spec: LayerSpec) -> int:
    """Products summed into one output: what rounding errors accumulate over."""
    c = spec.config
    taps = math.prod(c.kernel_size)
    channels = spec.channels
    family = spec.kind.family.value
    if family == "conv":
        return taps * channels // (c.groups or 1)
    if family == "depthwise":
        return taps
    if family == "separable":
        return taps + channels * (c.depth_multiplier or 1)
    return taps * channels


def _float64(keras: Any, tensor: Any) -> Any:
    """A backend tensor's exact values as a float64 NumPy array (16-bit floats widen exactly via float32)."""
    if keras.backend.standardize_dtype(tensor.dtype) != "float64":
        tensor = keras.ops.cast(tensor, "float32")
    return keras.ops.convert_to_numpy(tensor).astype("float64")


def _without_activation(keras: Any, spec: LayerSpec, layer: Any) -> Any:
    """The same layer, with the same weights, and a linear activation."""
    bare = getattr(keras.layers, spec.kind.class_name)(**dict(spec.keras_kwargs(), activation="linear"))
    bare.build(spec.input_shape)
    for mine, theirs in zip(bare.weights, layer.weights):
        mine.assign(theirs)
    return bare


def verify(keras: Any, np: Any, spec: LayerSpec, budget: int, seed: int | None, backend: str) -> Verification:
    """Seeded random weights and input, the real forward pass, and the float64 reference beside it.

    The real input is used when its forward pass fits the budget; otherwise a probe with the same
    configuration: batch 1, each spatial axis twice the effective kernel (at least 4)."""
    from convinspect.engines import reference

    shape = tuple(1 if d is None else d for d in spec.input_shape)
    out = arithmetic.output_shape(dataclasses.replace(spec, input_shape=shape))
    probe = pass_bytes(spec, shape, out) > budget
    if probe:
        c = spec.config
        spatial = tuple(max(4, 2 * effective_kernel(k, d)) for k, d in zip(c.kernel_size, c.dilation_rate))
        shape = spec.data_format.assemble(1, spatial, spec.channels)  # type: ignore[assignment]
        small = dataclasses.replace(spec, input_shape=shape)
        if pass_bytes(small, shape, arithmetic.output_shape(small)) > budget:
            raise InvalidInput(f"even a probe of this layer (input {shape}) would allocate more than the budget of "
                               f"{human_bytes(budget)}; raise --budget to verify it", "verify")  # fmt: skip
    spec = dataclasses.replace(spec, input_shape=shape)
    rng = np.random.default_rng(0 if seed is None else seed)
    layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
    layer.build(shape)
    terms = terms_of(spec)
    weights = {}
    for variable in layer.weights:
        scale = 1.0 if variable.name == "bias" else 1 / math.sqrt(terms)  # outputs of order 1
        variable.assign(keras.ops.cast(rng.standard_normal(tuple(variable.shape)) * scale, variable.dtype))
        weights[variable.name] = _float64(keras, variable)
    x = keras.ops.cast(rng.standard_normal(shape), layer.compute_dtype)
    x64 = _float64(keras, x)
    try:
        y = layer(x)
    except Exception as err:  # the backend could not run it after all
        raise BackendError(f"{backend} failed while verifying: {type(err).__name__}: {err}") from None
    # The dtype the backend really computed in (JAX computes float64 layers in float32 unless
    # JAX_ENABLE_X64 is set): rounding is judged by it.
    computed = keras.backend.standardize_dtype(y.dtype)
    real = _float64(keras, y)
    expected, activation_checked = reference.forward(spec, x64, weights, real.shape)
    if not activation_checked:  # compare before the activation: run the layer again without it
        real = _float64(keras, _without_activation(keras, spec, layer)(x))
    error = real - expected
    # Rounding error grows with the sum of |products| an output adds, not with the output: where they
    # cancel, the output is small and its error is not. The same layer on |x| and |w| gives those sums.
    absolute = {name: np.abs(value) for name, value in weights.items()}
    magnitude, _ = reference.forward(spec, np.abs(x64), absolute, real.shape, activate=False)
    scale = max(float(np.abs(expected).max()), float(np.abs(magnitude).max())) or 1.0
    max_abs = float(np.abs(error).max()) if np.isfinite(error).all() else float("inf")
    limit = tolerance(computed if computed in ("float64", "float32", "float16", "bfloat16") else "float32", terms)
    ok = max_abs / scale <= limit
    found = None
    if not ok:  # where the error sits, judged before the activation (a bias is added before it)
        if activation_checked and spec.config.activation != "linear":
            pre, _ = reference.forward(spec, x64, weights, real.shape, activate=False)
            error, expected = _float64(keras, _without_activation(keras, spec, layer)(x)) - pre, pre
        atol = max(limit * float(np.abs(expected).max() or 1.0), 1e-12)
        found = reference.finding(error, expected, weights.get("bias"), spec.data_format.channel_axis, atol)
    return Verification(ok, max_abs, max_abs / scale, limit, computed, terms, shape, probe,
                        activation_checked, found, backend)  # fmt: skip
