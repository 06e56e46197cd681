"""Cost, memory, geometry and weight layouts of a layer, from the shapes an engine found."""

from __future__ import annotations

from dataclasses import dataclass

from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.cost import Cost, Memory, layer_cost, layer_memory
from convinspect.core.layer.geometry import AxisGeometry, layer_geometry
from convinspect.core.layer.kinds import Kind
from convinspect.core.layer.layouts import Layout, bias_layout, torch_padding

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class Measures:
    cost: Cost
    memory: Memory
    geometry: tuple[AxisGeometry, ...]
    layouts: tuple[Layout, ...]


def measure(
    kind: Kind,
    config: LayerConfig,
    input_shape: Shape,
    output_shape: Shape,
    variables: dict[str, tuple[int, ...]],
    weight_bytes: int,
    variable_dtype: str,
    compute_dtype: str,
) -> Measures:
    """Every derived figure, computed the same way whichever engine supplies the shapes."""
    recipe, fmt = kind.recipe, config.data_format
    use_bias = "bias" in variables
    geometry = layer_geometry(
        recipe.transposed, kind.spatial_axes, fmt.spatial(input_shape), fmt.spatial(output_shape), config
    )
    layouts = recipe.layouts(kind.rank, variables, config, torch_padding(geometry), use_bias)
    if use_bias:
        layouts.append(bias_layout(variables["bias"], recipe.bias_axis))
    return Measures(
        cost=layer_cost(recipe, fmt, input_shape, output_shape, variables, use_bias),
        memory=layer_memory(input_shape, output_shape, weight_bytes, variable_dtype, compute_dtype),
        geometry=geometry,
        layouts=tuple(layouts),
    )
