"""The lazy-build story behind --explain: facts shared by both engines' steps."""

from __future__ import annotations

from typing import Any

from convinspect.core.layer.config import keras_name
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.report import Step
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Variable


def constructor(spec: LayerSpec) -> dict[str, Any]:
    """{"class", "kwargs"}: the constructor call, arguments that differ from Keras' defaults only."""
    config = spec.config_dict()
    kwargs = dict(config)
    for option, default in spec.kind.recipe.defaults.items():
        value = config[keras_name(option)]
        if value == default or (isinstance(value, list) and set(value) == {default}):
            del kwargs[keras_name(option)]
    if spec.name != spec.kind.default_name:
        kwargs["name"] = spec.name
    return {"class": spec.kind.class_name, "kwargs": kwargs}


def variable_facts(variables: tuple[Variable, ...], layouts: tuple[Layout, ...]) -> list[dict[str, Any]]:
    """Each variable with where every dimension comes from (the layout's axis labels)."""
    labels = {layout.variable: layout.keras_axes for layout in layouts}
    return [
        {
            "path": v.path,
            "shape": list(v.shape),
            "dims": [{"size": d, "axis": a} for d, a in zip(v.shape, labels.get(v.name, ()))],
        }
        for v in variables
    ]


def symbolic_input(spec: LayerSpec) -> dict[str, Any]:
    """The keras.Input call for this input shape: per-example shape and batch size."""
    return {"shape": list(spec.input_shape[1:]), "batch_size": spec.batch}


def analytic_story(
    spec: LayerSpec, output_shape: tuple[int | None, ...], variables: tuple[Variable, ...], layouts: tuple[Layout, ...]
) -> tuple[Step, ...]:
    """What the analytic engine can compute of the story; the rest needs a real layer."""
    created = variable_facts(variables, layouts)
    return (
        Step("construct", False, {"call": constructor(spec), "built": None, "trainable_variables": None,
                                  "count_params_error": None},
             ("built", "trainable_variables", "count_params_error")),
        Step("first_call", False, {"input_shape": list(spec.input_shape), "build_input_shape": None,
                                   "channel_axis": spec.data_format.channel_axis, "input_channels": spec.channels,
                                   "variables": created, "built": None, "output_shape": list(output_shape)},
             ("build_input_shape", "built")),
        Step("explicit_build", False, {"input_shape": list(spec.input_shape), "built": None, "variables": created},
             ("built",)),
        Step("symbolic_input", False, {"input": symbolic_input(spec), "output_type": None,
                                       "output_shape": list(output_shape), "variables": created},
             ("output_type",)),
    )  # fmt: skip
