"""--explain: the lazy-build story, each step observed on a real layer (construct, first call, build, Input)."""

from __future__ import annotations

from typing import Any

from convinspect.core.layer import story
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.report import Constructed, ExplicitBuild, FirstCall, Step, SymbolicInput
from convinspect.core.layer.spec import LayerSpec
from convinspect.engines.objects import layer_variables, shape_of


def constructed(layer: Any) -> tuple[bool, tuple[str, ...], str | None]:
    """What a freshly constructed layer shows (built, trainable variables), and count_params()' own complaint."""
    try:
        layer.count_params()
        error = None
    except ValueError as err:
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return bool(layer.built), tuple(v.path for v in layer.trainable_variables), error


def record_build(layer: Any, calls: list[Any]) -> None:
    """Wrap this layer's build() so the shape Keras passes it is recorded."""
    original = layer.build

    def build(input_shape: Any) -> Any:  # one parameter: Keras hands it the first input's shape
        calls.append(input_shape)
        return original(input_shape)

    layer.build = build


def story_steps(
    keras: Any, cls: Any, spec: LayerSpec, constructed: tuple[bool, tuple[str, ...], str | None], layer: Any,
    build_calls: list[Any],
    output_shape: tuple[int | None, ...], layouts: tuple[Layout, ...],
) -> tuple[Step, ...]:  # fmt: skip
    """The four steps, each observed on a real layer: construct, first call, and two other triggers."""
    first_call = Step("first_call", True, FirstCall(
        spec.input_shape, shape_of(build_calls[0]) if build_calls else None, spec.data_format.channel_axis,
        spec.channels, story.variable_facts(layer_variables(layer), layouts), bool(layer.built), output_shape,
    ))  # fmt: skip
    built_explicitly = cls(**spec.keras_kwargs())
    built_explicitly.build(spec.input_shape)
    explicit = Step("explicit_build", True, ExplicitBuild(
        spec.input_shape, bool(built_explicitly.built),
        story.variable_facts(layer_variables(built_explicitly), layouts),
    ))  # fmt: skip
    called_symbolically = cls(**spec.keras_kwargs())
    output = called_symbolically(keras.Input(shape=spec.input_shape[1:], batch_size=spec.batch))
    on_input = Step("symbolic_input", True, SymbolicInput(
        spec.input_shape[1:], spec.batch, type(output).__name__, shape_of(output.shape),
        story.variable_facts(layer_variables(called_symbolically), layouts),
    ))  # fmt: skip
    construct = Step("construct", True, Constructed(story.constructor(spec), *constructed))
    return (construct, first_call, explicit, on_input)
