"""The ten Keras convolution layer kinds: a rank and a family each."""

from __future__ import annotations

import re
from dataclasses import dataclass

from convinspect.core.layer.families import RECIPES, Family, Recipe
from convinspect.core.vocab.choices import DataFormat, Padding
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

_SPATIAL = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@dataclass(frozen=True)
class Kind:
    """One Keras conv layer class: its rank and family decide everything else."""

    key: str  # "conv2d-transpose"
    class_name: str  # "Conv2DTranspose"
    rank: int  # spatial dimensions
    family: Family

    @property
    def recipe(self) -> Recipe:
        return RECIPES[self.family]

    @property
    def options(self) -> frozenset[str]:
        return self.recipe.options

    @property
    def required(self) -> tuple[str, ...]:
        return self.recipe.required

    @property
    def paddings(self) -> tuple[Padding, ...]:
        return self.recipe.paddings(self.rank)

    @property
    def default_name(self) -> str:
        """The name Keras gives the first such layer (`to_snake_case`)."""
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", self.class_name)
        return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()

    @property
    def spatial_axes(self) -> tuple[str, ...]:
        return _SPATIAL[self.rank]

    def input_axes(self, data_format: DataFormat) -> tuple[str, ...]:
        """E.g. ("batch", "height", "width", "channels")."""
        return data_format.axes(self.spatial_axes)

    def input_layout(self, data_format: DataFormat) -> str:
        """E.g. `(batch, height, width, channels)`."""
        return "(" + ", ".join(self.input_axes(data_format)) + ")"


KINDS: tuple[Kind, ...] = (
    Kind("conv1d", "Conv1D", 1, Family.CONV),
    Kind("conv2d", "Conv2D", 2, Family.CONV),
    Kind("conv3d", "Conv3D", 3, Family.CONV),
    Kind("depthwise-conv1d", "DepthwiseConv1D", 1, Family.DEPTHWISE),
    Kind("depthwise-conv2d", "DepthwiseConv2D", 2, Family.DEPTHWISE),
    Kind("separable-conv1d", "SeparableConv1D", 1, Family.SEPARABLE),
    Kind("separable-conv2d", "SeparableConv2D", 2, Family.SEPARABLE),
    Kind("conv1d-transpose", "Conv1DTranspose", 1, Family.TRANSPOSE),
    Kind("conv2d-transpose", "Conv2DTranspose", 2, Family.TRANSPOSE),
    Kind("conv3d-transpose", "Conv3DTranspose", 3, Family.TRANSPOSE),
)
_BY_FOLDED = {k.key.replace("-", ""): k for k in KINDS}


def get_kind(value: object) -> Kind:
    """Look a kind up by any spelling: `conv2d-transpose`, `Conv2DTranspose`, `conv2d_transpose`."""
    if isinstance(value, Kind):
        return value
    folded = re.sub(r"[-_\s]", "", str(value)).lower()
    kind = _BY_FOLDED.get(folded)
    if kind is None:
        allowed = ", ".join(k.key for k in KINDS)
        raise InvalidInput(f"unknown layer {shown(value)}; expected one of {allowed}", "layer")
    return kind
