"""Weight layouts: each variable's axes in Keras and in PyTorch, and how to convert.

Keras keeps spatial axes first whatever the data format: `(k..., in/groups, filters)`.
PyTorch puts channels first: `(filters, in/groups, k...)`. For every variable the
conversion is `w.reshape(...)` (depthwise kernels only) then `w.transpose(r+1, r, 0..r-1)`:
- Conv{r}D              (k..., in/groups, filters)  -> Conv{r}d          (filters, in/groups, k...)
- Conv{r}DTranspose     (k..., filters, in)         -> ConvTranspose{r}d (in, filters, k...)
- DepthwiseConv{r}D     (k..., in, multiplier) --reshape (k..., 1, in*multiplier)
                                                    -> Conv{r}d(groups=in) (in*multiplier, 1, k...);
  Keras' output channel c*multiplier + m is PyTorch's too, so a plain reshape keeps the order.
- SeparableConv{r}D: the depthwise kernel as above, then the pointwise kernel as a 1x1 conv.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.geometry import AxisGeometry

_KERNEL_AXES = {1: ("kw",), 2: ("kh", "kw"), 3: ("kd", "kh", "kw")}


@dataclass(frozen=True)
class Layout:
    variable: str
    keras_axes: tuple[str, ...]
    keras_shape: tuple[int, ...]
    reshape: tuple[int, ...] | None  # applied to the Keras array before the transpose
    transpose: tuple[int, ...]
    torch_axes: tuple[str, ...]
    torch_shape: tuple[int, ...]
    torch_module: dict[str, Any] | None  # the PyTorch module holding this weight (None for a bias)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "keras_axes": list(self.keras_axes),
            "keras_shape": list(self.keras_shape),
            "reshape": None if self.reshape is None else list(self.reshape),
            "transpose": list(self.transpose),
            "torch_axes": list(self.torch_axes),
            "torch_shape": list(self.torch_shape),
            "torch_module": self.torch_module,
        }


def _permute(values: tuple[Any, ...], order: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(values[i] for i in order)


def _torch_padding(geometry: tuple[AxisGeometry, ...]) -> dict[str, Any]:
    """PyTorch's symmetric `padding` (and `output_padding`), when Keras' padding is symmetric."""
    if geometry and geometry[0].transposed:
        if any(g.crop_before != g.crop_after for g in geometry):
            return {"padding": None, "output_padding": None}
        return {"padding": [g.crop_before for g in geometry], "output_padding": [g.extra_after for g in geometry]}
    if any(g.pad_before != g.pad_after for g in geometry):
        return {"padding": None}
    return {"padding": [g.pad_before for g in geometry]}


def _module(name: str, rank: int, ins: int, outs: int, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "class": f"torch.nn.{name}{rank}d",
        "in_channels": ins,
        "out_channels": outs,
        "kernel_size": list(config["kernel_size"]),
        "stride": list(config["strides"]),
        "dilation": list(config["dilation_rate"]),
        **extra,
    }


def _kernel(
    name: str, shape: tuple[int, ...], axes: tuple[str, ...], module: dict[str, Any],
    fold: tuple[tuple[int, ...], tuple[str, ...]] | None = None,
) -> Layout:  # fmt: skip
    """A kernel: reshaped first when `fold` (the shape and axes after the reshape) is given,
    then transposed so that the two channel axes lead: (r+1, r, 0, ..., r-1)."""
    rank = len(shape) - 2
    order = (rank + 1, rank, *range(rank))
    source, source_axes = fold or (shape, axes)
    reshape = None if fold is None else fold[0]
    return Layout(name, axes, shape, reshape, order, _permute(source_axes, order), _permute(source, order), module)


def _bias(shape: tuple[int, ...], axis: str) -> Layout:
    """Biases are the same vector in both frameworks."""
    return Layout("bias", (axis,), shape, None, (0,), (axis,), shape, None)


def layer_layouts(
    family: str,
    rank: int,
    variables: dict[str, tuple[int, ...]],
    config: dict[str, Any],
    geometry: tuple[AxisGeometry, ...],
) -> tuple[Layout, ...]:
    """One Layout per variable, from its Keras shape and the resolved config."""
    ks = _KERNEL_AXES[rank]
    use_bias = "bias" in variables
    padding = _torch_padding(geometry)
    layouts: list[Layout] = []
    bias_axis = "filters"
    if family == "conv":
        k = variables["kernel"]
        groups = config["groups"]
        module = _module("Conv", rank, k[-2] * groups, k[-1], config, groups=groups, bias=use_bias, **padding)
        layouts.append(_kernel("kernel", k, (*ks, "in/groups", "filters"), module))
    elif family == "transpose":
        k = variables["kernel"]
        module = _module("ConvTranspose", rank, k[-1], k[-2], config, groups=1, bias=use_bias, **padding)
        layouts.append(_kernel("kernel", k, (*ks, "filters", "in"), module))
    else:  # depthwise, or the depthwise half of a separable layer
        name = "kernel" if family == "depthwise" else "depthwise_kernel"
        k = variables[name]
        channels, multiplier = k[-2], k[-1]
        module = _module("Conv", rank, channels, channels * multiplier, config, groups=channels,
                         bias=use_bias and family == "depthwise", **padding)  # fmt: skip
        fold = ((*k[:-2], 1, channels * multiplier), (*ks, "1", "in*mult"))
        layouts.append(_kernel(name, k, (*ks, "in", "mult"), module, fold))
        bias_axis = "in*mult"
        if family == "separable":
            p = variables["pointwise_kernel"]
            pointwise = {"class": f"torch.nn.Conv{rank}d", "in_channels": p[-2], "out_channels": p[-1],
                         "kernel_size": [1] * rank, "stride": [1] * rank, "dilation": [1] * rank,
                         "groups": 1, "bias": use_bias, "padding": [0] * rank}  # fmt: skip
            layouts.append(_kernel("pointwise_kernel", p, (*("1",) * rank, "in*mult", "filters"), pointwise))
            bias_axis = "filters"
    if use_bias:
        layouts.append(_bias(variables["bias"], bias_axis))
    return tuple(layouts)
