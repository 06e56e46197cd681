"""The analytic engine: a Report from the core arithmetic alone, no TensorFlow."""

from __future__ import annotations

from convinspect import __version__
from convinspect.core import arithmetic
from convinspect.core.report import Report, Variable
from convinspect.core.spec import LayerSpec


def inspect(spec: LayerSpec) -> Report:
    """What Keras would report for `spec`, computed from the hyperparameters."""
    output_shape = arithmetic.output_shape(spec)
    variables = tuple(
        Variable(name, f"{spec.name}/{name}", shape, spec.variable_dtype)
        for name, shape in arithmetic.variable_shapes(spec)
    )
    return Report(
        class_name=spec.kind.class_name,
        name=spec.name,
        config=spec.config(),
        engine="analytic",
        forward=None,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=(),
        variables_after=variables,
        versions={"convinspect": __version__, "keras": None, "tensorflow": None},
    )
