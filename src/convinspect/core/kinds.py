"""The ten Keras convolution layer kinds and what each one accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from convinspect.errors import InvalidInput

# Options every kind takes; the family adds its own on top.
_COMMON = frozenset({"kernel", "strides", "padding", "dilation", "data_format", "activation", "use_bias", "dtype"})
_FAMILY_OPTIONS = {
    "conv": frozenset({"filters", "groups"}),
    "transpose": frozenset({"filters", "output_padding"}),
    "depthwise": frozenset({"depth_multiplier"}),
    "separable": frozenset({"filters", "depth_multiplier"}),
}
# Options that must be given (Keras has no default for them).
_FAMILY_REQUIRED = {
    "conv": ("filters", "kernel"),
    "transpose": ("filters", "kernel"),
    "depthwise": ("kernel",),
    "separable": ("filters", "kernel"),
}
_SPATIAL = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@dataclass(frozen=True)
class Kind:
    """One Keras conv layer class: its rank and family decide everything else."""

    key: str  # "conv2d-transpose"
    class_name: str  # "Conv2DTranspose"
    rank: int  # spatial dimensions
    family: str  # conv | transpose | depthwise | separable

    @property
    def options(self) -> frozenset[str]:
        return _COMMON | _FAMILY_OPTIONS[self.family]

    @property
    def required(self) -> tuple[str, ...]:
        return _FAMILY_REQUIRED[self.family]

    @property
    def paddings(self) -> tuple[str, ...]:
        # Keras allows causal padding on Conv1D only.
        if self.family == "conv" and self.rank == 1:
            return ("valid", "same", "causal")
        return ("valid", "same")

    @property
    def default_name(self) -> str:
        """The name Keras gives the first such layer (`to_snake_case`)."""
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", self.class_name)
        return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()

    @property
    def spatial_axes(self) -> tuple[str, ...]:
        return _SPATIAL[self.rank]

    @property
    def forbids_strided_dilation(self) -> bool:
        # Depthwise and separable layers decompose the op instead.
        return self.family in ("conv", "transpose")

    def input_layout(self, data_format: str) -> str:
        """E.g. `(batch, height, width, channels)`."""
        axes = self.spatial_axes
        dims = ("batch", *axes, "channels") if data_format == "channels_last" else ("batch", "channels", *axes)
        return "(" + ", ".join(dims) + ")"


KINDS: tuple[Kind, ...] = (
    Kind("conv1d", "Conv1D", 1, "conv"),
    Kind("conv2d", "Conv2D", 2, "conv"),
    Kind("conv3d", "Conv3D", 3, "conv"),
    Kind("depthwise-conv1d", "DepthwiseConv1D", 1, "depthwise"),
    Kind("depthwise-conv2d", "DepthwiseConv2D", 2, "depthwise"),
    Kind("separable-conv1d", "SeparableConv1D", 1, "separable"),
    Kind("separable-conv2d", "SeparableConv2D", 2, "separable"),
    Kind("conv1d-transpose", "Conv1DTranspose", 1, "transpose"),
    Kind("conv2d-transpose", "Conv2DTranspose", 2, "transpose"),
    Kind("conv3d-transpose", "Conv3DTranspose", 3, "transpose"),
)
_BY_FOLDED = {k.key.replace("-", ""): k for k in KINDS}


def get_kind(value: str) -> Kind:
    """Look a kind up by any spelling: `conv2d-transpose`, `Conv2DTranspose`, `conv2d_transpose`."""
    folded = re.sub(r"[-_\s]", "", str(value)).lower()
    kind = _BY_FOLDED.get(folded)
    if kind is None:
        allowed = ", ".join(k.key for k in KINDS)
        raise InvalidInput(f"unknown layer {value!r}; expected one of {allowed}", "layer")
    return kind
