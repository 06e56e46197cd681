"""Pooling, local and global: windows for receptive fields, no variables, no MACs."""

from __future__ import annotations

from collections.abc import Sequence

from convinspect.core.layer.families import conv_length
from convinspect.core.layer.geometry import forward_pads
from convinspect.core.model.rules.common import (
    Config,
    Shape,
    data_format_of,
    int_tuple,
    need_rank,
    spatial_axes,
)
from convinspect.core.model.rules.registry import Sized, Window, identity_windows, rule
from convinspect.core.vocab.choices import Padding
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

_POOL = {f"{op}Pooling{r}D": r for op in ("Max", "Average") for r in (1, 2, 3)}
_POOL |= {f"{op}Pool{r}D": r for op in ("Max", "Avg") for r in (1, 2, 3)}


@rule(*_POOL)
def _pool(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _POOL[class_name]
    shape = inputs[0]
    need_rank(name, shape, rank + 2, class_name)
    pool = int_tuple(config.get("pool_size", 2), rank, "pool_size", name)
    strides = pool if config.get("strides") is None else int_tuple(config["strides"], rank, "strides", name)
    padding = Padding.parse(config.get("padding", "valid"), "padding")
    data_format = data_format_of(config)
    out: list[int | None] = list(shape)
    windows: list[Window | None] = list(identity_windows(shape))
    for index, axis in enumerate(spatial_axes(rank, data_format)):
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
    return Sized((tuple(out),), windows=tuple(windows), spatial=spatial_axes(rank, data_format))


_GLOBAL = {f"Global{op}Pooling{r}D": r for op in ("Max", "Average") for r in (1, 2, 3)}
_GLOBAL |= {f"Global{op}Pool{r}D": r for op in ("Max", "Avg") for r in (1, 2, 3)}


@rule(*_GLOBAL)
def _global_pool(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    rank = _GLOBAL[class_name]
    shape = inputs[0]
    need_rank(name, shape, rank + 2, class_name)
    data_format = data_format_of(config)
    channels = shape[data_format.channel_axis]
    if config.get("keepdims", False):
        out: Shape = data_format.assemble(shape[0], (1,) * rank, channels)  # type: ignore[arg-type]
    else:
        out = (shape[0], channels)
    return Sized((out,), windows=tuple([Window(0)] + [None] * (len(out) - 1)), whole=True, spatial=())
