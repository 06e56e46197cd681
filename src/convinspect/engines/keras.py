"""The Keras engine for one layer: build the real layer, run a dummy forward pass, read its variables.

TensorFlow is imported only when a Keras report is asked for (engines/session.py loads it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from convinspect.core.layer import arithmetic, xla
from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.forward import DEFAULT_BUDGET, ForwardChoice, choose_forward, pass_bytes
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.measures import measure
from convinspect.core.layer.report import Report
from convinspect.core.layer.runtime import (
    CpuKernels,
    KernelChoice,
    Rule,
    Runtime,
    crash_observed,
    crash_predicted,
    known_crash,
    observed_failure,
)
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.verify import Verification
from convinspect.core.vocab.choices import Engine, Forward
from convinspect.engines import recording
from convinspect.engines.objects import layer_variables, shape_of
from convinspect.engines.session import backend_errors, kernels, load, rejected, rejections
from convinspect.engines.verification import terms_of
from convinspect.engines.verification import verify as verify_layer
from convinspect.errors import BackendError, InvalidInput


def inspect(
    spec: LayerSpec, *, forward: Forward = Forward.AUTO, budget: int = DEFAULT_BUDGET, seed: int | None = None,
    explain: bool = False, verify: bool = False, cpu_kernels: CpuKernels = CpuKernels.AUTO,
    crashed: str | None = None, run_known_crashes: bool = False,
) -> Report:  # fmt: skip
    """Build the real Keras layer for `spec`, call it once, and report its variables.

    With `explain`, also record the lazy-build story as it happens (engines/recording.py); with
    `verify`, also check its output against the float64 reference (engines/verification.py).
    `crashed` (a signal's name) says the forward pass killed an earlier process
    (engines/worker.py): the layer is then built and called symbolically only, no kernel runs.
    A layer the rules know to crash TensorFlow here (runtime.KNOWN_CRASHES) is not run either, and
    its runtime is the prediction, unless `run_known_crashes` (benchmarks/runtime_rules.py, in a
    worker that may die) asks to see it happen.
    """
    _fits_in_memory(spec)
    keras, np, versions = load()
    backend = str(versions["backend"])
    cpu = kernels(spec.compute_dtype, cpu_kernels) if backend == "tensorflow" else None
    dead = None if crashed is None else crash_observed(crashed, backend, cpu)
    if dead is None and cpu is not None and not run_known_crashes and arithmetic.runtime(spec, cpu).crashed:
        known = known_crash(spec.kind.class_name, spec.config.dilation_rate, cpu)
        assert known is not None
        dead = crash_predicted(known, cpu)  # never run what kills the process: say what would happen
    if dead is None and backend == "jax" and not run_known_crashes and xla.aborts(spec):
        dead = xla.abort_predicted()
    report = _inspect(keras, np, versions, spec, forward, budget, seed, explain, cpu, dead)
    if not verify:
        return report
    if not report.runtime.runs:  # nothing to compare: say so rather than pass quietly
        on = "" if cpu is None else f" on its {cpu.kernels.label} CPU kernels"
        skipped = Verification(None, 0.0, 0.0, 0.0, spec.compute_dtype, terms_of(spec), tuple(
            1 if d is None else d for d in spec.input_shape), False, False, None, backend,
            skipped=f"{backend} cannot run this layer{on} ({report.runtime.rule})")  # fmt: skip
        return dataclasses.replace(report, verification=skipped)
    return dataclasses.replace(report, verification=verify_layer(keras, np, spec, budget, seed, backend))


def _fits_in_memory(spec: LayerSpec) -> None:
    """The real layer's variables must fit in this machine's memory: Keras would try to allocate them."""
    from convinspect.core.layer.arithmetic import variable_shapes
    from convinspect.core.vocab.dtypes import itemsize
    from convinspect.core.vocab.units import human_bytes
    from convinspect.engines.machine import physical_memory

    memory = physical_memory()
    count = sum(math.prod(shape) for _, shape in variable_shapes(spec))
    need = count * itemsize(spec.variable_dtype)
    if memory is not None and need > memory:
        raise InvalidInput(
            f"the layer's variables need {human_bytes(need)} ({count:,} parameters), more than this machine's "
            f"{human_bytes(memory)} of memory, so Keras cannot build it; --engine analytic sizes it without building"
        )


def _dummy(np: Any, shape: tuple[int | None, ...], dtype: str, seed: int | None) -> Any:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)


def _probe(
    np: Any, cls: Any, spec: LayerSpec, dtype: str, budget: int, seed: int | None, backend: str,
    cpu: KernelChoice | None,
) -> Runtime:  # fmt: skip
    """Whether TensorFlow runs this layer, observed on the smallest input it takes (batch 1, each
    spatial axis max(2, effective kernel)), when the real input is too big for an eager pass.
    A probe that would itself pass the budget is not run; the rules predict the verdict instead."""
    config = spec.config
    spatial = tuple(max(2, effective_kernel(k, d)) for k, d in zip(config.kernel_size, config.dilation_rate))
    shape = spec.data_format.assemble(1, spatial, spec.channels)
    layer = cls(**spec.keras_kwargs())
    output = shape_of(layer.compute_output_shape(shape))
    if pass_bytes(spec, shape, output) > budget:
        # The rules describe TensorFlow's CPU kernels; other backends are not predicted.
        return arithmetic.runtime(spec, cpu) if cpu is not None else Runtime(True, False, backend=backend)
    try:
        layer(_dummy(np, shape, dtype, seed))
    except backend_errors() as err:
        return _failure(str(err), backend, cpu)
    return Runtime(runs=True, observed=True, backend=backend, kernels=cpu)


def _failure(message: str, backend: str, cpu: KernelChoice | None) -> Runtime:
    runtime = observed_failure(message, cpu)
    if backend == "tensorflow":
        return runtime
    return dataclasses.replace(runtime, backend=backend, rule=Rule.BACKEND)


def _inspect(
    keras: Any, np: Any, versions: dict[str, str | None], spec: LayerSpec,
    forward: Forward, budget: int, seed: int | None, explain: bool, cpu: KernelChoice | None,
    crashed: Runtime | None = None,
) -> Report:  # fmt: skip
    backend = str(versions["backend"])
    if seed is not None:
        keras.utils.set_random_seed(seed)
    cls = getattr(keras.layers, spec.kind.class_name)
    try:
        layer = cls(**spec.keras_kwargs())
    except (ValueError, TypeError) as err:
        raise rejected(err, "layer") from None
    before = layer_variables(layer)
    constructed: tuple[bool, tuple[str, ...], str | None] = (False, (), None)
    build_calls: list[Any] = []
    if explain:  # read the fresh layer before anything builds it
        constructed = recording.constructed(layer)
        recording.record_build(layer, build_calls)
    try:
        predicted = shape_of(layer.compute_output_shape(spec.input_shape))
    except ValueError as err:
        raise rejected(err, "input") from None
    arithmetic.check_runnable(spec, predicted)
    choice = choose_forward(spec, predicted, forward, budget)
    if crashed is None:
        output, runtime = _forward(keras, np, cls, layer, spec, choice, budget, seed, backend, cpu)
    else:  # the forward pass killed a process already: Keras' symbolic call gives the shapes
        output, runtime = layer(keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype)), crashed
    output_shape = shape_of(output.shape)
    arithmetic.check_runnable(spec, output_shape)
    after = layer_variables(layer)
    config = LayerConfig.from_keras(layer.get_config(), layer.dtype_policy.name)
    measures = measure(
        spec.kind, config, spec.input_shape, output_shape, {v.name: v.shape for v in after},
        sum(v.bytes for v in after), str(layer.dtype_policy.variable_dtype), str(layer.compute_dtype),
    )  # fmt: skip
    steps = (
        recording.story_steps(keras, cls, spec, constructed, layer, build_calls, output_shape, measures.layouts)
        if explain
        else ()
    )
    return Report(
        kind=spec.kind,
        name=layer.name,
        config=config,
        engine=Engine.KERAS,
        forward=choice,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=before,
        variables_after=after,
        versions=dict(versions),
        measures=measures,
        runtime=runtime,
        story=steps,
    )


def _forward(
    keras: Any, np: Any, cls: Any, layer: Any, spec: LayerSpec, choice: ForwardChoice, budget: int,
    seed: int | None, backend: str, cpu: KernelChoice | None,
) -> tuple[Any, Runtime]:  # fmt: skip
    """The forward pass the choice asks for: the output, and whether the backend ran the layer."""
    symbolic = keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype)
    try:
        if choice.mode is Forward.EAGER:
            try:
                output = layer(_dummy(np, spec.input_shape, layer.compute_dtype, seed))
                runtime = Runtime(runs=True, observed=True, backend=backend, kernels=cpu)
            except backend_errors() as err:  # valid for Keras, refused by the backend's kernels
                runtime = _failure(str(err), backend, cpu)
                output = layer(symbolic)  # the layer is built; its output shape is still Keras' to say
        else:
            output = layer(symbolic)
            runtime = _probe(np, cls, spec, layer.compute_dtype, budget, seed, backend, cpu)
    except rejections() as err:
        verdict = rejected(err, "input")
        if backend != "tensorflow" and verdict.rule == "keras":  # not one of Keras' rules: the backend failed
            raise BackendError(f"{backend} failed during the {choice.mode} forward pass: {err}") from None
        raise verdict from None
    except Exception as err:  # any other failure is the backend's, not the user's
        raise BackendError(
            f"{backend} failed during the {choice.mode} forward pass: {type(err).__name__}: {err}"
        ) from None
    return output, runtime
