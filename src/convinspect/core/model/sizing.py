"""What each Keras layer class does to shapes, which variables it creates, and its MACs.

One rule per class, written from the class's `compute_output_shape()` and `build()` in
keras/src/layers/. A rule takes the layer's configuration (as serialized) and its input
shapes and returns a `Sized`: output shapes, variables, MACs, and how each output axis
reads the input axes (for receptive fields). Conv layers are sized by the same code as
`convinspect build` (core/arithmetic.py). A class without a rule raises `Unsizable`.

MACs are counted for the ten conv kinds and Dense only (conventions in core/cost.py);
normalisation, pooling, activations, merges and resizing are free here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from convinspect.core.layer import arithmetic
from convinspect.core.layer.cost import layer_cost
from convinspect.core.layer.families import conv_length
from convinspect.core.layer.geometry import effective_kernel, forward_pads
from convinspect.core.layer.kinds import KINDS, Kind
from convinspect.core.layer.spec import ACTIVATIONS, UNSUPPORTED_ACTIVATIONS, LayerSpec, parse_spec
from convinspect.core.layer.variables import Variable
from convinspect.core.model.graph import policy_name
from convinspect.core.model.legacy import SLASH
from convinspect.core.vocab.choices import DataFormat, Padding
from convinspect.core.vocab.dtypes import DTYPE_POLICIES, ITEMSIZE
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

Shape = tuple[int | None, ...]
Config = Mapping[str, Any]


class Unsizable(InvalidInput):
    """A layer class (or a configuration of it) the analytic engine has no rule for."""


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


def variable_dtype(policy: str, layer: str) -> str:
    if policy in DTYPE_POLICIES:
        return DTYPE_POLICIES[policy][0]
    if policy in ITEMSIZE:
        return policy
    raise Unsizable(f"layer {shown(layer)} uses the dtype policy {shown(policy)}, which the analytic engine does "
                    "not size; use --engine keras")  # fmt: skip


def compute_dtype(policy: str) -> str:
    return DTYPE_POLICIES[policy][1] if policy in DTYPE_POLICIES else policy


def _format(config: Config) -> DataFormat:
    raw = config.get("data_format") or "channels_last"
    return DataFormat.parse(raw, "data_format") if isinstance(raw, str) else DataFormat.CHANNELS_LAST


def _tuple(raw: object, rank: int, what: str, layer: str, minimum: int = 1) -> tuple[int, ...]:
    values = [raw] * rank if type(raw) is int else raw
    if (
        not isinstance(values, (list, tuple))
        or len(values) != rank
        or not all(type(v) is int and v >= minimum for v in values)
    ):
        raise InvalidInput(f"layer {shown(layer)}: {what} is {shown(raw)}, expected {rank} integers >= {minimum}")
    return tuple(values)


def _pairs(raw: object, rank: int, what: str, layer: str) -> tuple[tuple[int, int], ...]:
    """ZeroPadding/Cropping amounts: an int, one int per axis, or (before, after) per axis."""
    if type(raw) is int:
        raw = [raw] * rank
    if isinstance(raw, (list, tuple)) and rank == 1 and len(raw) == 2 and all(type(v) is int for v in raw):
        raw = [raw]  # the 1D layers take (before, after)
    if not isinstance(raw, (list, tuple)) or len(raw) != rank:
        raise InvalidInput(f"layer {shown(layer)}: {what} is {shown(raw)}")
    pairs = []
    for item in raw:
        pair = (item, item) if type(item) is int else item
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(type(v) is int and v >= 0 for v in pair)):
            raise InvalidInput(f"layer {shown(layer)}: {what} is {shown(raw)}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _spatial_axes(rank: int, data_format: DataFormat) -> tuple[int, ...]:
    """Positions of the spatial axes in a full shape of `rank` spatial axes."""
    first = 1 if data_format is DataFormat.CHANNELS_LAST else 2
    return tuple(range(first, first + rank))


def _need_rank(name: str, shape: Shape, ndim: int, class_name: str) -> None:
    if len(shape) != ndim:
        raise InvalidInput(
            f"layer {shown(name)} ({class_name}) expects inputs of rank {ndim}, got shape {_show(shape)}"
        )


def _show(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def identity_windows(shape: Shape) -> tuple[Window | None, ...]:
    return tuple(Window(axis) for axis in range(len(shape)))


# -- rules ------------------------------------------------------------------------------

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
    # augmentation that changes shapes (the others have rules: core/model/sequences.py): resampling, no MACs
    "RandomHeight", "RandomWidth",
})  # fmt: skip


def rule(*class_names: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        for class_name in class_names:
            RULES[class_name] = function
        return function

    return register


_BY_CLASS: dict[str, Kind] = {kind.class_name: kind for kind in KINDS}
_BY_CLASS |= {"Convolution1D": _BY_CLASS["Conv1D"], "Convolution2D": _BY_CLASS["Conv2D"],
              "Convolution3D": _BY_CLASS["Conv3D"], "Conv2DTranspose": _BY_CLASS["Conv2DTranspose"]}  # fmt: skip


def conv_spec(name: str, class_name: str, config: Config, shape: Shape, policy: str) -> LayerSpec:
    """The LayerSpec `convinspect build` would inspect for this conv layer, validated by the same
    code as build's options (filters, kernel, padding for the kind, ...)."""
    kind = _BY_CLASS[class_name]
    if policy not in DTYPE_POLICIES:
        raise Unsizable(f"layer {shown(name)} uses the dtype policy {shown(policy)}; use --engine keras")
    _need_rank(name, shape, kind.rank + 2, class_name)
    for key in ("filters", "groups", "depth_multiplier"):  # Keras takes Python ints only
        value = config.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidInput(f"layer {shown(name)} ({class_name}): {key} is {shown(value)}, "
                               "expected a positive integer")  # fmt: skip
    data_format = _format(config)
    if shape[data_format.channel_axis] is None:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): the channel axis of its input {_show(shape)} "
                           "must be known")  # fmt: skip
    # An unknown spatial size (None) gives an unknown output size; any size the kernel fits stands in for it.
    kernel = _tuple(config.get("kernel_size"), kind.rank, "kernel_size", name)
    dilation = _tuple(config.get("dilation_rate", 1), kind.rank, "dilation_rate", name)
    strides = _tuple(config.get("strides", 1), kind.rank, "strides", name)
    stand_in: list[int | None] = list(shape)
    for index, axis in enumerate(_spatial_axes(kind.rank, data_format)):
        if shape[axis] is None:
            stand_in[axis] = effective_kernel(kernel[index], dilation[index]) + strides[index]
    activation = checked_activation(name, config.get("activation", "linear"))
    values = {
        "layer": kind.key, "input": stand_in, "name": name.replace("/", "_").replace(SLASH, "_"),  # Keras 3 refuses '/'
        "kernel": list(kernel), "strides": list(strides),
        "dilation": list(dilation), "padding": config.get("padding", "valid"), "data_format": str(data_format),
        "activation": activation if isinstance(activation, str) and activation in ACTIVATIONS else "linear",
        "use_bias": config.get("use_bias", True) is not False, "dtype": policy,
    }  # fmt: skip
    for key, option in (("filters", "filters"), ("groups", "groups"), ("depth_multiplier", "depth_multiplier")):
        if key in kind.options and config.get(key) is not None:
            values[option] = config[key]
    if "output_padding" in kind.options and config.get("output_padding") is not None:
        values["output_padding"] = list(_tuple(config["output_padding"], kind.rank, "output_padding", name, 0))
    try:
        return parse_spec(values)
    except InvalidInput as error:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): {error.message(prefix='')}") from None


@rule(*_BY_CLASS)
def _conv(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    policy = _policy(config)
    spec = conv_spec(name, class_name, config, inputs[0], policy)
    try:
        output = arithmetic.output_shape(spec)
    except InvalidInput as error:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): {error.problem}", rule=error.rule) from None
    unknown = [axis for axis, d in enumerate(inputs[0]) if d is None and axis > 0]
    if unknown:  # sizes stood in for: the output's are unknown too, and so is the cost
        output = tuple(None if axis in unknown else d for axis, d in enumerate(output))
    shapes = arithmetic.variable_shapes(spec)
    dtype = variable_dtype(policy, name)
    weights = tuple(Variable(var, shape, dtype) for var, shape in shapes)
    cost = layer_cost(spec.kind.recipe, spec.data_format, spec.input_shape, arithmetic.output_shape(spec),
                      dict(shapes), spec.config.use_bias)  # fmt: skip
    macs, bias_adds = (None, None) if unknown else (cost.macs, cost.bias_adds)
    windows: list[Window | None] = [Window(0)] + [None] * (len(output) - 1)
    c = spec.config
    for index, axis in enumerate(_spatial_axes(spec.kind.rank, spec.data_format)):
        n, out = inputs[0][axis], output[axis]
        if not spec.kind.recipe.transposed and n is not None and out is not None:
            ke = effective_kernel(c.kernel_size[index], c.dilation_rate[index])
            before = forward_pads(n, out, ke, c.strides[index], c.padding)[0]
            windows[axis] = Window(axis, ke, c.strides[index], before)
    spatial = _spatial_axes(spec.kind.rank, spec.data_format)
    return Sized((output,), weights, macs, bias_adds, tuple(windows), spatial=spatial, conv=None if unknown else spec)


def _policy(config: Config) -> str:
    return policy_name(config.get("dtype"))


@rule("Dense")
def _dense(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    units = config.get("units")
    if type(units) is not int or units < 1:
        raise InvalidInput(f"layer {shown(name)}: units is {shown(units)}, expected a positive integer")
    if len(shape) < 2 or shape[-1] is None:
        raise InvalidInput(f"layer {shown(name)} (Dense) needs a known last axis, got {_show(shape)}")
    dtype = variable_dtype(_policy(config), name)
    use_bias = config.get("use_bias", True) is not False
    weights = [Variable("kernel", (shape[-1], units), dtype)]
    if use_bias:
        weights.append(Variable("bias", (units,), dtype))
    output = (*shape[:-1], units)
    rows = math.prod(1 if d is None else d for d in shape[:-1])  # an unknown batch counts one example
    windows = (*identity_windows(shape)[:-1], None)
    return Sized((output,), tuple(weights), rows * shape[-1] * units, rows * units if use_bias else 0, windows)


@rule("InputLayer")
def _input(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    return Sized((inputs[0],), windows=identity_windows(inputs[0]))


_SAME_SHAPE = (
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Rescaling", "Identity", "StochasticDepth", "Masking",
)  # fmt: skip


_RATES = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "AlphaDropout")
KERAS_ACTIVATIONS = (*ACTIVATIONS, *UNSUPPORTED_ACTIVATIONS)


def checked_activation(name: str, value: object) -> object:
    """An activation Keras would resolve: one of its names, a registered custom name ('package>name'),
    a serialized function, or None (linear). An unknown name is refused, as Keras refuses it."""
    if isinstance(value, str) and value not in KERAS_ACTIVATIONS and ">" not in value:
        raise InvalidInput(f"layer {shown(name)}: unknown activation {shown(value)}; Keras knows "
                           + ", ".join(KERAS_ACTIVATIONS))  # fmt: skip
    return value


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


def _axes(raw: object, ndim: int, name: str) -> tuple[int, ...]:
    values = [raw] if type(raw) is int else raw
    if not isinstance(values, (list, tuple)) or not values or not all(type(v) is int for v in values):
        raise InvalidInput(f"layer {shown(name)}: axis is {shown(raw)}")
    axes = []
    for value in values:
        if not -ndim <= value < ndim:
            raise InvalidInput(f"layer {shown(name)}: axis {value} is out of range for inputs of rank {ndim}")
        axes.append(value % ndim)
    return tuple(sorted(axes))


def _known(shape: Shape, axes: Sequence[int], name: str) -> tuple[int, ...]:
    dims = tuple(shape[a] for a in axes)
    if any(d is None for d in dims):
        raise InvalidInput(f"layer {shown(name)}: the normalised axis of {_show(shape)} must be known")
    return dims  # type: ignore[return-value]


@rule("BatchNormalization")
def _batch_norm(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    axis = _axes(config.get("axis", -1), len(shape), name)
    if len(axis) != 1:
        raise Unsizable(f"layer {shown(name)}: BatchNormalization over several axes; use --engine keras")
    dims = _known(shape, axis, name)
    dtype = variable_dtype(_policy(config), name)
    weights = []
    if config.get("scale", True) is not False:
        weights.append(Variable("gamma", dims, dtype))
    if config.get("center", True) is not False:
        weights.append(Variable("beta", dims, dtype))
    names = ["moving_mean", "moving_variance"]
    if config.get("renorm"):
        names += ["moving_stddev", "renorm_mean", "renorm_stddev"]
    weights += [Variable(n, dims, dtype, False) for n in names]
    return Sized((shape,), tuple(weights), windows=identity_windows(shape))


@rule("LayerNormalization", "RMSNormalization")
def _layer_norm(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    axis = _axes(config.get("axis", -1), len(shape), name)
    dims = _known(shape, axis, name)
    dtype = variable_dtype(_policy(config), name)
    rms = config.get("rms_scaling", False) is True or class_name == "RMSNormalization"
    weights = []
    if config.get("scale", True) is not False or rms:
        weights.append(Variable("gamma" if class_name != "RMSNormalization" else "scale", dims, dtype))
    if config.get("center", True) is not False and not rms:
        weights.append(Variable("beta", dims, dtype))
    # Normalising over an axis mixes all of its cells.
    windows = tuple(None if a in axis else w for a, w in enumerate(identity_windows(shape)))
    return Sized((shape,), tuple(weights), windows=windows)


@rule("Normalization")
def _normalization(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    raw_axis = config.get("axis", -1)
    axis = () if raw_axis is None else _axes(raw_axis, len(shape), name)
    dims = _known(shape, axis, name)
    weights: tuple[Variable, ...] = ()
    if config.get("mean") is None:  # statistics to be adapted live in variables; given ones are constants
        dtype = variable_dtype(_policy(config), name)
        weights = (Variable("mean", dims, dtype, False), Variable("variance", dims, dtype, False),
                   Variable("count", (), "int64", False))  # fmt: skip
    return Sized((shape,), weights, windows=identity_windows(shape))


@rule("PReLU")
def _prelu(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    shared = config.get("shared_axes") or ()
    shared = [shared] if type(shared) is int else shared
    dims = [1 if (i + 1) in shared else d for i, d in enumerate(shape[1:])]
    if any(d is None for d in dims):
        raise InvalidInput(f"layer {shown(name)}: PReLU needs known axes, got {_show(shape)}")
    weight = Variable("alpha", tuple(dims), variable_dtype(_policy(config), name))  # type: ignore[arg-type]
    return Sized((shape,), (weight,), windows=identity_windows(shape))


@rule("LayerScale")
def _layer_scale(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    dim = config.get("projection_dim")
    if type(dim) is not int or dim < 1:
        raise InvalidInput(f"layer {shown(name)}: projection_dim is {shown(dim)}")
    weight = Variable("gamma", (dim,), variable_dtype(_policy(config), name))
    return Sized((inputs[0],), (weight,), windows=identity_windows(inputs[0]))


_POOL = {f"{op}Pooling{r}D": r for op in ("Max", "Average") for r in (1, 2, 3)}
_POOL |= {f"{op}Pool{r}D": r for op in ("Max", "Avg") for r in (1, 2, 3)}


@rule(*_POOL)
def _pool(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _POOL[class_name]
    shape = inputs[0]
    _need_rank(name, shape, rank + 2, class_name)
    pool = _tuple(config.get("pool_size", 2), rank, "pool_size", name)
    strides = pool if config.get("strides") is None else _tuple(config["strides"], rank, "strides", name)
    padding = Padding.parse(config.get("padding", "valid"), "padding")
    data_format = _format(config)
    out: list[int | None] = list(shape)
    windows: list[Window | None] = list(identity_windows(shape))
    for index, axis in enumerate(_spatial_axes(rank, data_format)):
        n = shape[axis]
        if n is None:
            out[axis], windows[axis] = None, None
            continue
        length = conv_length(n, pool[index], strides[index], 1, padding)  # a pool's window is a conv's
        if length <= 0:
            raise InvalidInput(
                f"layer {shown(name)} ({class_name}): output size {length} along axis {axis} "
                f"(input {n}, pool {pool[index]}); Keras rejects it"
            )
        out[axis] = length
        windows[axis] = Window(axis, pool[index], strides[index], forward_pads(n, length, pool[index],
                                                                              strides[index], padding)[0])  # fmt: skip
    return Sized((tuple(out),), windows=tuple(windows), spatial=_spatial_axes(rank, data_format))


_GLOBAL = {f"Global{op}Pooling{r}D": r for op in ("Max", "Average") for r in (1, 2, 3)}
_GLOBAL |= {f"Global{op}Pool{r}D": r for op in ("Max", "Avg") for r in (1, 2, 3)}


@rule(*_GLOBAL)
def _global_pool(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _GLOBAL[class_name]
    shape = inputs[0]
    _need_rank(name, shape, rank + 2, class_name)
    data_format = _format(config)
    channels = shape[data_format.channel_axis]
    if config.get("keepdims", False):
        out: Shape = data_format.assemble(shape[0], (1,) * rank, channels)  # type: ignore[arg-type]
    else:
        out = (shape[0], channels)
    return Sized((out,), windows=tuple([Window(0)] + [None] * (len(out) - 1)), whole=True, spatial=())


_RESIZE = {f"{op}{r}D": r for op in ("ZeroPadding", "Cropping", "UpSampling") for r in (1, 2, 3)}


@rule(*_RESIZE)
def _resize(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _RESIZE[class_name]
    shape = inputs[0]
    _need_rank(name, shape, rank + 2, class_name)
    data_format = _format(config) if rank > 1 or class_name.startswith("ZeroPadding") else DataFormat.CHANNELS_LAST
    out = list(shape)
    windows: list[Window | None] = list(identity_windows(shape))
    if class_name.startswith("UpSampling"):
        size = _tuple(config.get("size", 2), rank, "size", name)
        for index, axis in enumerate(_spatial_axes(rank, data_format)):
            n = shape[axis]
            out[axis] = None if n is None else n * size[index]
            windows[axis] = None  # one input cell feeds several outputs: not a window
        return Sized((tuple(out),), windows=tuple(windows))
    key = "padding" if class_name.startswith("ZeroPadding") else "cropping"
    pairs = _pairs(config.get(key, 1), rank, key, name)
    sign = 1 if key == "padding" else -1
    for (before, after), axis in zip(pairs, _spatial_axes(rank, data_format)):
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
                f"layer {shown(name)} ({class_name}) cannot combine shapes " + ", ".join(_show(s) for s in shapes)
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
    axis = _axes(config.get("axis", -1), ndim, name)[0]
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
                + ", ".join(_show(s) for s in inputs)
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
        raise Unsizable(f"layer {shown(name)}: Reshape of an unknown size {_show(shape)}; use --engine keras")
    total = math.prod(d for d in shape[1:] if d is not None)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise InvalidInput(f"layer {shown(name)} (Reshape) cannot reshape {_show(shape)} into {shown(target)}")
        dims = tuple(total // known if d == -1 else d for d in target)
    else:
        if known != total:
            raise InvalidInput(f"layer {shown(name)} (Reshape) cannot reshape {_show(shape)} into {shown(target)}")
        dims = tuple(target)
    out = (shape[0], *dims)
    return Sized((out,), windows=tuple([Window(0)] + [None] * len(dims)))


@rule("Permute")
def _permute(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    dims = config.get("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(shape))):
        raise InvalidInput(f"layer {shown(name)} (Permute): dims is {shown(dims)} for inputs {_show(shape)}")
    out = (shape[0], *(shape[d] for d in dims))
    return Sized((out,), windows=(Window(0), *(Window(d) for d in dims)))


@rule("RepeatVector")
def _repeat(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    n = config.get("n")
    if type(n) is not int or n < 1:
        raise InvalidInput(f"layer {shown(name)} (RepeatVector): n is {shown(n)}")
    shape = inputs[0]
    return Sized(((shape[0], n, *shape[1:]),), windows=(Window(0), None, *(Window(a) for a in range(1, len(shape)))))


def size_layer(name: str, class_name: str, config: Config, inputs: Sequence[Shape]) -> Sized:
    """Apply the class's rule; Unsizable when there is none."""
    found = RULES.get(class_name)
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


from convinspect.core.model import sequences  # noqa: E402, F401  (registers its rules)
