"""The analytic engine: a Report from the core arithmetic alone, no TensorFlow."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from convinspect.core.commands.sweep import SweepRow
from convinspect.core.layer import arithmetic, story
from convinspect.core.layer.cost import layer_cost
from convinspect.core.layer.measures import measure
from convinspect.core.layer.report import Report
from convinspect.core.layer.runtime import CpuKernels, KernelChoice, choose_kernels
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Variable
from convinspect.core.model.graph import Shape, parse_model
from convinspect.core.model.report import ModelReport
from convinspect.core.model.source import Source
from convinspect.core.model.walk import unbuilt_rows, walk, with_input
from convinspect.core.vocab.choices import Engine
from convinspect.engines.machine import this_machine
from convinspect.version import __version__

# What the analytic engine ran on: convinspect alone (the Keras engine names Keras, TensorFlow and its backend).
VERSIONS = MappingProxyType({"convinspect": __version__, "keras": None, "tensorflow": None, "backend": None,
                             "backend_version": None})  # fmt: skip


def kernels(spec: LayerSpec, cpu_kernels: CpuKernels = CpuKernels.AUTO) -> KernelChoice:
    """The CPU kernel set TensorFlow would run `spec` on: on this machine (auto), or with oneDNN on or off."""
    return dtype_kernels(spec.compute_dtype, cpu_kernels)


def dtype_kernels(compute_dtype: str, requested: CpuKernels = CpuKernels.AUTO) -> KernelChoice:
    return choose_kernels(this_machine(), compute_dtype, requested)


def inspect(spec: LayerSpec, explain: bool = False, cpu_kernels: CpuKernels = CpuKernels.AUTO) -> Report:
    """What Keras would report for `spec`, computed from the hyperparameters."""
    output_shape = arithmetic.output_shape(spec)
    variables = tuple(
        Variable(name, shape, spec.variable_dtype, path=f"{spec.name}/{name}")
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
        versions=VERSIONS,
        measures=measures,
        runtime=arithmetic.runtime(spec, kernels(spec, cpu_kernels)),
        story=story.analytic_story(spec, output_shape, variables, measures.layouts) if explain else (),
    )


def sweep_row(spec: LayerSpec, choice: KernelChoice) -> SweepRow:
    """A sweep's figures for one input shape: shapes, params and cost, without geometry or layouts."""
    output = arithmetic.output_shape(spec)
    variables = dict(arithmetic.variable_shapes(spec))
    cost = layer_cost(spec.kind.recipe, spec.data_format, spec.input_shape, output, variables, spec.config.use_bias)
    params = sum(math.prod(v) for v in variables.values())
    return SweepRow(spec.input_shape, output, params, cost, runtime_rule=arithmetic.runtime(spec, choice).rule)


def inspect_model(config: Mapping[str, Any], source: Source, input_shape: Shape | None = None) -> ModelReport:
    """Every layer of a serialized model sized from its configuration; nothing in it is run."""
    graph = parse_model(config)
    built = input_shape is not None or graph.built
    if built:
        shapes: tuple[Shape | None, ...] = with_input(graph, input_shape)
        rows = tuple(walk(graph, shapes))  # type: ignore[arg-type]
    else:
        shapes, rows = graph.input_shapes, tuple(unbuilt_rows(graph))
    before = sum(len(row.weights) for row in rows) if graph.built else 0
    return ModelReport(
        name=graph.name,
        class_name=graph.class_name,
        source=source.named(),
        engine=Engine.ANALYTIC,
        input_shapes=shapes,
        lazy=not graph.built,
        built=built,
        variables_before=before,
        rows=rows,
        versions=VERSIONS,
    )
