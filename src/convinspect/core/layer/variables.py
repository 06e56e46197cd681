"""A variable a layer creates, and parameter counts: one type each, for a layer and a model alike."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from convinspect.core.vocab.dtypes import itemsize


@dataclass(frozen=True)
class Variable:
    """One variable of a layer, as Keras created it (or would)."""

    name: str  # kernel | bias | depthwise_kernel | gamma | moving_mean | ...
    shape: tuple[int, ...]
    dtype: str
    trainable: bool = True
    path: str = ""  # e.g. "conv2d/kernel" (a layer's report); empty in a model's rows

    @property
    def params(self) -> int:
        return math.prod(self.shape)

    @property
    def bytes(self) -> int:
        return self.params * itemsize(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "trainable": self.trainable,
            "params": self.params,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Params:
    """Parameter counts (and their bytes) of some variables."""

    trainable: int = 0
    non_trainable: int = 0
    bytes: int = 0

    @classmethod
    def of(cls, variables: Iterable[Variable]) -> Params:
        variables = tuple(variables)
        return cls(
            trainable=sum(v.params for v in variables if v.trainable),
            non_trainable=sum(v.params for v in variables if not v.trainable),
            bytes=sum(v.bytes for v in variables),
        )

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def __add__(self, other: Params) -> Params:
        return Params(
            self.trainable + other.trainable, self.non_trainable + other.non_trainable, self.bytes + other.bytes
        )

    def counts(self) -> dict[str, int]:
        """The counts alone (a model's JSON: its bytes are given per dtype)."""
        return {"trainable": self.trainable, "non_trainable": self.non_trainable, "total": self.total}

    def to_dict(self) -> dict[str, int]:
        return {**self.counts(), "bytes": self.bytes}
