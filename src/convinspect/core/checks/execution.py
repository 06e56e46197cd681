"""A check run: every entry of every spec file judged, in order, never stopping at a bad one.

The engines come in as an `Inspector` (api.py gives the real ones), so the rules of a run live
here: which entry chains on which, where a model's relative path is read from, which machine an
entry's `cpu_kernels` names, and which failure is the spec's (invalid), the environment's (error)
or a bug's (error, one entry lost, never the run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convinspect.core.checks.checkrun import EntryResult, Status
from convinspect.core.checks.expectations import (
    EXPECTATION_KEYS,
    MODEL_KEYS,
    evaluate_model,
    parse_expectations,
    with_checks,
)
from convinspect.core.checks.results import ModelResult
from convinspect.core.checks.specfile import Entry, SpecFileError, load_entries, validate_keys, validate_model_keys
from convinspect.core.layer.report import Report
from convinspect.core.layer.runtime import CpuKernels
from convinspect.core.layer.spec import parse_int
from convinspect.core.model.report import ModelReport
from convinspect.core.model.training import MAX_BATCH, TrainingRequest, plan
from convinspect.core.vocab.choices import Engine
from convinspect.core.vocab.text import shown
from convinspect.errors import BackendError, ConvinspectError, InvalidInput

RELEASE_EVERY = 200  # Keras-engine entries between two releases of Keras' global state


@dataclass(frozen=True)
class Inspector:
    """What a check run asks of the engines: a layer's report, a model's, and letting Keras' state go."""

    layer: Callable[..., Report]  # inspect_layer(values, verify=..., engine=..., cpu_kernels=..., ...)
    model: Callable[..., ModelReport]  # inspect_model(source, engine=..., input=..., cpu_kernels=...)
    release: Callable[[], None]


def load_plan(paths: Iterable[str]) -> list[Entry | EntryResult]:
    """Every entry of every file, in order; a file that cannot be read is one invalid result in its place."""
    plan: list[Entry | EntryResult] = []
    for path in paths:
        try:
            plan.extend(load_entries(path))
        except InvalidInput as err:
            line = err.line if isinstance(err, SpecFileError) else 1
            plan.append(EntryResult(Entry(path, 0, line, {}), Status.INVALID, error=err.message()))
    return plan


def iter_check(
    paths: Iterable[str], inspector: Inspector, *, on_total: Callable[[int], None] | None = None,
    **engine_options: Any,
) -> Iterator[EntryResult]:  # fmt: skip
    """Each entry's result as it is judged (a run of 50,000 entries streams in flat memory)."""
    plan = load_plan(paths)
    if on_total:
        on_total(len(plan))
    previous: EntryResult | None = None
    uses_keras = Engine.parse(engine_options.get("engine", Engine.KERAS), "engine") is not Engine.ANALYTIC
    for count, item in enumerate(plan, start=1):
        if isinstance(item, EntryResult):
            result = item
        else:  # chains do not cross files
            result = check_entry(item, previous if item.index > 1 else None, inspector, **engine_options)
        previous = result
        if uses_keras and count % RELEASE_EVERY == 0:
            inspector.release()  # reports hold plain facts; Keras' layers can go
        yield result


def check_entry(entry: Entry, previous: EntryResult | None, inspector: Inspector, **engine_options: Any) -> EntryResult:
    """One entry's result; a layer entry without `input` chains on the previous entry's output."""
    if entry.kind == "model":
        return _judged(entry, lambda: _model_entry(entry, inspector, engine_options.get("engine", Engine.KERAS),
                                                   engine_options.get("cpu_kernels")))  # fmt: skip
    return _judged(entry, lambda: _layer_entry(entry, previous, inspector, engine_options))


def _judged(entry: Entry, judge: Callable[[], EntryResult]) -> EntryResult:
    """`judge()`, with a failure the environment's (error), the spec's (invalid) or a bug's (error)."""
    try:
        return judge()
    except BackendError as err:
        return EntryResult(entry, Status.ERROR, error=err.message(prefix=""))
    except ConvinspectError as err:
        return EntryResult(entry, Status.INVALID, error=err.message(prefix=""))
    except Exception as err:  # a bug must cost one entry, never the run (nor its streamed JSON)
        return EntryResult(entry, Status.ERROR, error=f"internal error: {type(err).__name__}: {shown(str(err), 200)}")


def _layer_entry(
    entry: Entry, previous: EntryResult | None, inspector: Inspector, engine_options: dict[str, Any]
) -> EntryResult:
    values = dict(entry.values)
    validate_keys(entry)
    if values.get("input") is None:
        values["input"] = chained_input(previous)
    expect = parse_expectations({k: values.pop(k, None) for k in EXPECTATION_KEYS})
    verify = values.pop("verify", False)
    if not isinstance(verify, bool):
        raise InvalidInput(f"expected true or false; got {shown(verify)}", "verify")
    cpu_kernels = entry_kernels(values.pop("cpu_kernels", None), engine_options.get("cpu_kernels"))
    report = with_checks(inspector.layer(values, verify=verify, **{**engine_options, "cpu_kernels": cpu_kernels}),
                         expect)  # fmt: skip
    if report.runtime.crashed and report.runtime.observed:  # the process died: the environment failed
        error = report.runtime.crash_text(report.class_name, report.name)
        return EntryResult(entry, Status.ERROR, report=report, error=error)
    return EntryResult(entry, Status.PASSED if report.ok else Status.FAILED, report=report)


def _model_entry(
    entry: Entry, inspector: Inspector, engine: Engine | str, cpu_kernels: CpuKernels | str | None
) -> EntryResult:
    """A [[model]] table: the model's report, its expectations and its layers' ([model.layer.NAME])."""
    validate_model_keys(entry)
    values = entry.values
    report = inspector.model(beside(entry.file, values["source"]), engine=engine, input=values.get("input"),
                             cpu_kernels=entry_kernels(values.get("cpu_kernels"), cpu_kernels))  # fmt: skip
    expectations = {key: values.get(key) for key in MODEL_KEYS}
    if values.get("max_training_memory") is not None or values.get("optimizer") or values.get("batch"):
        report = _with_training(report, values)
    result = ModelResult(report, evaluate_model(report, expectations, values.get("layer", {})))
    return EntryResult(entry, Status.PASSED if result.ok else Status.FAILED, report=result)


def _with_training(report: ModelReport, values: Mapping[str, Any]) -> ModelReport:
    """A [[model]] table's `max_training_memory` (with its `optimizer` and `batch`): the train step's memory."""
    if not report.built:
        raise InvalidInput("the model has no input shape, so its training memory has no sizes: give input")
    optimizer, batch = values.get("optimizer", "adam"), values.get("batch")
    if not isinstance(optimizer, str):
        raise InvalidInput(f"expected a string such as \"adam\" or \"sgd:momentum=0.9\"; got {shown(optimizer)}",
                           "optimizer")  # fmt: skip
    request = TrainingRequest(optimizer, None if batch is None else parse_int(batch, "batch", maximum=MAX_BATCH))
    shapes = report.input_shapes
    input_batch = shapes[0][0] if len(shapes) == 1 and shapes[0] is not None else None
    backend = str(report.versions.get("backend") or "tensorflow")
    return dataclasses.replace(report, training=plan(report.rows, request, backend, input_batch))


def entry_kernels(raw: object, default: CpuKernels | str | None) -> CpuKernels:
    """An entry's `cpu_kernels` (its own machine), else the command line's."""
    if raw is None:
        return CpuKernels.parse(default or CpuKernels.AUTO, "cpu_kernels")
    if not isinstance(raw, str):
        raise InvalidInput(f"expected a string: auto, onednn or plain; got {raw!r:.60}", "cpu_kernels")
    return CpuKernels.parse(raw, "cpu_kernels")


def beside(spec_file: str, source: str) -> str:
    """A relative file path in a spec file is read from the spec file's folder (as `include`s are)."""
    if not source or spec_file == "-" or Path(source).is_absolute() or source.startswith("keras.applications."):
        return source
    file, _, function = source.partition(":") if ":" in source and not Path(source).exists() else (source, "", "")
    near = Path(spec_file).parent / file
    if not near.exists():
        return source
    return f"{near}:{function}" if function else str(near)


def chained_input(previous: EntryResult | None) -> list[int | None]:
    """The output shape of the entry before, for an entry without `input`."""
    if previous is None:
        raise InvalidInput("no 'input', and no previous entry whose output it could take")
    if not isinstance(previous.report, Report):
        which = f"#{previous.entry.index} {shown(previous.entry.label)}, line {previous.entry.line}"
        if previous.status is Status.ERROR:  # the environment failed, not this spec
            raise BackendError(f"no 'input', and the entry before it ({which}) could not be run, so it has no output")
        raise InvalidInput(f"no 'input', and the entry before it ({which}) is invalid, so it has no output to take")
    return list(previous.report.output_shape)
