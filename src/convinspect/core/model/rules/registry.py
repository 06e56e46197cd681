"""The registry of rules, one per Keras layer class, and the one call that applies them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from convinspect.core.layer import arithmetic
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Variable
from convinspect.core.model.legacy import TF_OPS, tf_op_refusal
from convinspect.core.model.rules.common import Config, Shape, Unsizable
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


@dataclass(frozen=True)
class Window:
    """How one output axis reads one input axis: a window of `kernel` cells every `stride`,
    the first starting `pad` cells before input cell 0. The identity is Window(axis)."""

    axis: int
    kernel: int = 1
    stride: int = 1
    pad: int = 0


@dataclass(frozen=True)
class Sized:
    outputs: tuple[Shape, ...]
    weights: tuple[Variable, ...] = ()
    macs: int | None = 0  # None: unknown, the input's spatial size is
    bias_adds: int | None = 0
    # Per axis of the first output: the window that produced it, or None when that axis mixes
    # the input's cells in a way receptive fields do not follow (a reshape, a transposed conv).
    windows: tuple[Window | None, ...] = ()
    whole: bool = False  # every output cell reads the whole input (global pooling)
    spatial: tuple[int, ...] | None = None  # conv and pooling layers: the axes whose receptive field is reported
    conv: LayerSpec | None = None  # conv layers: the spec `convinspect build` would inspect


def identity_windows(shape: Shape) -> tuple[Window | None, ...]:
    return tuple(Window(axis) for axis in range(len(shape)))


Rule = Callable[[str, Config, Sequence[Shape], str], Sized]
RULES: dict[str, Rule] = {}

# Operations (keras.ops as a model's graph holds them, and layers) with no rule here that do no
# multiply-accumulate: elementwise arithmetic, activations, shape and index operations, reductions.
# A class outside RULES and this set is "not counted" in the Keras engine unless its sublayers are.
MAC_FREE = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Negative", "Absolute", "Abs", "Square", "Sqrt",
    "Power", "Exp", "Log", "Maximum", "Minimum", "Clip", "Where", "Cast", "Relu", "Relu6", "Sigmoid",
    "HardSigmoid", "Tanh", "Gelu", "Silu", "Swish", "HardSwish", "HardSilu", "Elu", "Selu", "Softplus",
    "Softsign", "LeakyRelu", "Softmax", "LogSoftmax", "Reshape", "Transpose", "Squeeze", "ExpandDims",
    "Concatenate", "Stack", "Split", "Slice", "GetItem", "Take", "Tile", "Repeat", "BroadcastTo", "Flatten",
    "Mean", "Sum", "Max", "Min", "Argmax", "Argmin", "Identity", "StopGradient", "ConvertToTensor", "Pad",
    # more elementwise, comparison, index, creation and reduction operations of keras.ops
    "Fabs", "Ceil", "Floor", "Round", "Trunc", "Sign", "Reciprocal", "Rsqrt", "Erf", "Erfc", "Expm1", "Log1p",
    "Log2", "Log10", "Exp2", "Cos", "Sin", "Tan", "Cosh", "Sinh", "Arctan", "Arctan2", "Mod", "Fmod",
    "FloorDivide", "DivideNoNan", "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual",
    "LogicalAnd", "LogicalOr", "LogicalNot", "LogicalXor", "Isnan", "Isinf", "Isfinite", "NanToNum", "All",
    "Any", "Amax", "Amin", "Prod", "Cumsum", "Cumprod", "Var", "Std", "Logsumexp", "Moments", "Arange", "Full",
    "FullLike", "OnesLike", "ZerosLike", "EmptyLike", "Tril", "Triu", "Diagonal", "Roll", "Flip", "Moveaxis",
    "Swapaxes", "Ravel", "Unstack", "Hstack", "Vstack", "Dstack", "ArraySplit", "TakeAlongAxis", "Scatter",
    "ScatterUpdate", "SliceUpdate", "OneHot", "MultiHot", "TopK", "Argsort", "Sort", "SaturateCast", "Copy",
    "Glu", "Celu", "LogSigmoid", "HardTanh", "SoftShrink", "HardShrink", "TanhShrink", "Squareplus",
    "SparsePlus", "Threshold", "Sparsemax", "DepthToSpace", "SpaceToDepth",
    # augmentation that changes shapes (the others have rules: rules/sequences.py): resampling, no MACs
    "RandomHeight", "RandomWidth",
})  # fmt: skip


def rule(*class_names: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        for class_name in class_names:
            if class_name in RULES:  # one rule per class: which one applies never depends on import order
                raise ValueError(f"{class_name} has two rules: {RULES[class_name].__name__}, {function.__name__}")
            RULES[class_name] = function
        return function

    return register


def size_layer(name: str, class_name: str, config: Config, inputs: Sequence[Shape]) -> Sized:
    """Apply the class's rule; Unsizable when there is none."""
    found = RULES.get(class_name)
    if class_name in TF_OPS:
        raise tf_op_refusal(name, class_name)
    if found is None:
        raise Unsizable(
            f"layer {shown(name)} is a {shown(class_name)}, which the analytic engine cannot size; use --engine keras"
        )
    if not inputs:
        raise InvalidInput(f"layer {shown(name)} ({shown(class_name)}) is called with no inputs")
    sized = found(name, config, inputs, class_name)
    # Keras' variables and tensors are int64-indexed: larger counts are refused, not reported
    for weight in sized.weights:
        arithmetic.fits_int64(weight.params, f"layer {shown(name)}'s {weight.name}")
    arithmetic.fits_int64(sum(w.params for w in sized.weights), f"layer {shown(name)}'s parameters")
    for output in sized.outputs:
        arithmetic.fits_int64(math.prod(d for d in output if d is not None), f"layer {shown(name)}'s output")
    return sized
