"""The analytic engine: a Report from the core arithmetic alone, no TensorFlow."""

from __future__ import annotations

from convinspect import __version__
from convinspect.core import arithmetic, story
from convinspect.core.measures import measure
from convinspect.core.report import Report, Variable
from convinspect.core.spec import LayerSpec


def inspect(spec: LayerSpec, explain: bool = False) -> Report:
    """What Keras would report for `spec`, computed from the hyperparameters."""
    output_shape = arithmetic.output_shape(spec)
    variables = tuple(
        Variable(name, f"{spec.name}/{name}", shape, spec.variable_dtype)
        for name, shape in arithmetic.variable_shapes(spec)
    )
    config = spec.config()
    measures = measure(
        spec.kind, config, spec.input_shape, output_shape, {v.name: v.shape for v in variables},
        sum(v.bytes for v in variables), spec.variable_dtype, spec.compute_dtype,
    )  # fmt: skip
    return Report(
        class_name=spec.kind.class_name,
        name=spec.name,
        config=config,
        engine="analytic",
        forward=None,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=(),
        variables_after=variables,
        versions={"convinspect": __version__, "keras": None, "tensorflow": None},
        measures=measures,
        story=story.analytic_story(spec, output_shape, variables, measures.layouts) if explain else (),
    )
