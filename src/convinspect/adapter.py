"""The command line's adapter: each command's option values as typed, parsed once, its rules, and
the typed API (api.py) called; the result goes to output.py. Also what the command line names
(the kinds, the option defaults, the schemas)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from convinspect.api import (
    NO_BACKEND,
    inspect_layer,
    inspect_model,
    isolated,
    iter_check,
    run_check,
    run_conformance,
    run_solve,
    run_sweep,
)
from convinspect.core.checks.checkrun import CHECK_SCHEMA
from convinspect.core.checks.execution import beside
from convinspect.core.checks.expectations import parse_expectations, with_checks
from convinspect.core.checks.results import ModelResult
from convinspect.core.checks.snapshot import Snapshot
from convinspect.core.checks.specfile import load_entries
from convinspect.core.commands.conformance import Conformance
from convinspect.core.commands.solve import SOLVE_SCHEMA
from convinspect.core.commands.sweep import SWEEP_SCHEMA
from convinspect.core.layer.families import DEFAULTS
from convinspect.core.layer.kinds import KINDS
from convinspect.core.layer.report import REPORT_SCHEMA, Report
from convinspect.core.layer.runtime import CpuKernels
from convinspect.core.layer.spec import OPTION_NAMES, parse_int, parse_seed, parse_size, parse_spec
from convinspect.core.model.report import SCHEMA as MODEL_SCHEMA
from convinspect.core.model.report import ModelReport
from convinspect.core.model.training import MAX_BATCH, TrainingRequest
from convinspect.core.vocab.choices import Engine, Format, Forward
from convinspect.core.vocab.text import shown
from convinspect.core.vocab.units import parse_bytes
from convinspect.engines import session
from convinspect.errors import ConvinspectError, InvalidInput
from convinspect.files import write_atomically
from convinspect.streams import say

__all__ = [  # what the command line takes from here
    "DEFAULTS", "KINDS", "OPTION_NAMES", "SCHEMAS", "Format", "check_options", "isolated", "iter_check",
    "model_inputs", "read_files", "read_snapshot", "run_build", "run_check", "run_model", "run_solve", "run_sweep",
    "solve_target", "sweep_options", "write_snapshot",
]  # fmt: skip


SCHEMAS = {"build": REPORT_SCHEMA, "check": CHECK_SCHEMA, "sweep": SWEEP_SCHEMA, "model": MODEL_SCHEMA,
           "solve": SOLVE_SCHEMA}  # fmt: skip
_ONE_BACKEND = ("explain", "diagram", "format svg", "expect_output", "expect_params", "expect_kernel", "expect_bias",
                "max_params", "max_macs", "expect_runs")  # fmt: skip


def figure_cell(result: object, raw: str | None) -> tuple[int, ...] | None:
    """`--at`, read against the layer's geometry (None: the figure's own choice)."""
    from convinspect.core.layer.geometry import parse_cell

    if raw is None or not isinstance(result, Report):
        return None
    return parse_cell(raw, result.measures.geometry)


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
    figure: bool = False,
) -> Report | Conformance:
    """`convinspect build`: the layer's report with its checks, or (`--backend all`) its conformance run."""
    spec = parse_spec(values)
    if backend is not None and backend.strip().lower() == "all":
        given = {"explain": explain, "diagram": diagram, "format svg": figure, **expect}
        asked = [key for key in _ONE_BACKEND if given.get(key)]
        if asked:
            flag = "--" + asked[0].replace("_", "-")
            raise ConvinspectError(f"all prints a conformance table; {flag} needs one backend", "backend")
        if Engine.parse(engine, "engine") is not Engine.KERAS:
            raise ConvinspectError("runs the Keras engine on every backend; drop --engine", "backend")
        return run_conformance(spec, forward=Forward.parse(forward, "forward"), budget=parse_size(budget, "budget"),
                               seed=parse_seed(seed), cpu_kernels=cpu_kernels)  # fmt: skip
    if backend is not None:
        session.backend_name(backend, extra=("all",))
    expectations = parse_expectations(expect)
    report = inspect_layer(
        spec,
        engine=Engine.parse(engine, "engine"),
        forward=Forward.parse(forward, "forward"),
        budget=parse_size(budget, "budget"),
        seed=parse_seed(seed),
        explain=explain,
        verify=verify,
        backend=backend,
        cpu_kernels=cpu_kernels,
    )
    return with_checks(report, expectations)


def solve_target(target: str | None, old_spelling: str | None) -> str | None:
    """`solve --target SHAPE`; `--output SHAPE`, its spelling before --output named a file everywhere,
    still works, with a line saying so."""
    if old_spelling is None:
        return target
    if target is not None:
        raise ConvinspectError("and --output (its old spelling) both given; give --target only", "target")
    say("convinspect: warning: solve --output SHAPE is now --target SHAPE (-t); the old spelling will go")
    return old_spelling


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
        session.select_backend(session.backend_name(backend))
    return options


def model_inputs(source: str, imports: Iterable[str], against: str | None) -> list[str]:
    """Every file `convinspect model` reads (an --output or --snapshot must be none of them)."""
    from convinspect.engines.sources import input_files

    return [*input_files(source, tuple(imports)), *([] if against is None else [against])]


def read_snapshot(path: str | None) -> Snapshot | None:
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


def write_snapshot(snapshot: str | None, result: ModelResult | Report) -> None:
    """`--snapshot`: the model's shapes, parameters and MACs, locked in a file (model --layer writes none)."""
    if snapshot is not None and isinstance(result, ModelResult):
        from convinspect.core.checks.snapshot import snapshot_text

        write_atomically(snapshot, snapshot_text(result.report), "snapshot")


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
    old: Snapshot | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    training: Mapping[str, object] | None = None,
) -> ModelResult | Report:
    """`convinspect model`: the model's report with its checks and its changes against the `old`
    snapshot (read_snapshot: --against), or (`layer`) one conv layer's build report. `training`: the
    --training options as given (optimizer, batch, fit, measure; any of them asks for it)."""
    from convinspect.core.checks.expectations import evaluate_model
    from convinspect.core.checks.snapshot import compare

    fold = None if depth is None else parse_int(depth, "depth", minimum=0, maximum=1000)
    chosen = Engine.parse(engine, "engine")
    request = training_request(training or {}, bool(expect.get("max_training_memory")))
    if request is not None and layer is not None:
        raise ConvinspectError("--training sizes the whole model's train step; it does not apply to --layer", "layer")
    report = inspect_model(source, engine=chosen, input=input, unsafe=unsafe, imports=imports,
                           load_weights=load_weights, progress=progress, backend=backend,
                           cpu_kernels=cpu_kernels, training=request)  # fmt: skip
    if layer is not None:
        return _model_layer(report, layer, fmt, expect, chosen, cpu_kernels)
    if fmt is Format.PLAIN:
        raise ConvinspectError("plain is a build report's format: give --layer NAME, or use table, json, "
                               "markdown or csv", "format")  # fmt: skip
    checks = evaluate_model(report, expect, {})
    changes = None if old is None else compare(old, report)
    return ModelResult(report, checks, changes, None if old is None else old.path, fold)


def training_request(values: Mapping[str, object], limited: bool) -> TrainingRequest | None:
    """The --training options, parsed (None: not asked for). Any of --optimizer, --batch, --fit,
    --measure or --max-training-memory asks for it as --training does."""
    given = {key: value for key, value in values.items() if value not in (None, False)}
    if not given and not limited:
        return None
    batch = values.get("batch")
    fit = values.get("fit")
    return TrainingRequest(
        optimizer=str(values.get("optimizer") or "adam"),
        batch=None if batch is None else parse_int(batch, "batch", minimum=1, maximum=MAX_BATCH),
        fit=None if fit is None else parse_bytes(fit, "fit"),
        measure=bool(values.get("measure")),
    )


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
    if any(expect.get(key) for key in ("expect_params", "max_params", "max_macs", "max_training_memory")):
        raise ConvinspectError("checks the whole model; with --layer only --expect-runs applies", "layer")
    built = inspect_layer(row.conv, engine=engine, cpu_kernels=cpu_kernels)
    return with_checks(built, parse_expectations({"expect_runs": expect.get("expect_runs")}))


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
                files += input_files(beside(entry.file, source))
    return files
