"""The lazy-build story behind --explain: facts shared by both engines' steps."""

from __future__ import annotations

from convinspect.core.layer.config import keras_name
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.report import (
    Call,
    Constructed,
    ExplicitBuild,
    FirstCall,
    Step,
    StoryVariable,
    SymbolicInput,
)
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Variable


def constructor(spec: LayerSpec) -> Call:
    """The constructor call, with the arguments that differ from Keras' defaults only."""
    config = spec.config_dict()
    kwargs = dict(config)
    for option, default in spec.kind.recipe.defaults.items():
        value = config[keras_name(option)]
        if value == default or (isinstance(value, list) and set(value) == {default}):
            del kwargs[keras_name(option)]
    if spec.name != spec.kind.default_name:
        kwargs["name"] = spec.name
    return Call(spec.kind.class_name, kwargs)


def variable_facts(variables: tuple[Variable, ...], layouts: tuple[Layout, ...]) -> tuple[StoryVariable, ...]:
    """Each variable with where every dimension comes from (the layout's axis labels)."""
    labels = {layout.variable: layout.keras_axes for layout in layouts}
    return tuple(StoryVariable(v.path, tuple(v.shape), tuple(zip(v.shape, labels.get(v.name, ())))) for v in variables)


def analytic_story(
    spec: LayerSpec, output_shape: tuple[int | None, ...], variables: tuple[Variable, ...], layouts: tuple[Layout, ...]
) -> tuple[Step, ...]:
    """What the analytic engine can compute of the story; the rest needs a real layer."""
    created = variable_facts(variables, layouts)
    first = FirstCall(spec.input_shape, None, spec.data_format.channel_axis, spec.channels, created, None, output_shape)
    return (
        Step("construct", False, Constructed(constructor(spec), None, None, None),
             ("built", "trainable_variables", "count_params_error")),
        Step("first_call", False, first, ("build_input_shape", "built")),
        Step("explicit_build", False, ExplicitBuild(spec.input_shape, None, created), ("built",)),
        Step("symbolic_input", False, SymbolicInput(spec.input_shape[1:], spec.batch, None, output_shape, created),
             ("output_type",)),
    )  # fmt: skip
