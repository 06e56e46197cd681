"""The public entry points: one layer, spec files, sweeps. Each picks the engines and returns facts."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from convinspect.core.checks.checkrun import CHECK_SCHEMA, CheckRun, EntryResult, Status
from convinspect.core.checks.expectations import EXPECTATION_KEYS, parse_expectations, with_checks
from convinspect.core.checks.results import ModelResult
from convinspect.core.checks.specfile import Entry, SpecFileError, load_entries, validate_keys, validate_model_keys
from convinspect.core.commands.conformance import BackendRun, Conformance, RunStatus
from convinspect.core.commands.solve import SOLVE_SCHEMA
from convinspect.core.commands.solve import run as run_solve
from convinspect.core.commands.sweep import SWEEP_SCHEMA, Sweep, SweepRow
from convinspect.core.layer.families import DEFAULTS
from convinspect.core.layer.forward import DEFAULT_BUDGET
from convinspect.core.layer.kinds import KINDS
from convinspect.core.layer.report import REPORT_SCHEMA, Report, compare
from convinspect.core.layer.runtime import CpuKernels
from convinspect.core.layer.spec import (
    OPTION_NAMES,
    SEED_MAX,
    LayerSpec,
    flags,
    parse_int,
    parse_shape_ranges,
    parse_size,
    parse_spec,
)
from convinspect.core.model.report import SCHEMA as MODEL_SCHEMA
from convinspect.core.model.report import ModelReport, model_differences
from convinspect.core.vocab.choices import Engine, Format, Forward
from convinspect.core.vocab.text import shown
from convinspect.engines import analytic
from convinspect.errors import BackendError, ConvinspectError, InvalidInput

__all__ = [  # what the command line (and any program) takes from here
    "DEFAULTS", "KINDS", "NO_BACKEND", "OPTION_NAMES", "SCHEMAS", "Engine", "Format", "Forward",
    "check_options", "inspect_layer", "inspect_model", "iter_check", "model_inputs", "read_files", "read_snapshot",
    "run_build", "run_check", "run_conformance", "run_model", "run_solve", "run_sweep", "sweep_options",
]  # fmt: skip
NO_BACKEND = "chooses the Keras engine's backend; the analytic engine has none"
RELEASE_EVERY = 200  # Keras-engine check entries between two clear_session() calls


def _keras_engine() -> Any:
    # Imported on demand: the module is light, but only Keras reports need it.
    from convinspect.engines import keras

    return keras


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
        _keras_engine().release()


def _keras_layer(spec: LayerSpec, backend: str | None, cpu_kernels: CpuKernels, **options: Any) -> Report:
    """The Keras engine's report: in a worker when isolated, else in this process."""
    keras = _keras_engine()
    if _ISOLATED[0]:
        from convinspect.engines import worker

        chosen = keras.resolve_backend(backend)
        keras.kernels_request(cpu_kernels, chosen)
        return worker.inspect(spec, backend=chosen, cpu_kernels=cpu_kernels, **options)
    keras.select_kernels(cpu_kernels, keras.select_backend(backend))
    return keras.inspect(spec, cpu_kernels=cpu_kernels, **options)  # type: ignore[no-any-return]


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
    seed = None if seed is None else parse_int(seed, "seed", minimum=0, maximum=SEED_MAX)
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
    found = compare(keras_result, analytic_result)
    if found:
        listed = "; ".join(f"{d.path}: keras {d.left!r}, analytic {d.right!r}" for d in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise BackendError(f"engines disagree on {len(found)} field(s): {listed}{more}")
    return dataclasses.replace(keras_result, agreed_with=Engine.ANALYTIC)


# -- spec files ------------------------------------------------------------------------


def _check_entry(entry: Entry, previous: EntryResult | None, **engine_options: Any) -> EntryResult:
    """Check one entry; a layer entry without `input` chains on the previous entry's output."""
    if entry.kind == "model":
        return _check_model(entry, engine_options.get("engine", Engine.KERAS), engine_options.get("cpu_kernels"))
    values = dict(entry.values)
    try:
        validate_keys(entry)
        if values.get("input") is None:
            values["input"] = _chained_input(previous)
        expect = parse_expectations({k: values.pop(k, None) for k in EXPECTATION_KEYS})
        verify = values.pop("verify", False)
        if not isinstance(verify, bool):
            raise InvalidInput(f"expected true or false; got {shown(verify)}", "verify")
        cpu_kernels = _entry_kernels(values.pop("cpu_kernels", None), engine_options.get("cpu_kernels"))
        report = with_checks(inspect_layer(values, verify=verify, **{**engine_options, "cpu_kernels": cpu_kernels}),
                             expect)  # fmt: skip
        if report.runtime.crashed and report.runtime.observed:  # the process died: the environment failed
            error = report.runtime.crash_text(report.class_name, report.name)
            return EntryResult(entry, Status.ERROR, report=report, error=error)
    except BackendError as err:
        return EntryResult(entry, Status.ERROR, error=err.message(prefix=""))
    except ConvinspectError as err:
        return EntryResult(entry, Status.INVALID, error=err.message(prefix=""))
    except Exception as err:  # a bug must cost one entry, never the run (nor its streamed JSON)
        return EntryResult(entry, Status.ERROR, error=f"internal error: {type(err).__name__}: {shown(str(err), 200)}")
    return EntryResult(entry, Status.PASSED if report.ok else Status.FAILED, report=report)


def _check_model(entry: Entry, engine: Engine | str, cpu_kernels: CpuKernels | str | None) -> EntryResult:
    """A [[model]] table: the model's report, its expectations and its layers' ([model.layer.NAME])."""
    from convinspect.core.checks.expectations import MODEL_KEYS, evaluate_model
    from convinspect.core.checks.results import ModelResult

    try:
        validate_model_keys(entry)
        values = entry.values
        report = inspect_model(_beside(entry.file, values["source"]), engine=engine, input=values.get("input"),
                               cpu_kernels=_entry_kernels(values.get("cpu_kernels"), cpu_kernels))  # fmt: skip
        expectations = {key: values.get(key) for key in MODEL_KEYS}
        result = ModelResult(report, evaluate_model(report, expectations, values.get("layer", {})))
    except BackendError as err:
        return EntryResult(entry, Status.ERROR, error=err.message(prefix=""))
    except ConvinspectError as err:
        return EntryResult(entry, Status.INVALID, error=err.message(prefix=""))
    except Exception as err:  # a bug must cost one entry, never the run (nor its streamed JSON)
        return EntryResult(entry, Status.ERROR, error=f"internal error: {type(err).__name__}: {shown(str(err), 200)}")
    return EntryResult(entry, Status.PASSED if result.ok else Status.FAILED, report=result)


def _entry_kernels(raw: object, default: CpuKernels | str | None) -> CpuKernels:
    """An entry's `cpu_kernels` (its own machine), else the command line's."""
    if raw is None:
        return CpuKernels.parse(default or CpuKernels.AUTO, "cpu_kernels")
    if not isinstance(raw, str):
        raise InvalidInput(f"expected a string: auto, onednn or plain; got {raw!r:.60}", "cpu_kernels")
    return CpuKernels.parse(raw, "cpu_kernels")


def _beside(spec_file: str, source: str) -> str:
    """A relative file path in a spec file is read from the spec file's folder (as `include`s are)."""
    from pathlib import Path

    if not source or spec_file == "-" or Path(source).is_absolute() or source.startswith("keras.applications."):
        return source
    file, _, function = source.partition(":") if ":" in source and not Path(source).exists() else (source, "", "")
    beside = Path(spec_file).parent / file
    if not beside.exists():
        return source
    return f"{beside}:{function}" if function else str(beside)


def _chained_input(previous: EntryResult | None) -> list[int | None]:
    if previous is None:
        raise InvalidInput("no 'input', and no previous entry whose output it could take")
    if not isinstance(previous.report, Report):
        which = f"#{previous.entry.index} {shown(previous.entry.label)}, line {previous.entry.line}"
        if previous.status is Status.ERROR:  # the environment failed, not this spec
            raise BackendError(f"no 'input', and the entry before it ({which}) could not be run, so it has no output")
        raise InvalidInput(f"no 'input', and the entry before it ({which}) is invalid, so it has no output to take")
    return list(previous.report.output_shape)


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
    plan: list[Entry | EntryResult] = []
    for path in paths:
        try:
            plan.extend(load_entries(path))
        except InvalidInput as err:
            line = err.line if isinstance(err, SpecFileError) else 1
            plan.append(EntryResult(Entry(path, 0, line, {}), Status.INVALID, error=err.message()))
    if on_total:
        on_total(len(plan))
    previous: EntryResult | None = None
    uses_keras = Engine.parse(engine_options.get("engine", Engine.KERAS), "engine") is not Engine.ANALYTIC
    for count, item in enumerate(plan, start=1):
        if isinstance(item, EntryResult):
            result = item
        else:  # chains do not cross files
            result = _check_entry(item, previous if item.index > 1 else None, **engine_options)
        previous = result
        if uses_keras and count % RELEASE_EVERY == 0:
            _release()  # reports hold plain facts; Keras' layers can go
        yield result


def read_files(paths: Iterable[str]) -> list[str]:
    """Every file a check run reads: the spec files and their [[model]] tables' sources (an --output
    must be none of them). A spec file that cannot be read adds nothing: the run reports it."""
    from convinspect.engines.sources import input_files

    files = list(paths)
    for path in list(files):
        if path == "-":  # standard input is read once, by the run
            continue
        try:
            entries = load_entries(path)
        except InvalidInput:
            continue
        for entry in entries:
            source = entry.values.get("source") if entry.kind == "model" else None
            if isinstance(source, str) and source:
                files += input_files(_beside(entry.file, source))
    return files


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

_MODEL_FIELDS = ("output_shape", "params", "variables")


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
) -> ModelReport:
    """Every layer of a Keras model: a .keras/.h5/JSON file, `module:function`, `file.py:function`
    or `keras.applications.NAME`. `input` is a full shape (batch first) for a model without one,
    or to override it. The analytic engine reads configurations only and runs nothing; `backend`
    chooses Keras' backend for the Keras engine, as for inspect_layer. `runtime` says which conv layers
    TensorFlow's CPU kernels (`cpu_kernels`, as for inspect_layer) would refuse, predicted."""
    from convinspect.core.model.report import model_runtime

    engine = Engine.parse(engine, "engine")
    cpu_kernels = CpuKernels.parse(cpu_kernels, "cpu_kernels")
    if engine is not Engine.ANALYTIC:
        keras = _keras_engine()
        chosen = keras.select_backend(None if backend is None else keras.backend_name(backend))
        keras.select_kernels(cpu_kernels, chosen)
    report = _model(source, engine, input, unsafe, tuple(imports), load_weights, progress, backend)
    if not report.built:
        return report
    if engine is Engine.ANALYTIC:
        choose = functools.partial(analytic.dtype_kernels, requested=cpu_kernels)
    elif _keras_engine().load()[2]["backend"] == "tensorflow":
        choose = functools.partial(_keras_engine().kernels, requested=cpu_kernels)
    else:
        return report  # the rules describe TensorFlow's kernels
    return dataclasses.replace(report, runtime=model_runtime(report.rows, choose))


def _model(
    source: str, engine: Engine, input: object, unsafe: bool, imports: tuple[str, ...], load_weights: bool,
    progress: Callable[[str, int, int], None] | None, backend: str | None,
) -> ModelReport:  # fmt: skip
    from convinspect.core.layer.spec import parse_shape
    from convinspect.engines.sources import SourceKind, resolve

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
        computed = analytic.inspect_model(config, found.to_dict(), None)
    else:
        computed = _analytic_model(found, shape)
    differences = model_differences(computed, real)
    if differences:
        listed = "; ".join(differences[:5]) + (f" (and {len(differences) - 5} more)" if len(differences) > 5 else "")
        raise BackendError(f"the engines disagree: {listed}")
    return dataclasses.replace(real, agreed_with=Engine.ANALYTIC)


def _analytic_model(found: Any, shape: Any) -> ModelReport:
    from convinspect.engines.sources import SourceKind

    config = found.config
    if found.kind is SourceKind.APPLICATION:  # its configuration comes from Keras itself
        from convinspect.engines import keras_model

        config = keras_model.application_config(found, shape)
        shape = None if shape is None or shape[0] is None else shape
    return analytic.inspect_model(config, found.to_dict(), shape)


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
    from convinspect.engines.keras import BACKENDS, PACKAGES, installed

    spec = _spec(spec)
    forward = Forward.parse(forward, "forward")
    budget = parse_size(budget, "budget")
    seed = _seed(seed)
    cpu_kernels = CpuKernels.parse(cpu_kernels, "cpu_kernels")
    argv = [*flags(spec, every=True), "--forward", str(forward), "--budget", str(budget)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    runs = []
    for backend in BACKENDS:
        if not installed(backend):
            runs.append(BackendRun(backend, RunStatus.MISSING,
                                   error=f"not installed (pip install {PACKAGES[backend][1]})"))  # fmt: skip
            continue
        own = ["--cpu-kernels", str(cpu_kernels)] if backend == "tensorflow" else []
        child = [sys.executable, "-c", _CHILD, "build", *argv, *own, "--backend", backend, "--verify", "-F", "json"]
        runs.append(_backend_run(backend, subprocess.run(child, capture_output=True, text=True, check=False)))
    return Conformance(spec.kind.class_name, spec.config_dict(), list(spec.input_shape), tuple(runs))


def _backend_run(backend: str, proc: subprocess.CompletedProcess[str]) -> BackendRun:
    """A child's JSON and exit code, turned back into a typed run (the one place that reads them)."""
    try:
        document = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return BackendRun(backend, RunStatus.ERROR, error=_last_line(proc.stderr) or f"exit {proc.returncode}")
    if "error" in document:
        if document["error"].get("option") is not None:  # an option this backend cannot honour: the user's
            raise InvalidInput(f"{backend}: {document['error'].get('message')}")
        status = {2: RunStatus.INVALID, 1: RunStatus.FAILED}.get(proc.returncode, RunStatus.ERROR)
        return BackendRun(backend, status, error=str(document["error"].get("message")))
    status = {0: RunStatus.OK, 1: RunStatus.FAILED}.get(proc.returncode, RunStatus.ERROR)
    runtime = document.get("runtime", {})
    error = None
    if not runtime.get("runs", True):  # valid, but this backend cannot run it: nothing was verified
        status, error = RunStatus.ERROR, f"cannot run it: {runtime.get('reason')}"
    return BackendRun.from_report(backend, status, document, error)


# A child convinspect that imports nothing from the current folder (`python -m` would put it first
# on sys.path, so a typer.py there would run).
_CHILD = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; from convinspect.entry import main; main()"
)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- the commands, from their options as typed ----------------------------------------------
# The command line hands these the raw option values; they parse, apply each command's rules
# and return a typed result, which output.py writes.


SCHEMAS = {"build": REPORT_SCHEMA, "check": CHECK_SCHEMA, "sweep": SWEEP_SCHEMA, "model": MODEL_SCHEMA,
           "solve": SOLVE_SCHEMA}  # fmt: skip
_ONE_BACKEND = ("explain", "diagram", "expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params",
                "max_macs", "expect_runs")  # fmt: skip


def _seed(seed: object) -> int | None:
    return None if seed is None else parse_int(seed, "seed", minimum=0, maximum=SEED_MAX)


def run_build(
    values: Mapping[str, object],
    expect: Mapping[str, object],
    *,
    engine: str,
    forward: str,
    budget: str,
    seed: str | None,
    backend: str | None,
    cpu_kernels: str,
    explain: bool = False,
    verify: bool = False,
    diagram: bool = False,
) -> Report | Conformance:
    """`convinspect build`: the layer's report with its checks, or (`--backend all`) its conformance run."""
    spec = parse_spec(values)
    if backend is not None and backend.strip().lower() == "all":
        given = {"explain": explain, "diagram": diagram, **expect}
        asked = [key for key in _ONE_BACKEND if given.get(key)]
        if asked:
            flag = "--" + asked[0].replace("_", "-")
            raise ConvinspectError(f"all prints a conformance table; {flag} needs one backend", "backend")
        if Engine.parse(engine, "engine") is not Engine.KERAS:
            raise ConvinspectError("runs the Keras engine on every backend; drop --engine", "backend")
        return run_conformance(spec, forward=Forward.parse(forward, "forward"), budget=parse_size(budget, "budget"),
                               seed=_seed(seed), cpu_kernels=cpu_kernels)  # fmt: skip
    if backend is not None:
        _keras_engine().backend_name(backend, extra=("all",))
    expectations = parse_expectations(expect)
    report = inspect_layer(
        spec,
        engine=Engine.parse(engine, "engine"),
        forward=Forward.parse(forward, "forward"),
        budget=parse_size(budget, "budget"),
        seed=_seed(seed),
        explain=explain,
        verify=verify,
        backend=backend,
        cpu_kernels=cpu_kernels,
    )
    return with_checks(report, expectations)


def sweep_options(forward: str, budget: str, cpu_kernels: str) -> dict[str, Any]:
    """`convinspect sweep`'s engine options, parsed (before anything runs)."""
    return {"forward": Forward.parse(forward, "forward"), "budget": parse_size(budget, "budget"),
            "cpu_kernels": CpuKernels.parse(cpu_kernels, "cpu_kernels")}  # fmt: skip


def check_options(engine: str, forward: str, budget: str, cpu_kernels: str, backend: str | None) -> dict[str, Any]:
    """`convinspect check`'s engine options, parsed, with the Keras backend chosen for every entry."""
    options: dict[str, Any] = {
        "engine": Engine.parse(engine, "engine"),
        "forward": Forward.parse(forward, "forward"),
        "budget": parse_size(budget, "budget"),
        "cpu_kernels": CpuKernels.parse(cpu_kernels, "cpu_kernels"),
    }
    if backend is not None:
        if options["engine"] is Engine.ANALYTIC:
            raise ConvinspectError(NO_BACKEND, "backend")
        keras = _keras_engine()
        keras.select_backend(keras.backend_name(backend))
    return options


def model_inputs(source: str, imports: Iterable[str], against: str | None) -> list[str]:
    """Every file `convinspect model` reads (an --output or --snapshot must be none of them)."""
    from convinspect.engines.sources import input_files

    return [*input_files(source, tuple(imports)), *([] if against is None else [against])]


def read_snapshot(path: str | None) -> dict[str, Any] | None:
    """The `--against` snapshot (None without one)."""
    from convinspect.core.checks.snapshot import read_snapshot as parse

    if path is None:
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read(64 * 2**20)
    except (OSError, UnicodeDecodeError) as error:
        raise ConvinspectError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}", "against") from None
    return parse(text, path)


def run_model(
    source: str,
    fmt: Format,
    expect: Mapping[str, object],
    *,
    engine: str,
    input: str | None = None,
    unsafe: bool = False,
    imports: Iterable[str] = (),
    load_weights: bool = False,
    backend: str | None = None,
    cpu_kernels: str = "auto",
    depth: str | None = None,
    layer: str | None = None,
    against: str | None = None,
    old: Mapping[str, Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelResult | Report:
    """`convinspect model`: the model's report with its checks and its changes against the `old`
    snapshot (read from `against`), or (`layer`) one conv layer's build report."""
    from convinspect.core.checks.expectations import evaluate_model
    from convinspect.core.checks.results import ModelResult
    from convinspect.core.checks.snapshot import compare

    fold = None if depth is None else parse_int(depth, "depth", minimum=0, maximum=1000)
    chosen = Engine.parse(engine, "engine")
    report = inspect_model(source, engine=chosen, input=input, unsafe=unsafe, imports=imports,
                           load_weights=load_weights, progress=progress, backend=backend,
                           cpu_kernels=cpu_kernels)  # fmt: skip
    if layer is not None:
        return _model_layer(report, layer, fmt, expect, chosen, cpu_kernels)
    if fmt is Format.PLAIN:
        raise ConvinspectError("plain is a build report's format: give --layer NAME, or use table, json, "
                               "markdown or csv", "format")  # fmt: skip
    checks = evaluate_model(report, expect, {})
    changes = None if old is None else compare(old, report)
    return ModelResult(report, checks, changes, against, fold)


def _model_layer(
    report: ModelReport, name: str, fmt: Format, expect: Mapping[str, object], engine: Engine, cpu_kernels: str
) -> Report:
    """`model --layer NAME`: the conv layer's build report; of the model's expectations only expect_runs applies."""
    from convinspect.core.checks.expectations import find_row

    if fmt is Format.CSV:
        raise ConvinspectError("--layer shows a build report: use table, json, markdown or plain", "format")
    row = find_row(report, name)
    if row.conv is None:
        raise ConvinspectError(
            f"layer {shown(row.qualified)} is a {shown(row.class_name)}; --layer shows conv layers "
            "(the ten kinds `convinspect build` inspects)", "layer")  # fmt: skip
    if any(expect.get(key) for key in ("expect_params", "max_params", "max_macs")):
        raise ConvinspectError("checks the whole model; with --layer only --expect-runs applies", "layer")
    built = inspect_layer(row.conv, engine=engine, cpu_kernels=cpu_kernels)
    return with_checks(built, parse_expectations({"expect_runs": expect.get("expect_runs")}))
