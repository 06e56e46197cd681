"""Cost, memory, geometry and weight layouts of a layer, from the shapes an engine found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.cost import Cost, Memory, layer_cost, layer_memory, spatial
from convinspect.core.geometry import AxisGeometry, layer_geometry
from convinspect.core.kinds import Kind
from convinspect.core.layouts import Layout, layer_layouts

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class Measures:
    cost: Cost
    memory: Memory
    geometry: tuple[AxisGeometry, ...]
    layouts: tuple[Layout, ...]


def measure(
    kind: Kind,
    config: dict[str, Any],
    input_shape: Shape,
    output_shape: Shape,
    variables: dict[str, tuple[int, ...]],
    weight_bytes: int,
    variable_dtype: str,
    compute_dtype: str,
) -> Measures:
    """Every derived figure, computed the same way whichever engine supplies the shapes."""
    last = config["data_format"] == "channels_last"
    geometry = layer_geometry(
        kind.family, kind.spatial_axes, spatial(input_shape, last), spatial(output_shape, last), config
    )
    return Measures(
        cost=layer_cost(kind.family, input_shape, output_shape, variables, "bias" in variables, last),
        memory=layer_memory(input_shape, output_shape, weight_bytes, variable_dtype, compute_dtype),
        geometry=geometry,
        layouts=layer_layouts(kind.family, kind.rank, variables, config, geometry),
    )
