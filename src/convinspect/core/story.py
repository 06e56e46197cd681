"""The lazy-build story behind --explain: facts shared by both engines' steps."""

from __future__ import annotations

from typing import Any

from convinspect.core.layouts import Layout
from convinspect.core.report import Step, Variable
from convinspect.core.spec import LayerSpec

# Keras' constructor defaults; the story's constructor call shows only the other arguments.
_DEFAULTS: dict[str, Any] = {
    "padding": "valid", "groups": 1, "depth_multiplier": 1, "output_padding": None,
    "data_format": "channels_last", "activation": "linear", "use_bias": True, "dtype": "float32",
}  # fmt: skip


def constructor(spec: LayerSpec) -> dict[str, Any]:
    """{"class", "kwargs"}: the constructor call, non-default arguments only."""
    kwargs = {}
    for key, value in spec.config().items():
        if key in ("strides", "dilation_rate") and set(value) == {1}:
            continue
        if key in _DEFAULTS and value == _DEFAULTS[key]:
            continue
        kwargs[key] = value
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
                                   "channel_axis": -1 if spec.channels_last else 1, "input_channels": spec.channels,
                                   "variables": created, "built": None, "output_shape": list(output_shape)},
             ("build_input_shape", "built")),
        Step("explicit_build", False, {"input_shape": list(spec.input_shape), "built": None, "variables": created},
             ("built",)),
        Step("symbolic_input", False, {"input": symbolic_input(spec), "output_type": None,
                                       "output_shape": list(output_shape), "variables": created},
             ("output_type",)),
    )  # fmt: skip
