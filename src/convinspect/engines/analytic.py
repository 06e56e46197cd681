"""The analytic engine: a Report from the core arithmetic alone, no TensorFlow."""

from __future__ import annotations

import math

from convinspect.core import arithmetic, story
from convinspect.core.choices import Engine
from convinspect.core.cost import layer_cost
from convinspect.core.measures import measure
from convinspect.core.report import Report, Variable
from convinspect.core.spec import LayerSpec
from convinspect.core.sweep import SweepRow
from convinspect.version import __version__


def inspect(spec: LayerSpec, explain: bool = False) -> Report:
    """What Keras would report for `spec`, computed from the hyperparameters."""
    output_shape = arithmetic.output_shape(spec)
    variables = tuple(
        Variable(name, f"{spec.name}/{name}", shape, spec.variable_dtype)
        for name, shape in arithmetic.variable_shapes(spec)
    )
    measures = measure(
        spec.kind, spec.config, spec.input_shape, output_shape, {v.name: v.shape for v in variables},
        sum(v.bytes for v in variables), spec.variable_dtype, spec.compute_dtype,
    )  # fmt: skip
    return Report(
        kind=spec.kind,
        name=spec.name,
        config=spec.config,
        engine=Engine.ANALYTIC,
        forward=None,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=(),
        variables_after=variables,
        versions={"convinspect": __version__, "keras": None, "tensorflow": None},
        measures=measures,
        runtime=arithmetic.runtime(spec),
        story=story.analytic_story(spec, output_shape, variables, measures.layouts) if explain else (),
    )


def sweep_row(spec: LayerSpec) -> SweepRow:
    """A sweep's figures for one input shape: shapes, params and cost, without geometry or layouts."""
    output = arithmetic.output_shape(spec)
    variables = dict(arithmetic.variable_shapes(spec))
    cost = layer_cost(spec.kind.recipe, spec.data_format, spec.input_shape, output, variables, spec.config.use_bias)
    params = sum(math.prod(v) for v in variables.values())
    return SweepRow(spec.input_shape, output, params, cost, runtime_rule=arithmetic.runtime(spec).rule)
