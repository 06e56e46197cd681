"""Keras' own objects read into convinspect's facts: a layer's variables, a shape."""

from __future__ import annotations

from typing import Any

from convinspect.core.layer.variables import Variable


def layer_variables(layer: Any) -> tuple[Variable, ...]:
    """A layer's variables, as Keras holds them now (empty before it is built)."""
    return tuple(
        Variable(
            name=v.name,
            path=v.path,
            shape=tuple(int(d) for d in v.shape),
            dtype=str(v.dtype),
            trainable=bool(v.trainable),
        )
        for v in layer.variables
    )


def shape_of(shape: Any) -> tuple[int | None, ...]:
    """A Keras shape (a tuple, a TensorShape, a KerasTensor's shape) as plain ints and None."""
    return tuple(None if d is None else int(d) for d in shape)
