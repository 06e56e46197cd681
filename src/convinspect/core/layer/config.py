"""LayerConfig: one conv layer's resolved hyperparameters, typed, in Keras' argument names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.vocab.choices import DataFormat, Padding

# Option names that differ from Keras' argument names.
KERAS_NAMES = {"kernel": "kernel_size", "dilation": "dilation_rate"}
# The order of Keras' get_config(), which every report keeps.
_KERAS_ORDER = (
    "filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "depth_multiplier",
    "output_padding", "data_format", "activation", "use_bias", "dtype",
)  # fmt: skip


def keras_name(option: str) -> str:
    return KERAS_NAMES.get(option, option)


@dataclass(frozen=True)
class LayerConfig:
    """Every hyperparameter of the ten kinds; those a kind does not take stay None."""

    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: Padding
    dilation_rate: tuple[int, ...]
    data_format: DataFormat
    activation: str
    use_bias: bool
    dtype: str  # the dtype policy's name
    filters: int | None = None
    groups: int | None = None
    depth_multiplier: int | None = None
    output_padding: tuple[int, ...] | None = None

    def to_dict(self, options: frozenset[str]) -> dict[str, Any]:
        """Keras' names and plain JSON values, only for the arguments in `options`."""
        keys = {keras_name(option) for option in options}
        out: dict[str, Any] = {}
        for key in _KERAS_ORDER:
            if key in keys:
                value = getattr(self, key)
                out[key] = list(value) if isinstance(value, tuple) else (str(value) if key in _ENUMS else value)
        return out

    def keras_kwargs(self, options: frozenset[str]) -> dict[str, Any]:
        """Constructor arguments (tuples where Keras takes tuples)."""
        return {key: tuple(v) if isinstance(v, list) else v for key, v in self.to_dict(options).items()}

    @classmethod
    def from_keras(cls, raw: Mapping[str, Any], dtype: str) -> LayerConfig:
        """The config a real layer holds (`layer.get_config()`, its policy's name)."""

        def ints(key: str) -> tuple[int, ...] | None:
            value = raw.get(key)
            return None if value is None else tuple(int(v) for v in value)

        kernel, strides, dilation = ints("kernel_size"), ints("strides"), ints("dilation_rate")
        assert kernel is not None and strides is not None and dilation is not None
        return cls(
            kernel_size=kernel,
            strides=strides,
            padding=Padding(raw["padding"]),
            dilation_rate=dilation,
            data_format=DataFormat(raw["data_format"]),
            activation=str(raw["activation"]),
            use_bias=bool(raw["use_bias"]),
            dtype=dtype,
            filters=raw.get("filters"),
            groups=raw.get("groups"),
            depth_multiplier=raw.get("depth_multiplier"),
            output_padding=ints("output_padding"),
        )


_ENUMS = ("padding", "data_format")
