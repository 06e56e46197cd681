"""What the rules share: reading a layer's serialized configuration, its dtypes and shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from convinspect.core.layer.spec import ACTIVATIONS, UNSUPPORTED_ACTIVATIONS
from convinspect.core.model.graph import policy_name
from convinspect.core.vocab.choices import DataFormat
from convinspect.core.vocab.dtypes import DTYPE_POLICIES, ITEMSIZE
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

Shape = tuple[int | None, ...]
Config = Mapping[str, Any]


class Unsizable(InvalidInput):
    """A layer class (or a configuration of it) the analytic engine has no rule for."""


def variable_dtype(policy: str, layer: str) -> str:
    if policy in DTYPE_POLICIES:
        return DTYPE_POLICIES[policy][0]
    if policy in ITEMSIZE:
        return policy
    raise Unsizable(f"layer {shown(layer)} uses the dtype policy {shown(policy)}, which the analytic engine does "
                    "not size; use --engine keras")  # fmt: skip


def compute_dtype(policy: str) -> str:
    return DTYPE_POLICIES[policy][1] if policy in DTYPE_POLICIES else policy


def data_format_of(config: Config) -> DataFormat:
    raw = config.get("data_format") or "channels_last"
    return DataFormat.parse(raw, "data_format") if isinstance(raw, str) else DataFormat.CHANNELS_LAST


def int_tuple(raw: object, rank: int, what: str, layer: str, minimum: int = 1) -> tuple[int, ...]:
    values = [raw] * rank if type(raw) is int else raw
    if (
        not isinstance(values, (list, tuple))
        or len(values) != rank
        or not all(type(v) is int and v >= minimum for v in values)
    ):
        raise InvalidInput(f"layer {shown(layer)}: {what} is {shown(raw)}, expected {rank} integers >= {minimum}")
    return tuple(values)


def int_pairs(raw: object, rank: int, what: str, layer: str) -> tuple[tuple[int, int], ...]:
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


def spatial_axes(rank: int, data_format: DataFormat) -> tuple[int, ...]:
    """Positions of the spatial axes in a full shape of `rank` spatial axes."""
    first = 1 if data_format is DataFormat.CHANNELS_LAST else 2
    return tuple(range(first, first + rank))


def need_rank(name: str, shape: Shape, ndim: int, class_name: str) -> None:
    if len(shape) != ndim:
        raise InvalidInput(
            f"layer {shown(name)} ({class_name}) expects inputs of rank {ndim}, got shape {shape_repr(shape)}"
        )


def shape_repr(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def policy_of(config: Config) -> str:
    return policy_name(config.get("dtype"))


KERAS_ACTIVATIONS = (*ACTIVATIONS, *UNSUPPORTED_ACTIVATIONS)


def checked_activation(name: str, value: object) -> object:
    """An activation Keras would resolve: one of its names, a registered custom name ('package>name'),
    a serialized function, or None (linear). An unknown name is refused, as Keras refuses it."""
    if isinstance(value, str) and value not in KERAS_ACTIVATIONS and ">" not in value:
        raise InvalidInput(f"layer {shown(name)}: unknown activation {shown(value)}; Keras knows "
                           + ", ".join(KERAS_ACTIVATIONS))  # fmt: skip
    return value


def axes_of(raw: object, ndim: int, name: str) -> tuple[int, ...]:
    values = [raw] if type(raw) is int else raw
    if not isinstance(values, (list, tuple)) or not values or not all(type(v) is int for v in values):
        raise InvalidInput(f"layer {shown(name)}: axis is {shown(raw)}")
    axes = []
    for value in values:
        if not -ndim <= value < ndim:
            raise InvalidInput(f"layer {shown(name)}: axis {value} is out of range for inputs of rank {ndim}")
        axes.append(value % ndim)
    return tuple(sorted(axes))
