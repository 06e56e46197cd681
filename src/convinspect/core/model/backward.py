"""What each Keras layer class's backward pass reads: the one table of activation rules.

A layer's gradient needs some of the tensors its forward pass saw: a conv layer's kernel
gradient reads its input, an activation's gradient its input, BatchNormalization its input
and the batch statistics, a dropout layer its mask. What a rule names stays alive from the
forward pass until that layer's backward step; core/model/training.py counts each tensor
once, however many layers keep it. The buffer counts were measured on XLA's compiled train
step (docs/memory.md has the table and how it was measured).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from convinspect.core.vocab.dtypes import itemsize

Shape = tuple[int | None, ...]


class Part(str, Enum):
    INPUTS = "inputs"
    OUTPUTS = "outputs"


IN = frozenset({Part.INPUTS})
NONE: frozenset[Part] = frozenset()


@dataclass(frozen=True)
class Keeps:
    """What one call's backward pass reads: for its weights' gradients, for its inputs' gradients, and
    buffers of its own (a pre-activation, a mask, statistics) in bytes (None: a size is unknown)."""

    weights: frozenset[Part] = NONE
    inputs: frozenset[Part] = NONE
    private: int | None = 0  # per example (the batch multiplies it)
    fixed: int = 0  # whatever the batch (BatchNormalization's statistics)
    # An elementwise activation: the input it reads costs nothing when a normalization made it, since
    # XLA recomputes it from the normalization's kept input and statistics inside the fused backward.
    elementwise: bool = False
    # A product plus a bias (a conv or dense layer with use_bias): when a layer whose gradient reduces
    # over its input (a normalization, a max pool: `sums`) reads the sum, XLA keeps the product beside it.
    biased: bool = False
    sums: bool = False
    workspace: int = 0  # bytes its backward step holds while it runs, whatever the batch
    moves: bool = False  # it only moves or sums its inputs' elements (concatenate, add, pad, crop, reshape)


# Per activation, the buffers of the input's size its gradient keeps beside its input (XLA on a CPU
# keeps the pre-activation of every one, the kinds whose gradient reads the output included).
ACTIVATION_BUFFERS = {
    "relu": 0, "relu6": 0, "sigmoid": 0, "tanh": 0, "hard_sigmoid": 0, "hard_swish": 0, "hard_silu": 0,
    "leaky_relu": 0, "swish": 1, "silu": 1, "elu": 1, "selu": 1, "softmax": 1, "gelu": 2,
}  # fmt: skip
OTHER_ACTIVATION_BUFFERS = 1  # any other activation: one buffer, as swish and elu
NORM_BUFFERS = 3  # LayerNormalization and its kin: beside the input, three buffers of its size
MAX_POOL_BUFFERS = 3  # a max pool: beside its input, three buffers of the input's size
DROPOUT_BYTES = 8  # per element: the random draw and the mask, four bytes each
RECURRENT_BUFFERS = {"LSTM": 6, "GRU": 5, "SimpleRNN": 2}  # per step and unit: gates and states

_WEIGHTED = (
    {f"{kind}{r}D" for kind in ("Conv", "Convolution", "DepthwiseConv", "ConvTranspose", "SeparableConv",
                                "SeparableConvolution") for r in (1, 2, 3)}
    | {"Dense", "EinsumDense", "Embedding"}
)  # fmt: skip
NORMALIZATIONS = frozenset({"BatchNormalization", "LayerNormalization", "RMSNormalization", "GroupNormalization",
                            "UnitNormalization", "SyncBatchNormalization"})  # fmt: skip
_FREE = {
    "Add", "Subtract", "Average", "Concatenate", "Reshape", "Flatten", "Permute", "RepeatVector", "Identity",
    "Rescaling", "Normalization", "Resizing", "CenterCrop", "RandomCrop", "GaussianNoise", "Masking",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
    "RandomHeight", "RandomWidth", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomPosterization", "RandomInvert", "RandomColorJitter", "RandomErasing",
    "RandomGaussianBlur", "RandomPerspective", "AutoContrast", "Solarization", "Equalization", "InputLayer",
}  # fmt: skip
_FREE |= {f"{op}{r}D" for op in ("ZeroPadding", "Cropping", "UpSampling") for r in (1, 2, 3)}
_FREE |= {f"{g}{op}{r}D" for g in ("", "Global") for op in ("AveragePooling", "AvgPool") for r in (1, 2, 3)}
_MOVES = {"Add", "Subtract", "Average", "Concatenate", "Reshape", "Flatten", "Permute", "Identity"}
_MOVES |= {f"{op}{r}D" for op in ("ZeroPadding", "Cropping") for r in (1, 2, 3)}
_MAX_POOLS = {f"MaxPool{ing}{r}D" for ing in ("", "ing") for r in (1, 2, 3)}
_READ_INPUTS = {"Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Dot", "CustomScaleLayer",
                "ActivityRegularization"}  # fmt: skip
_READ_INPUTS |= {f"GlobalMaxPool{ing}{r}D" for ing in ("", "ing") for r in (1, 2, 3)}
_DROPOUTS = {"Dropout", "AlphaDropout", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D",
             "SpatialDropout3D", "StochasticDepth"}  # fmt: skip
_ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ThresholdedReLU": "relu", "ELU": "elu",
                      "Softmax": "softmax", "Activation": ""}  # fmt: skip


def _elements(shapes: Sequence[Shape]) -> int | None:
    """Elements per example (axis 0 is the batch)."""
    if any(d is None for shape in shapes for d in shape[1:]):
        return None
    return sum(math.prod(d or 1 for d in shape[1:]) for shape in shapes)


def activation_name(config: Mapping[str, Any]) -> str:
    raw = config.get("activation", "linear")
    if isinstance(raw, Mapping):  # a serialized function: {"class_name": "function", "config": "relu"}
        raw = raw.get("config", raw.get("class_name"))
    return str(raw or "linear").lower()


def _buffers(name: str) -> int:
    return ACTIVATION_BUFFERS.get(name, OTHER_ACTIVATION_BUFFERS)


def _times(count: int | None, factor: int) -> int | None:
    return None if count is None else count * factor


_RANDOM = _DROPOUTS | {"GaussianNoise"} | {c for c in _FREE if c.startswith("Random")}


def signature(class_name: str, config: Mapping[str, Any], weights: int) -> str | None:
    """What makes two calls compute the same tensor from the same inputs (XLA merges them: common
    subexpressions), for a layer without variables that draws nothing at random; None otherwise."""
    if weights or class_name in _RANDOM or class_name in _WEIGHTED:
        return None
    settings = {key: value for key, value in config.items() if key not in ("name", "trainable")}
    return class_name + json.dumps(settings, sort_keys=True, default=str)


def keeps(
    class_name: str, config: Mapping[str, Any], inputs: Sequence[Shape], outputs: Sequence[Shape], dtype: str
) -> Keeps | None:
    """The rule for one call (None: no rule for this class, so its training memory is incomplete)."""
    size = itemsize(dtype)
    out = _elements(outputs)
    if class_name in _FREE:
        return Keeps(moves=class_name in _MOVES)
    if class_name in _WEIGHTED:
        name = activation_name(config)
        # a fused activation keeps the pre-activation, a tensor of its own, and the activation's buffers
        private = 0 if name == "linear" else _times(out, size * (1 + _buffers(name)))
        if class_name.startswith("Separable") and private is not None:
            # the pointwise kernel's gradient reads the depthwise step's output, a tensor of its own
            first = config.get("data_format", "channels_last") == "channels_first"
            channels_in, filters = (inputs[0][1], outputs[0][1]) if first else (inputs[0][-1], outputs[0][-1])
            if channels_in is None or not filters or out is None:
                private = None
            else:
                private += out // filters * channels_in * int(config.get("depth_multiplier", 1)) * size
        biased = bool(config.get("use_bias", True)) and name == "linear"
        return Keeps(weights=IN, private=private, biased=biased, workspace=_grouped(class_name, config, inputs, size))
    if class_name in NORMALIZATIONS:
        channels = outputs[0][-1] if outputs and outputs[0] else None
        if class_name.endswith("BatchNormalization"):  # a mean and a variance per channel
            return Keeps(weights=IN, inputs=IN, fixed=2 * 4 * (channels or 0), sums=True)
        if out is None or not channels:
            return Keeps(weights=IN, inputs=IN, private=None, sums=True)
        rows = out // channels  # a mean and a variance per normalized row
        return Keeps(weights=IN, inputs=IN, private=out * size * NORM_BUFFERS + 2 * 4 * rows, sums=True)
    if class_name in _ACTIVATION_LAYERS:
        name = _ACTIVATION_LAYERS[class_name] or activation_name(config)
        if name == "linear":
            return Keeps()
        return Keeps(inputs=IN, private=_times(out, size * _buffers(name)), elementwise=True)
    if class_name in ("PReLU", "LayerScale"):
        return Keeps(weights=IN, inputs=IN)
    if class_name in _MAX_POOLS:
        return Keeps(inputs=IN, private=_times(_elements(inputs[:1]), size * MAX_POOL_BUFFERS), sums=True)
    if class_name in _READ_INPUTS:
        return Keeps(inputs=IN)
    if class_name in _DROPOUTS:
        if out is None:
            return Keeps(private=None)
        if float(config.get("rate", 0) or 0) == 0:
            return Keeps()
        if class_name.startswith("Spatial"):  # one draw per example and channel
            return Keeps(private=out // max(1, math.prod(d or 1 for d in outputs[0][1:-1])) * DROPOUT_BYTES)
        if class_name == "StochasticDepth":  # one per example
            return Keeps(private=DROPOUT_BYTES)
        return Keeps(private=out * DROPOUT_BYTES)
    if class_name in RECURRENT_BUFFERS:
        units = int(config.get("units", 0) or 0)
        steps = inputs[0][1] if inputs and len(inputs[0]) == 3 else None
        if steps is None:
            return Keeps(weights=IN, inputs=IN, private=None)
        return Keeps(weights=IN, inputs=IN, private=steps * units * RECURRENT_BUFFERS[class_name] * size)
    if class_name == "MultiHeadAttention":
        return Keeps(weights=IN, inputs=IN, private=_attention(config, inputs, size))
    return None


GROUPED_BUFFERS = 2  # a grouped kernel's gradient on XLA's CPU: two dense kernels, every input to every output


def _grouped(class_name: str, config: Mapping[str, Any], inputs: Sequence[Shape], size: int) -> int:
    """XLA's CPU compiler computes a depthwise or grouped kernel's gradient as a dense kernel that joins
    every input channel to every output channel (measured: two buffers of kh·kw·C_in·C_out)."""
    depthwise = class_name.startswith(("DepthwiseConv", "SeparableConv"))
    groups = int(config.get("groups", 1) or 1)
    if not (depthwise or groups > 1) or not inputs or not inputs[0]:
        return 0
    first = config.get("data_format", "channels_last") == "channels_first"
    channels = inputs[0][1] if first else inputs[0][-1]
    if channels is None:
        return 0
    kernel = config.get("kernel_size", 1)
    taps = math.prod(kernel) if isinstance(kernel, list | tuple) else int(kernel) ** (len(inputs[0]) - 2)
    outputs = channels * int(config.get("depth_multiplier", 1)) if depthwise else int(config.get("filters", 0))
    return GROUPED_BUFFERS * taps * channels * outputs * size


SCORE_BUFFERS = 3  # attention: the scores, their exponentials and the probabilities, each (heads, Tq, Tv)
PROJECTION_BUFFERS = 5  # and Q, K, V, the heads' output and its projection, each of a projection's size


def _attention(config: Mapping[str, Any], inputs: Sequence[Shape], size: int) -> int | None:
    """What attention keeps per example: its projections, its scores and (with dropout) their mask."""
    if not inputs or any(d is None for d in inputs[0][1:]):
        return None
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    if any(d is None for d in value[1:]):
        return None
    heads = int(config.get("num_heads", 1) or 1)
    key_dim = int(config.get("key_dim", 1) or 1)
    value_dim = int(config.get("value_dim") or key_dim)
    tq = math.prod(d or 1 for d in query[1:-1])
    tv = math.prod(d or 1 for d in value[1:-1])
    projection = heads * max(tq, tv) * max(key_dim, value_dim)
    scores = heads * tq * tv
    mask = scores * DROPOUT_BYTES if float(config.get("dropout", 0) or 0) > 0 else 0
    return (PROJECTION_BUFFERS * projection + SCORE_BUFFERS * scores) * size + mask
