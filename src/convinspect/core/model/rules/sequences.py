"""Sizing rules for text, sequence and video models: Embedding, SimpleRNN/LSTM/GRU, Bidirectional,
TimeDistributed and MultiHeadAttention; and the preprocessing and augmentation layers.

Variables are exactly Keras 3's (keras/src/layers/rnn/*.py, attention/multi_head_attention.py).
MACs follow docs/conventions.md: an RNN step costs gates × (features + units) × units
multiply-accumulates (the gates' elementwise products are not counted, as activations are not);
attention counts its four projections and its two batched matrix products (scores and the weighted
sum), not the softmax. An unknown batch counts one example; an unknown sequence length leaves the
MACs unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from convinspect.core.layer.variables import Variable
from convinspect.core.model.rules.common import Config, Shape, policy_of, shape_repr, variable_dtype
from convinspect.core.model.rules.registry import Sized, Window, identity_windows, rule, size_layer
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}


def _units(name: str, config: Config, key: str = "units") -> int:
    value = config.get(key)
    if type(value) is not int or value < 1:
        raise InvalidInput(f"layer {shown(name)}: {key} is {shown(value)}, expected a positive integer")
    return value


def _examples(shape: Shape) -> int:
    return 1 if shape[0] is None else shape[0]  # an unknown batch counts one example


@rule("Embedding")
def _embedding(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rows, dim = _units(name, config, "input_dim"), _units(name, config, "output_dim")
    table = Variable("embeddings", (rows, dim), variable_dtype(policy_of(config), name))
    shape = inputs[0]
    return Sized(((*shape, dim),), (table,), windows=(*identity_windows(shape), None))


@rule("SimpleRNN", "LSTM", "GRU")
def _rnn(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    if len(shape) != 3 or shape[-1] is None:
        raise InvalidInput(f"layer {shown(name)} ({class_name}) needs (batch, time, features) with known features, "
                           f"got {shape_repr(shape)}")  # fmt: skip
    units, gates, features = _units(name, config), GATES[class_name], shape[-1]
    dtype = variable_dtype(policy_of(config), name)
    weights = [Variable("kernel", (features, gates * units), dtype),
               Variable("recurrent_kernel", (units, gates * units), dtype)]  # fmt: skip
    if config.get("use_bias", True) is not False:
        two = class_name == "GRU" and config.get("reset_after", True) is not False  # input and recurrent biases
        weights.append(Variable("bias", (2, gates * units) if two else (gates * units,), dtype))
    steps = shape[1]
    out: Shape = (shape[0], steps, units) if config.get("return_sequences") else (shape[0], units)
    outputs = (out, *([(shape[0], units)] * STATES[class_name] if config.get("return_state") else []))
    if steps is None:
        return Sized(outputs, tuple(weights), None, None)
    per_step = gates * (features + units) * units
    bias = sum(math.prod(w.shape) for w in weights if w.name == "bias")
    return Sized(outputs, tuple(weights), _examples(shape) * steps * per_step, _examples(shape) * steps * bias)


def _inner(name: str, config: Config, key: str) -> tuple[str, Config]:
    raw = config.get(key)
    if (
        not isinstance(raw, Mapping)
        or not isinstance(raw.get("class_name"), str)
        or not isinstance(raw.get("config"), Mapping)
    ):
        raise InvalidInput(f"layer {shown(name)}: `{key}` is not a serialized layer")
    return str(raw["class_name"]), raw["config"]


@rule("Bidirectional")
def _bidirectional(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    inner_class, inner = _inner(name, config, "layer")
    backward_class, backward = _inner(name, config, "backward_layer") if config.get("backward_layer") else (
        inner_class, inner)  # fmt: skip
    forward = size_layer(f"{name}/forward", inner_class, inner, inputs)
    back = size_layer(f"{name}/backward", backward_class, backward, inputs)
    mode = config.get("merge_mode", "concat")
    first, other = forward.outputs[0], back.outputs[0]
    if mode is None:
        merged: tuple[Shape, ...] = (first, other)
    elif mode == "concat":  # Keras gives twice the forward layer's, whatever the backward layer's units
        merged = ((*first[:-1], None if first[-1] is None else 2 * first[-1]),)
    elif mode in ("sum", "mul", "ave"):
        merged = (first,)
    else:
        raise InvalidInput(f"layer {shown(name)} (Bidirectional): merge_mode is {shown(mode)}; Keras takes "
                           "'sum', 'mul', 'concat', 'ave' or None")  # fmt: skip
    states = (*forward.outputs[1:], *back.outputs[1:])
    return Sized(
        (*merged, *states),
        tuple(Variable(f"forward_{w.name}", w.shape, w.dtype) for w in forward.weights)
        + tuple(Variable(f"backward_{w.name}", w.shape, w.dtype) for w in back.weights),
        _plus(forward.macs, back.macs),
        _plus(forward.bias_adds, back.bias_adds),
    )


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


@rule("TimeDistributed")
def _time_distributed(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    inner_class, inner = _inner(name, config, "layer")
    shape = inputs[0]
    if len(shape) < 3:
        raise InvalidInput(f"layer {shown(name)} (TimeDistributed) needs (batch, time, ...), got {shape_repr(shape)}")
    batch, steps = shape[0], shape[1]
    each = size_layer(f"{name}/{inner.get('name', inner_class)}", inner_class, inner, [(batch, *shape[2:])])
    outputs = tuple((out[0], steps, *out[1:]) for out in each.outputs)
    times = None if steps is None else steps
    return Sized(
        outputs,
        each.weights,
        None if each.macs is None or times is None else each.macs * times,
        None if each.bias_adds is None or times is None else each.bias_adds * times,
    )


@rule("MultiHeadAttention")
def _attention(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    key = inputs[2] if len(inputs) > 2 else value
    heads, key_dim = _units(name, config, "num_heads"), _units(name, config, "key_dim")
    value_dim = config.get("value_dim") or key_dim
    q_features, k_features, v_features = query[-1], key[-1], value[-1]
    if q_features is None or k_features is None or v_features is None:
        raise InvalidInput(f"layer {shown(name)} (MultiHeadAttention) needs known feature axes")
    axes = config.get("attention_axes")
    if axes not in (None, 1, [1], (1,)) or len(query) != 3 or config.get("use_gate") or config.get("sliding_window"):
        raise InvalidInput(
            f"layer {shown(name)} (MultiHeadAttention): only (batch, sequence, features) inputs attending over the "
            "sequence, ungated and unwindowed, are sized; use --engine keras"
        )
    out_dim = config.get("output_shape") or query[-1]
    if isinstance(out_dim, (list, tuple)):
        out_dim = out_dim[-1] if len(out_dim) == 1 else None
    if type(out_dim) is not int:
        raise InvalidInput(f"layer {shown(name)} (MultiHeadAttention): output_shape {shown(out_dim)} is not sized")
    dtype = variable_dtype(policy_of(config), name)
    bias = config.get("use_bias", True) is not False
    projections = (("query", q_features, key_dim), ("key", k_features, key_dim), ("value", v_features, value_dim))
    weights: list[Variable] = []
    for part, features, dim in projections:
        weights.append(Variable(f"{part}/kernel", (features, heads, dim), dtype))
        if bias:
            weights.append(Variable(f"{part}/bias", (heads, dim), dtype))
    weights.append(Variable("attention_output/kernel", (heads, value_dim, out_dim), dtype))
    if bias:
        weights.append(Variable("attention_output/bias", (out_dim,), dtype))
    output: Shape = (query[0], query[1], out_dim)
    tq, tk, tv = query[1], key[1], value[1]
    if tq is None or tk is None or tv is None:
        return Sized((output,), tuple(weights), None, None)
    n = _examples(query)
    projected = tq * q_features * key_dim + tk * k_features * key_dim + tv * v_features * value_dim
    attended = tq * tk * key_dim + tq * tk * value_dim  # the scores, and the weighted sum of the values
    macs = n * (heads * (projected + attended) + tq * heads * value_dim * out_dim)
    adds = n * (heads * (tq * key_dim + tk * key_dim + tv * value_dim) + tq * out_dim) if bias else 0
    return Sized((output,), tuple(weights), macs, adds)


# Preprocessing and augmentation layers that keep the shape (identity at inference, or elementwise).
_KEEP = (
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
    "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomPosterization",
    "RandomInvert", "RandomColorJitter", "RandomErasing", "RandomGaussianBlur", "RandomPerspective", "AutoContrast",
    "Solarization", "Equalization",
)  # fmt: skip


@rule(*_KEEP)
def _keep(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    return Sized((inputs[0],), windows=identity_windows(inputs[0]))


@rule("Resizing", "CenterCrop", "RandomCrop")
def _resize_to(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    height, width = config.get("height"), config.get("width")
    if type(height) is not int or type(width) is not int or height < 1 or width < 1:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): height and width must be positive integers")
    last = config.get("data_format", "channels_last") != "channels_first"
    if len(shape) not in (3, 4):
        raise InvalidInput(f"layer {shown(name)} ({class_name}) needs images, got {shape_repr(shape)}")
    if len(shape) == 3:  # one unbatched image
        out: tuple[Any, ...] = (height, width, shape[2]) if last else (shape[0], height, width)
    else:
        out = (shape[0], height, width, shape[3]) if last else (shape[0], shape[1], height, width)
    return Sized(
        (tuple(out),), windows=tuple(Window(a) if d == s else None for a, (d, s) in enumerate(zip(out, shape)))
    )
