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

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.geometry import AxisGeometry

_KERNEL_AXES = {1: ("kw",), 2: ("kh", "kw"), 3: ("kd", "kh", "kw")}


def kernel_axes(rank: int, *channel_axes: str) -> tuple[str, ...]:
    """A kernel's axis labels: the spatial ones, then the two channel axes."""
    return (*_KERNEL_AXES[rank], *channel_axes)


@dataclass(frozen=True)
class Layout:
    variable: str
    keras_axes: tuple[str, ...]
    keras_shape: tuple[int, ...]
    reshape: tuple[int, ...] | None  # applied to the Keras array before the transpose
    transpose: tuple[int, ...]
    torch_axes: tuple[str, ...]
    torch_shape: tuple[int, ...]
    torch_module: Mapping[str, Any] | None  # the PyTorch module holding this weight (None for a bias)

    def __post_init__(self) -> None:
        if self.torch_module is not None:
            object.__setattr__(self, "torch_module", MappingProxyType(dict(self.torch_module)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "keras_axes": list(self.keras_axes),
            "keras_shape": list(self.keras_shape),
            "reshape": None if self.reshape is None else list(self.reshape),
            "transpose": list(self.transpose),
            "torch_axes": list(self.torch_axes),
            "torch_shape": list(self.torch_shape),
            "torch_module": None if self.torch_module is None else dict(self.torch_module),
        }


def _permute(values: tuple[Any, ...], order: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(values[i] for i in order)


def torch_padding(geometry: tuple[AxisGeometry, ...]) -> dict[str, Any]:
    """PyTorch's symmetric `padding` (and `output_padding`), when Keras' padding is symmetric."""
    if geometry and geometry[0].transposed:
        if any(g.crop_before != g.crop_after for g in geometry):
            return {"padding": None, "output_padding": None}
        return {"padding": [g.crop_before for g in geometry], "output_padding": [g.extra_after for g in geometry]}
    if any(g.pad_before != g.pad_after for g in geometry):
        return {"padding": None}
    return {"padding": [g.pad_before for g in geometry]}


def torch_module(
    name: str, rank: int, ins: int, outs: int, config: LayerConfig | None, **extra: Any
) -> dict[str, Any]:  # fmt: skip
    """The PyTorch module's arguments; `config` None is a 1×1 pointwise conv."""
    return {
        "class": f"torch.nn.{name}{rank}d",
        "in_channels": ins,
        "out_channels": outs,
        "kernel_size": [1] * rank if config is None else list(config.kernel_size),
        "stride": [1] * rank if config is None else list(config.strides),
        "dilation": [1] * rank if config is None else list(config.dilation_rate),
        **extra,
    }


def kernel_layout(
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


def bias_layout(shape: tuple[int, ...], axis: str) -> Layout:
    """Biases are the same vector in both frameworks."""
    return Layout("bias", (axis,), shape, None, (0,), (axis,), shape, None)
