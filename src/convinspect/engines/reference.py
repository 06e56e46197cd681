"""The reference forward pass: every conv kind in float64 NumPy, straight from the definitions.

Written without Keras or any backend, so that it can check them:
- forward convs are cross-correlations: output o along an axis reads padded input cells
  o·s + t·d for taps t < k; `valid` pads nothing, `same` pads max((out−1)·s + ke − n, 0)
  with the odd cell after, `causal` pads ke − 1 before;
- groups split the channels (input channel block g feeds filter block g); a depthwise conv
  maps channel c to outputs c·m … c·m + m − 1; a separable conv is a depthwise conv, then
  a 1×1 conv, then the bias;
- a transposed conv scatters: input cell i adds its kernel tap t at i·s + t·d of a strip of
  (n−1)·s + ke cells, of which the output keeps `out` cells from the forward conv's
  `pad_before` on (a longer output gets cells nothing reached: only the bias);
- channels_first data is moved to channels_last and back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from convinspect.core.layer.families import Family
from convinspect.core.layer.geometry import effective_kernel, forward_pads
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.vocab.choices import DataFormat


def _windows(x: Any, spec: LayerSpec, out: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
    """For each kernel tap: the input cells every output position reads through it, (N, *out, C)."""
    c = spec.config
    pads = [(0, 0)]
    for n, o, k, s, d in zip(x.shape[1:-1], out, c.kernel_size, c.strides, c.dilation_rate):
        pads.append(forward_pads(n, o, effective_kernel(k, d), s, c.padding))
    padded = np.pad(x, [*pads, (0, 0)])
    found = []
    for tap in itertools.product(*(range(k) for k in c.kernel_size)):
        index = tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, o in zip(tap, c.dilation_rate, c.strides, out)
        )
        where = (slice(None), *index, slice(None))
        found.append((tap, padded[where]))
    return found


def _conv(x: Any, kernel: Any, spec: LayerSpec, out: tuple[int, ...], groups: int) -> Any:
    """Grouped cross-correlation: kernel (k..., C/groups, F)."""
    filters = kernel.shape[-1]
    result = np.zeros((x.shape[0], *out, filters))
    per_in, per_out = x.shape[-1] // groups, filters // groups
    for tap, window in _windows(x, spec, out):
        for g in range(groups):
            block = window[..., g * per_in : (g + 1) * per_in]
            result[..., g * per_out : (g + 1) * per_out] += block @ kernel[tap][:, g * per_out : (g + 1) * per_out]
    return result


def _depthwise(x: Any, kernel: Any, spec: LayerSpec, out: tuple[int, ...]) -> Any:
    """Each channel on its own: kernel (k..., C, M); output channel c·M + m."""
    channels, multiplier = kernel.shape[-2:]
    result = np.zeros((x.shape[0], *out, channels, multiplier))
    for tap, window in _windows(x, spec, out):
        result += window[..., :, None] * kernel[tap]
    return result.reshape((x.shape[0], *out, channels * multiplier))


def _transpose(x: Any, kernel: Any, spec: LayerSpec, out: tuple[int, ...]) -> Any:
    """Scatter: kernel (k..., F, C); input cell i adds kernel[t] · x[i] at i·s + t·d."""
    c = spec.config
    filters = kernel.shape[-2]
    spatial = x.shape[1:-1]
    strips = [(n - 1) * s + effective_kernel(k, d) for n, s, k, d in zip(spatial, c.strides, c.kernel_size,
                                                                          c.dilation_rate)]  # fmt: skip
    full = np.zeros((x.shape[0], *strips, filters))
    for tap in itertools.product(*(range(k) for k in c.kernel_size)):
        index = tuple(slice(t * d, t * d + (n - 1) * s + 1, s) for t, d, s, n in zip(tap, c.dilation_rate, c.strides,
                                                                                       spatial))  # fmt: skip
        target = (slice(None), *index, slice(None))
        full[target] += x @ kernel[tap].T
    # The output is the strip seen by the forward conv that maps it back to the input.
    result = np.zeros((x.shape[0], *out, filters))
    src, dst = [slice(None)], [slice(None)]
    for n, o, k, s, d, strip in zip(spatial, out, c.kernel_size, c.strides, c.dilation_rate, strips):
        before = forward_pads(o, n, effective_kernel(k, d), s, c.padding)[0]
        length = min(o, strip - before)
        src.append(slice(before, before + length))
        dst.append(slice(0, length))
    into, taken = (*dst, slice(None)), (*src, slice(None))
    result[into] = full[taken]
    return result


def _softmax(z: Any) -> Any:
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(z: Any) -> Any:
    return 1 / (1 + np.exp(-z))


# Keras' activations with their default arguments, in float64 (softmax on the last axis).
ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "relu6": lambda z: np.clip(z, 0, 6),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
    "softplus": lambda z: np.logaddexp(z, 0),
    "softsign": lambda z: z / (1 + np.abs(z)),
    "silu": lambda z: z * _sigmoid(z),
    "swish": lambda z: z * _sigmoid(z),
    "exponential": np.exp,
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "log_sigmoid": lambda z: -np.logaddexp(-z, 0),
    "mish": lambda z: z * np.tanh(np.logaddexp(z, 0)),
    "hard_tanh": lambda z: np.clip(z, -1, 1),
    "tanh_shrink": lambda z: z - np.tanh(z),
    "softmax": _softmax,
    "log_softmax": lambda z: np.log(_softmax(z)),
}


def forward(
    spec: LayerSpec, x: Any, weights: dict[str, Any], output_shape: tuple[int, ...], activate: bool = True
) -> tuple[Any, bool]:
    """The layer's output for input `x` (the layer's own layout), in float64, and whether the
    activation was applied (False: not asked, or not in ACTIVATIONS: the result stops before it).
    Activations act on the output as Keras lays it out (softmax on its last axis)."""
    c = spec.config
    channels_first = c.data_format is DataFormat.CHANNELS_FIRST
    x = np.asarray(x, dtype=np.float64)
    if channels_first:
        x = np.moveaxis(x, 1, -1)
    out = tuple(int(d) for d in (output_shape[2:] if channels_first else output_shape[1:-1]))
    family = spec.kind.family
    w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    if family is Family.CONV:
        result = _conv(x, w["kernel"], spec, out, c.groups or 1)
    elif family is Family.DEPTHWISE:
        result = _depthwise(x, w["kernel"], spec, out)
    elif family is Family.SEPARABLE:
        middle = _depthwise(x, w["depthwise_kernel"], spec, out)
        result = middle @ w["pointwise_kernel"].reshape(w["pointwise_kernel"].shape[-2:])
    else:
        result = _transpose(x, w["kernel"], spec, out)
    if "bias" in w:
        result = result + w["bias"]
    if channels_first:
        result = np.moveaxis(result, -1, 1)
    activation = ACTIVATIONS.get(c.activation) if activate else None
    if activation is not None:
        result = activation(result)
    return result, activation is not None


def finding(error: Any, reference: Any, bias: Any | None, channel_axis: int, atol: float) -> str:
    """Where an error sits, in words: a bias on the wrong axis, or the axes the error follows.
    `error` is before any activation; `atol` is the absolute error the verdict allows."""
    ndim = error.ndim
    channel_axis %= ndim
    if bias is not None and bias.size > 1:
        # Keras' output minus the reference's pre-bias part is the bias as Keras added it.
        added = error + np.expand_dims(bias, tuple(a for a in range(ndim) if a != channel_axis))
        for axis in range(1, ndim):
            if axis != channel_axis and error.shape[axis] == bias.size:
                along = np.expand_dims(bias, tuple(a for a in range(ndim) if a != axis))
                if np.allclose(added, np.broadcast_to(along, added.shape), rtol=0, atol=4 * atol):
                    return (f"bias added on the wrong axis: along axis {axis} (size {error.shape[axis]}) instead of "
                            f"the channel axis {channel_axis}")  # fmt: skip
    scale = max(np.abs(error).max(), 1e-300)
    spread = range(1, ndim)
    varies = [a for a in spread if error.shape[a] > 1 and np.abs(np.diff(error, axis=a)).max() > 1e-6 * scale]
    constant = [a for a in spread if error.shape[a] > 1 and a not in varies]
    worst = np.unravel_index(int(np.abs(error).argmax()), error.shape)
    parts = [f"largest at index {tuple(int(i) for i in worst)}"]
    if constant and varies:
        parts.append(f"the error is constant along axis {', '.join(map(str, constant))} and varies along axis "
                     + ", ".join(map(str, varies)))  # fmt: skip
    wrong = np.abs(error) > atol
    parts.append(f"{int(wrong.sum()):,} of {error.size:,} outputs off")
    return "; ".join(parts)
