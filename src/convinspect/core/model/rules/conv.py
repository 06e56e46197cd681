"""The ten conv kinds, sized by the same code as `convinspect build` (core/layer/arithmetic.py)."""

from __future__ import annotations

from collections.abc import Sequence

from convinspect.core.layer import arithmetic
from convinspect.core.layer.cost import layer_cost
from convinspect.core.layer.geometry import effective_kernel, forward_pads
from convinspect.core.layer.kinds import KINDS, Kind
from convinspect.core.layer.spec import ACTIVATIONS, LayerSpec, parse_spec
from convinspect.core.layer.variables import Variable
from convinspect.core.model.legacy import SLASH
from convinspect.core.model.rules.common import (
    Config,
    Shape,
    Unsizable,
    checked_activation,
    data_format_of,
    int_tuple,
    need_rank,
    policy_of,
    shape_repr,
    spatial_axes,
    variable_dtype,
)
from convinspect.core.model.rules.registry import Sized, Window, rule
from convinspect.core.vocab.dtypes import DTYPE_POLICIES
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

_BY_CLASS: dict[str, Kind] = {kind.class_name: kind for kind in KINDS}
_BY_CLASS |= {"Convolution1D": _BY_CLASS["Conv1D"], "Convolution2D": _BY_CLASS["Conv2D"],
              "Convolution3D": _BY_CLASS["Conv3D"], "Conv2DTranspose": _BY_CLASS["Conv2DTranspose"]}  # fmt: skip


def conv_spec(name: str, class_name: str, config: Config, shape: Shape, policy: str) -> LayerSpec:
    """The LayerSpec `convinspect build` would inspect for this conv layer, validated by the same
    code as build's options (filters, kernel, padding for the kind, ...)."""
    kind = _BY_CLASS[class_name]
    if policy not in DTYPE_POLICIES:
        raise Unsizable(f"layer {shown(name)} uses the dtype policy {shown(policy)}; use --engine keras")
    need_rank(name, shape, kind.rank + 2, class_name)
    for key in ("filters", "groups", "depth_multiplier"):  # Keras takes Python ints only
        value = config.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidInput(f"layer {shown(name)} ({class_name}): {key} is {shown(value)}, "
                               "expected a positive integer")  # fmt: skip
    data_format = data_format_of(config)
    if shape[data_format.channel_axis] is None:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): the channel axis of its input {shape_repr(shape)} "
                           "must be known")  # fmt: skip
    # An unknown spatial size (None) gives an unknown output size; any size the kernel fits stands in for it.
    kernel = int_tuple(config.get("kernel_size"), kind.rank, "kernel_size", name)
    dilation = int_tuple(config.get("dilation_rate", 1), kind.rank, "dilation_rate", name)
    strides = int_tuple(config.get("strides", 1), kind.rank, "strides", name)
    stand_in: list[int | None] = list(shape)
    for index, axis in enumerate(spatial_axes(kind.rank, data_format)):
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
        values["output_padding"] = list(int_tuple(config["output_padding"], kind.rank, "output_padding", name, 0))
    try:
        return parse_spec(values)
    except InvalidInput as error:
        raise InvalidInput(f"layer {shown(name)} ({class_name}): {error.message(prefix='')}") from None


@rule(*_BY_CLASS)
def _conv(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    policy = policy_of(config)
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
    for index, axis in enumerate(spatial_axes(spec.kind.rank, spec.data_format)):
        n, out = inputs[0][axis], output[axis]
        if not spec.kind.recipe.transposed and n is not None and out is not None:
            ke = effective_kernel(c.kernel_size[index], c.dilation_rate[index])
            before = forward_pads(n, out, ke, c.strides[index], c.padding)[0]
            windows[axis] = Window(axis, ke, c.strides[index], before)
    spatial = spatial_axes(spec.kind.rank, spec.data_format)
    return Sized((output,), weights, macs, bias_adds, tuple(windows), spatial=spatial, conv=None if unknown else spec)
