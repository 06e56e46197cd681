"""The typed Python API: one layer, a model, spec files, sweeps, solve, every backend. Each call
parses its arguments, picks the engines and returns typed facts (the command line's adapter onto
it is adapter.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from convinspect.core.checks import execution
from convinspect.core.checks.checkrun import CheckRun, EntryResult
from convinspect.core.checks.execution import Inspector
from convinspect.core.commands.conformance import Conformance
from convinspect.core.commands.solve import run as run_solve
from convinspect.core.commands.sweep import Sweep, SweepRow
from convinspect.core.layer.forward import DEFAULT_BUDGET
from convinspect.core.layer.kinds import KINDS
from convinspect.core.layer.report import Report, disagreement
from convinspect.core.layer.runtime import CpuKernels
from convinspect.core.layer.spec import (
    LayerSpec,
    flags,
    parse_seed,
    parse_shape_ranges,
    parse_size,
    parse_spec,
)
from convinspect.core.model.graph import Shape
from convinspect.core.model.report import ModelReport, model_disagreement
from convinspect.core.model.source import Source, SourceKind
from convinspect.core.model.training import TrainingRequest
from convinspect.core.vocab.choices import DataFormat, Engine, Forward
from convinspect.core.vocab.text import shown
from convinspect.engines import analytic, session
from convinspect.errors import BackendError, InvalidInput

__all__ = [  # the typed API: what any program (and the command line's adapter) takes from here
    "NO_BACKEND", "inspect_layer", "inspect_model", "inspect_object", "isolated", "iter_check", "run_check",
    "run_conformance", "run_solve", "run_sweep",
]  # fmt: skip
NO_BACKEND = "chooses the Keras engine's backend; the analytic engine has none"


_ISOLATED: list[bool] = [False]


@contextlib.contextmanager
def isolated(on: bool = True) -> Iterator[None]:
    """Within the block, every Keras-engine layer report runs in a worker process (engines/worker.py),
    so a TensorFlow kernel that crashes costs that layer's forward pass, not this process. The
    command line runs in this mode; a program's own calls run in-process unless it asks."""
    before = _ISOLATED[0]
    _ISOLATED[0] = on
    try:
        yield
    finally:
        _ISOLATED[0] = before


def _release() -> None:
    """Drop Keras' global state where the layers were built: the workers, or this process."""
    if _ISOLATED[0]:
        from convinspect.engines import worker

        worker.release()
    else:
        session.release()


def _keras_layer(spec: LayerSpec, backend: str | None, cpu_kernels: CpuKernels, **options: Any) -> Report:
    """The Keras engine's report: in a worker when isolated, else in this process."""
    if _ISOLATED[0]:
        from convinspect.engines import worker

        chosen = session.resolve_backend(backend)
        session.kernels_request(cpu_kernels, chosen)
        return worker.inspect(spec, backend=chosen, cpu_kernels=cpu_kernels, **options)
    from convinspect.engines import keras  # on demand: only Keras reports need it

    session.select_kernels(cpu_kernels, session.select_backend(backend))
    return keras.inspect(spec, cpu_kernels=cpu_kernels, **options)


def inspect_layer(
    spec: LayerSpec | Mapping[str, object],
    *,
    engine: Engine | str = Engine.KERAS,
    forward: Forward | str = Forward.AUTO,
    budget: int | str = DEFAULT_BUDGET,
    seed: int | None = None,
    explain: bool = False,
    verify: bool = False,
    backend: str | None = None,
    cpu_kernels: CpuKernels | str = CpuKernels.AUTO,
) -> Report:
    """Inspect one conv layer.

    `spec` is a LayerSpec or a mapping of option values (`{"filters": 64, "kernel": 5,
    "input": "2,32,32,1"}`). `engine` is `keras` (build the real layer), `analytic`
    (arithmetic only, no TensorFlow) or `both` (run both; any disagreement raises
    BackendError). `explain` adds the lazy-build story (observed with Keras, computed
    without). `budget` is bytes or a size such as "1GiB". `verify` checks the real layer's
    output against a float64 NumPy reference (Keras engine only). `backend` chooses Keras'
    backend (tensorflow, jax, numpy, torch; default KERAS_BACKEND, else tensorflow): a process
    keeps the first backend Keras loads. `cpu_kernels` is the TensorFlow CPU kernel set the
    runtime verdict is for: `auto` (this machine: TF_ENABLE_ONEDNN_OPTS and the CPU's
    features), `onednn` or `plain`; the Keras engine sets TensorFlow's switch before it is
    imported, and refuses a request its process cannot honour. Raises InvalidInput, with the
    command line's messages, for bad arguments and for configs Keras would reject.
    """
    spec = _spec(spec)
    engine = Engine.parse(engine, "engine")
    forward = Forward.parse(forward, "forward")
    budget = parse_size(budget, "budget")
    seed = parse_seed(seed)
    cpu_kernels = CpuKernels.parse(cpu_kernels, "cpu_kernels")
    if engine is Engine.ANALYTIC:
        if verify:
            raise InvalidInput(
                "needs the real forward pass, and the analytic engine runs none: use --engine keras or both", "verify"
            )
        if backend is not None:
            raise InvalidInput(NO_BACKEND, "backend")
        return analytic.inspect(spec, explain=explain, cpu_kernels=cpu_kernels)
    options: dict[str, Any] = {"forward": forward, "budget": budget, "seed": seed, "explain": explain, "verify": verify,
               "cpu_kernels": cpu_kernels, "backend": backend}  # fmt: skip
    if engine is Engine.KERAS:
        return _keras_layer(spec, **options)
    return _both(spec, **options)


def _spec(spec: object) -> LayerSpec:
    if isinstance(spec, LayerSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"expected a LayerSpec or a mapping of options such as {{'filters': 64}}; got {shown(spec)}")
    return parse_spec(spec)


def _both(spec: LayerSpec, *, cpu_kernels: CpuKernels, **options: Any) -> Report:
    verdicts: dict[Engine, Report | InvalidInput] = {}
    for name in (Engine.KERAS, Engine.ANALYTIC):
        try:
            if name is Engine.KERAS:
                verdicts[name] = _keras_layer(spec, cpu_kernels=cpu_kernels, **options)
            else:
                verdicts[name] = analytic.inspect(spec, cpu_kernels=cpu_kernels)
        except InvalidInput as err:
            if err.option is not None:  # an option the engine cannot honour, not a verdict on the layer
                raise
            verdicts[name] = err
    keras_result, analytic_result = verdicts[Engine.KERAS], verdicts[Engine.ANALYTIC]
    if isinstance(keras_result, InvalidInput) and isinstance(analytic_result, InvalidInput):
        raise keras_result
    if isinstance(keras_result, InvalidInput) or isinstance(analytic_result, InvalidInput):
        rejected, accepted = ("keras", "analytic") if isinstance(keras_result, InvalidInput) else ("analytic", "keras")
        reason = verdicts[Engine(rejected)]
        raise BackendError(f"engines disagree: {accepted} accepted the layer, {rejected} rejected it ({reason})")
    found = disagreement(keras_result, analytic_result)
    if found is not None:
        raise found.error()
    return dataclasses.replace(keras_result, agreed_with=Engine.ANALYTIC)


# -- spec files ------------------------------------------------------------------------


def _inspector() -> Inspector:
    """The engines a check run asks (read when the run starts)."""
    return Inspector(layer=inspect_layer, model=inspect_model, release=_release)


def run_check(
    paths: Iterable[str],
    *,
    on_total: Callable[[int], None] | None = None,
    on_result: Callable[[EntryResult], object] | None = None,
    **engine_options: Any,
) -> CheckRun:
    """Check every entry of every spec file, never stopping at a bad one.

    `engine_options` are inspect_layer's (`engine`, `forward`, `budget`, `seed`).
    """
    results = []
    for result in iter_check(paths, on_total=on_total, **engine_options):
        results.append(result)
        if on_result:
            on_result(result)
    return CheckRun(tuple(results))


def iter_check(
    paths: Iterable[str], *, on_total: Callable[[int], None] | None = None, **engine_options: Any
) -> Iterator[EntryResult]:
    """run_check's results one at a time, for output that streams (50,000 entries in flat memory)."""
    if isinstance(paths, (str, bytes)):
        paths = [paths.decode() if isinstance(paths, bytes) else paths]
    return execution.iter_check(paths, _inspector(), on_total=on_total, **engine_options)


# -- sweeps ----------------------------------------------------------------------------


def run_sweep(
    values: Mapping[str, object],
    *,
    engine: Engine | str = Engine.ANALYTIC,
    on_total: Callable[[int], None] | None = None,
    on_result: Callable[[SweepRow], object] | None = None,
    **engine_options: Any,
) -> Sweep:
    """Inspect the layer for every input shape in the ranges of `values["input"]`.

    Bad options (and too many combinations) raise InvalidInput before anything runs;
    an input shape the layer rejects becomes a row with the reason.
    """
    if not isinstance(values, Mapping):
        raise InvalidInput(f"expected a mapping of options such as {{'filters': 64}}; got {shown(values)}")
    engine = Engine.parse(engine, "engine")
    raw = values.get("input")
    if raw is None:
        raise InvalidInput("is required (ranges allowed: 1,220..232,220..232,3)", "input")
    dims = parse_shape_ranges(raw)
    shapes = list(itertools.product(*dims))
    spec = parse_spec({**values, "input": list(shapes[0])})  # options checked once, for every row
    cpu_kernels = CpuKernels.parse(engine_options.pop("cpu_kernels", CpuKernels.AUTO), "cpu_kernels")
    choice = analytic.kernels(spec, cpu_kernels)
    if on_total:
        on_total(len(shapes))
    rows = []
    for shape in shapes:
        each = dataclasses.replace(spec, input_shape=shape)
        try:
            if engine is Engine.ANALYTIC:
                row = analytic.sweep_row(each, choice)
            else:
                report = inspect_layer(each, engine=engine, cpu_kernels=cpu_kernels, **engine_options)
                crash = report.runtime.crashed and report.runtime.observed
                error = report.runtime.crash_text(report.class_name, report.name) if crash else None
                row = SweepRow(report.input_shape, report.output_shape, report.params.total, report.measures.cost,
                               runtime_rule=report.runtime.rule, error=error)  # fmt: skip
        except InvalidInput as err:
            if err.option is not None:  # an option the engine cannot honour, not a verdict on this shape
                raise
            row = SweepRow(shape, reason=err.message())
        rows.append(row)
        if on_result:
            on_result(row)
    return Sweep(spec, str(raw), engine, tuple(rows), choice)


# -- whole models ------------------------------------------------------------------------


def inspect_model(
    source: str,
    *,
    engine: Engine | str = Engine.KERAS,
    input: object = None,
    unsafe: bool = False,
    imports: Iterable[str] = (),
    load_weights: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    backend: str | None = None,
    cpu_kernels: CpuKernels | str = CpuKernels.AUTO,
    training: TrainingRequest | bool | None = None,
) -> ModelReport:
    """Every layer of a Keras model: a .keras/.h5/JSON file, `module:function`, `file.py:function`
    or `keras.applications.NAME`. `input` is a full shape (batch first) for a model without one,
    or to override it. The analytic engine reads configurations only and runs nothing; `backend`
    chooses Keras' backend for the Keras engine, as for inspect_layer. `runtime` says which conv layers
    TensorFlow's CPU kernels (`cpu_kernels`, as for inspect_layer) would refuse, predicted. `training`
    (True, or a TrainingRequest: optimizer, batch, fit, measure) adds the memory of one train step."""
    report = _inspect_model(source, engine, input, unsafe, imports, load_weights, progress, backend, cpu_kernels)
    request = TrainingRequest() if training is True else training or None
    if request is None:
        return report
    return with_training(report, request, source=source, input=input, unsafe=unsafe, imports=imports,
                         progress=progress)  # fmt: skip


def with_training(
    report: ModelReport, request: TrainingRequest, *, source: str | None = None, input: object = None,
    unsafe: bool = False, imports: Iterable[str] = (), progress: Callable[[str, int, int], None] | None = None,
) -> ModelReport:  # fmt: skip
    """The report with the memory of one train step (`request.measure`: and XLA's figures for it)."""
    from convinspect.core.layer.spec import parse_shape
    from convinspect.core.model.training import plan

    if not report.built:
        raise InvalidInput("the model has no input shape, so its training memory has no sizes: give --input", "input")
    if report.engine is Engine.ANALYTIC:
        backend = session.backend_name(os.environ.get("KERAS_BACKEND") or "tensorflow", None)
    else:
        backend = session.loaded_backend() or "tensorflow"
    shapes = report.input_shapes
    input_batch = shapes[0][0] if shapes and shapes[0] is not None and len(shapes) == 1 else None
    if input is not None:  # the batch asked for, even where the model read is built for any batch
        first = input
        if isinstance(input, list | tuple) and input and not isinstance(input[0], int | str | type(None)):
            first = input[0]  # one shape per input: they share the batch
        asked = parse_shape(first, "input")
        input_batch = asked[0] if asked and asked[0] is not None else input_batch
    memory = plan(report.rows, request, backend, input_batch)
    if request.measure:
        from convinspect.engines.keras_training import measure

        if source is None:
            raise InvalidInput("--measure compiles a model SOURCE again on the JAX backend; a live model has none",
                               "measure")  # fmt: skip
        shape = None if input is None else parse_shape(input, "input")
        measured = measure(source, shape, memory.batch, memory.optimizer, unsafe=unsafe, imports=tuple(imports),
                           progress=progress)  # fmt: skip
        memory = dataclasses.replace(memory, measured=measured)
    return dataclasses.replace(report, training=memory)


def _inspect_model(
    source: str, engine: Engine | str, input: object, unsafe: bool, imports: Iterable[str], load_weights: bool,
    progress: Callable[[str, int, int], None] | None, backend: str | None, cpu_kernels: CpuKernels | str,
) -> ModelReport:  # fmt: skip
    from convinspect.core.model.report import model_runtime

    engine = Engine.parse(engine, "engine")
    cpu_kernels = CpuKernels.parse(cpu_kernels, "cpu_kernels")
    if engine is not Engine.ANALYTIC:
        chosen = session.select_backend(None if backend is None else session.backend_name(backend))
        session.select_kernels(cpu_kernels, chosen)
    report = _model(source, engine, input, unsafe, tuple(imports), load_weights, progress, backend)
    if not report.built:
        return report
    if engine is Engine.ANALYTIC:
        choose = functools.partial(analytic.dtype_kernels, requested=cpu_kernels)
    elif session.loaded_backend() == "tensorflow":
        choose = functools.partial(session.kernels, requested=cpu_kernels)
    else:
        return report  # the rules describe TensorFlow's kernels
    return dataclasses.replace(report, runtime=model_runtime(report.rows, choose))


def inspect_object(
    obj: object, input_shape: object = None, *, engine: Engine | str = Engine.KERAS
) -> ModelReport | Report:
    """A Keras object that lives in this process, read where it stands, or a model SOURCE as for
    inspect_model. A keras.Model (Sequential, Functional, subclassed, a keras_hub backbone or task)
    gives a ModelReport; a conv layer a Report, from a fresh layer of its configuration (so its story
    starts with no variables); any other layer the ModelReport of a clone of it alone. An unbuilt
    object is never built: `input_shape` (batch first) builds a clone, and without it an unbuilt
    model is reported as it stands, with no variables yet. Nothing of the object changes."""
    import os

    engine = Engine.parse(engine, "engine")
    shape = None if input_shape is None else _live_shape(input_shape)
    with session.names_kept():  # Keras' name counters as they were, whatever is built to read it
        if isinstance(obj, (str, os.PathLike)):
            return inspect_model(os.fspath(obj), engine=engine, input=shape)
        return _live(obj, shape, engine)


def _live_shape(raw: object) -> Shape:
    """input_shape as a tuple or list (NumPy integers, a NumPy vector or a tf.TensorShape too), batch first."""
    from convinspect.core.layer.spec import parse_shape

    if getattr(raw, "ndim", None) == 1 and hasattr(raw, "tolist"):  # a NumPy vector of sizes
        raw = raw.tolist()
    elif hasattr(raw, "as_list") and not isinstance(raw, (str, bytes)):  # a tf.TensorShape
        raw = raw.as_list()
    elif isinstance(raw, range):
        raw = list(raw)
    if not isinstance(raw, (tuple, list, str)):
        raise InvalidInput(f"expected a shape, a tuple of whole numbers (batch first); got a {type(raw).__name__}",
                           "input_shape")  # fmt: skip
    if isinstance(raw, (tuple, list)):  # NumPy integers as Python's (never a bool or a float)
        raw = [d.item() if type(d).__module__ == "numpy" and hasattr(d, "item") else d for d in raw]
    return parse_shape(raw, "input_shape")


def _live(obj: object, shape: Shape | None, engine: Engine) -> ModelReport | Report:
    from convinspect.engines import keras_model

    keras, _, _ = session.load()
    if isinstance(obj, keras.Model):
        real, config = keras_model.live_model(obj, shape)
        return _live_engines(real, config, engine)
    class_name, config, policy, built = keras_model.live_layer_config(obj)
    if shape is not None and built is not None and not isinstance(built, tuple):
        raise InvalidInput(f"the {shown(class_name)} is built for several inputs ({built}); leave input_shape out "
                           "to read it as it was built", "input_shape")  # fmt: skip
    if shape is not None and built is not None:
        keras_model.takes(obj, shape)  # a built layer is read for another shape only when it can be called on it
    if shape is None and built is not None and not isinstance(built, tuple):
        real, config = keras_model.live_model(keras_model.layer_as_model(obj, built), None)
        return _live_engines(real, config, engine)
    if shape is None and isinstance(built, tuple) and None in built[1:]:
        raise InvalidInput(f"the {shown(class_name)} is built for {built}, sizes unknown: give input_shape "
                           "(batch first) to read it for one", "input_shape")  # fmt: skip
    shape = shape or built  # type: ignore[assignment]
    if shape is None:
        raise InvalidInput(f"the {shown(class_name)} is not built, so it has no variables yet: give input_shape "
                           "(batch first) to see what building it will create", "input_shape")  # fmt: skip
    kind = next((k for k in KINDS if k.class_name == class_name), None)
    if kind is not None:
        from convinspect.core.layer.config import LayerConfig

        if len(shape) != kind.rank + 2:
            layout = kind.input_layout(DataFormat.parse(config.get("data_format") or "channels_last", "data_format"))
            raise InvalidInput(f"a {class_name} takes a rank-{kind.rank + 2} input {layout}; got {tuple(shape)}",
                               "input_shape")  # fmt: skip
        spec = LayerSpec(kind=kind, config=LayerConfig.from_keras(config, policy), input_shape=shape,
                         name=str(config.get("name", kind.default_name)))  # fmt: skip
        report = inspect_layer(spec, engine=engine)
        if getattr(obj, "trainable", True):
            return report
        frozen = tuple(dataclasses.replace(v, trainable=False) for v in report.variables_after)
        return dataclasses.replace(report, variables_after=frozen)  # a frozen layer's variables: non-trainable
    real, config = keras_model.live_model(keras_model.layer_as_model(obj, shape), None)
    return _live_engines(real, config, engine)


def _live_engines(real: ModelReport, config: dict[str, Any], engine: Engine) -> ModelReport:
    """The Keras engine's report of a live model, or the analytic engine's of its configuration, or both."""
    if engine is Engine.KERAS:
        return real
    own = sum(len(row.weights) for row in real.rows if row.name == "(own variables)")
    if own:
        raise InvalidInput(f"the model holds {own} variable(s) of its own (add_weight), which its configuration "
                           "does not show: the keras engine counts them", "engine")  # fmt: skip
    computed = analytic.inspect_model(config, real.source, None)
    if engine is Engine.ANALYTIC:
        return computed
    disagree = model_disagreement(computed, real)
    if disagree is not None:
        raise disagree.error()
    return dataclasses.replace(real, agreed_with=Engine.ANALYTIC)


def _model(
    source: str, engine: Engine, input: object, unsafe: bool, imports: tuple[str, ...], load_weights: bool,
    progress: Callable[[str, int, int], None] | None, backend: str | None,
) -> ModelReport:  # fmt: skip
    from convinspect.core.layer.spec import parse_shape
    from convinspect.engines.sources import resolve

    shape = None if input is None else parse_shape(input, "input")
    found = resolve(source)
    if engine is not Engine.KERAS and found.kind is SourceKind.BUILDER:
        raise InvalidInput(
            "a builder is code, and the analytic engine only reads configurations: use --engine keras, "
            "or save the model (model.save('m.keras')) and inspect the file",
            "engine",
        )
    if engine is Engine.ANALYTIC and backend is not None:
        raise InvalidInput(NO_BACKEND, "backend")
    if engine is Engine.ANALYTIC and (unsafe or imports or load_weights):
        flag = "--unsafe" if unsafe else "--import" if imports else "--load-weights"
        raise InvalidInput(f"{flag} needs the Keras engine (the analytic engine runs nothing)", "engine")
    if engine is Engine.ANALYTIC:
        return _analytic_model(found, shape)
    from convinspect.engines import keras_model

    real, config = keras_model.inspect_model(
        found, shape, unsafe=unsafe, imports=imports, load_weights=load_weights, progress=progress
    )
    if engine is Engine.KERAS:
        return real
    if found.kind is SourceKind.APPLICATION:  # the same model the Keras engine built (Keras numbers its names)
        computed = analytic.inspect_model(config, found, None)
    else:
        computed = _analytic_model(found, shape)
    disagree = model_disagreement(computed, real)
    if disagree is not None:
        raise disagree.error()
    return dataclasses.replace(real, agreed_with=Engine.ANALYTIC)


def _analytic_model(found: Source, shape: Shape | None) -> ModelReport:
    config = found.config
    if found.kind is SourceKind.APPLICATION:  # its configuration comes from Keras itself
        from convinspect.engines import keras_model

        config = keras_model.application_config(found, shape)
        shape = None if shape is None or shape[0] is None else shape
    assert config is not None  # a file's source holds the configuration read from it
    return analytic.inspect_model(config, found, shape)


# -- every backend -----------------------------------------------------------------------


def run_conformance(
    spec: LayerSpec | Mapping[str, object],
    *,
    forward: Forward | str = Forward.AUTO,
    budget: int | str = DEFAULT_BUDGET,
    seed: int | None = None,
    cpu_kernels: CpuKernels | str = CpuKernels.AUTO,
) -> Conformance:
    """The layer on every Keras backend, each in its own process (Keras binds one backend per
    process), each verified against the float64 reference; `cpu_kernels` is TensorFlow's."""
    from convinspect.engines import conformance

    spec = _spec(spec)
    forward = Forward.parse(forward, "forward")
    budget = parse_size(budget, "budget")
    seed = parse_seed(seed)
    cpu_kernels = CpuKernels.parse(cpu_kernels, "cpu_kernels")
    argv = [*flags(spec, every=True), "--forward", str(forward), "--budget", str(budget)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    runs = conformance.run_everywhere(argv, cpu_kernels)
    return Conformance(spec.kind.class_name, spec.config_dict(), list(spec.input_shape), runs)
