"""The Typer app: options -> enums and spec -> API -> the output pipeline -> exit code. Nothing else."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from convinspect.core.choices import (
    CHECK_FORMATS,
    MODEL_FORMATS,
    REPORT_FORMATS,
    SOLVE_FORMATS,
    SWEEP_FORMATS,
    Engine,
    Format,
    Forward,
)
from convinspect.core.families import DEFAULTS
from convinspect.core.kinds import KINDS
from convinspect.core.report import REPORT_SCHEMA
from convinspect.core.runtime import CpuKernels
from convinspect.core.spec import OPTION_NAMES, SEED_MAX, parse_int, parse_size, parse_spec
from convinspect.core.text import shown
from convinspect.errors import EXIT_CHECK_FAILED, EXIT_OK, BackendError, ConvinspectError
from convinspect.output import output_target
from convinspect.streams import quiet_stderr, sane_columns, say, stderr_is_terminal
from convinspect.version import __version__


def _usage_error(err: Exception) -> bool:
    """Typer's own usage errors (unknown option, missing value) carry a message and an exit code."""
    return callable(getattr(err, "format_message", None)) and isinstance(getattr(err, "exit_code", None), int)


class OneLineErrors(typer.core.TyperGroup):
    """Usage errors as one line on stderr, exit 2, instead of Typer's boxed usage text."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.Abort:
            sys.exit(130)
        except Exception as err:
            if not _usage_error(err):
                raise
            message = " ".join(err.format_message().split())  # type: ignore[attr-defined]
            if not message:  # no command at all: Typer printed the help
                message = "no command given; expected one of build, model, check, sweep, solve (see convinspect --help)"
            sys.exit(_usage_failure(UsageError(message), list(sys.argv[1:] if args is None else args)))
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class UsageError(ConvinspectError):
    """Typer's usage errors, in convinspect's words (exit 2)."""


def _usage_failure(err: UsageError, args: list[str]) -> int:
    """One line on stderr, and a JSON error object too when the command line asked for JSON."""
    from convinspect.core.checkrun import CHECK_SCHEMA
    from convinspect.core.model import SCHEMA as MODEL_SCHEMA
    from convinspect.core.solve import SOLVE_SCHEMA
    from convinspect.core.sweep import SWEEP_SCHEMA

    command = next((arg for arg in args if arg in ("build", "check", "sweep", "model", "solve")), "build")
    schemas = {"build": REPORT_SCHEMA, "check": CHECK_SCHEMA, "sweep": SWEEP_SCHEMA, "model": MODEL_SCHEMA,
               "solve": SOLVE_SCHEMA}  # fmt: skip
    schema = schemas[command]
    return _fail(err, _asks_for_json(args), schema)


def _asks_for_json(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg in ("--format", "-F") and i + 1 < len(args):
            return args[i + 1].strip().lower() == Format.JSON
        if arg.startswith("--format=") or (arg.startswith("-F") and len(arg) > 2):
            return arg.split("=", 1)[-1].removeprefix("-F").strip().lower() == Format.JSON
    return False


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    help="Inspect Keras convolution layers: shapes, variables, parameters, before and after build.",
)


def _version(value: bool) -> None:
    if value:
        from convinspect.output import emit

        try:
            emit(f"convinspect {__version__}\n")
        except ConvinspectError as err:
            raise typer.Exit(_fail(err, False, REPORT_SCHEMA)) from None
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Inspect Keras convolution layers."""


# -- running a command: one guard, one pipeline ------------------------------------------


def _fail(err: ConvinspectError, json_errors: bool, schema: str) -> int:
    """Report an error the one way: a line on stderr (plus a JSON object for --format json)."""
    say(f"convinspect: error: {err.message()}")
    if json_errors:
        from convinspect.output import emit
        from convinspect.render.json import error_json

        with contextlib.suppress(ConvinspectError):  # stdout itself may be what failed
            emit(error_json(err, schema), json_text=True)
    return err.exit_code


def _run(fmt: str, allowed: tuple[Format, ...], schema: str, work: Callable[[Format], int]) -> None:
    """Run a command's work inside the error guard, with TensorFlow's stderr silenced; exit with its code."""
    json_errors = fmt.strip().lower() == Format.JSON
    with quiet_stderr():
        try:
            code = work(Format.parse(fmt, "format", allowed))
        except ConvinspectError as err:
            code = _fail(err, json_errors, schema)
        except Exception as err:  # a bug must still not print a traceback
            if os.environ.get("CONVINSPECT_DEBUG"):
                raise
            code = _fail(BackendError(f"internal error: {type(err).__name__}: {err}"), json_errors, schema)
    raise typer.Exit(code)


@contextlib.contextmanager
def _progress(what: str) -> Iterator[tuple[Callable[[int], None] | None, Callable[[Any], None] | None]]:
    """A Rich progress bar on the real stderr, only when that is a terminal."""
    if not stderr_is_terminal():
        yield None, None
        return
    from rich.console import Console
    from rich.progress import Progress

    from convinspect.streams import messages

    with Progress(console=Console(file=messages()), transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield (lambda total: bar.update(task, total=total)), (lambda _result: bar.advance(task))


# -- options -----------------------------------------------------------------------------

Opt = typer.Option
LAYER, INPUT, ENGINES, OUTPUT, CI = "Layer", "Input", "Engines and forward pass", "Output", "CI expectations"


def _default(option: str) -> str:
    return f" \\[default: {DEFAULTS[option]}]"


Layer = Annotated[
    str,
    Opt("--layer", "-l", metavar="KIND", rich_help_panel=LAYER,
        help=", ".join(k.key for k in KINDS) + " (any case, - or _)."),
]  # fmt: skip
Filters = Annotated[
    str | None, Opt("--filters", "-f", metavar="INT", rich_help_panel=LAYER, help="Number of output filters.")
]
Kernel = Annotated[
    str | None,
    Opt("--kernel", "-k", metavar="INT[,INT...]", rich_help_panel=LAYER, help="Kernel size: 5, or one per axis: 5,3."),
]
Strides = Annotated[
    str | None,
    Opt(
        "--strides",
        "-s",
        metavar="INT[,INT...]",
        rich_help_panel=LAYER,
        help="Strides: 2 or 2,1." + _default("strides"),
    ),
]
Padding = Annotated[
    str | None,
    Opt("--padding", "-p", metavar="PADDING", rich_help_panel=LAYER,
        help="valid, same, or causal (conv1d only)." + _default("padding")),
]  # fmt: skip
Dilation = Annotated[
    str | None,
    Opt("--dilation", "-d", metavar="INT[,INT...]", rich_help_panel=LAYER,
        help="Dilation rate: 2 or 2,1." + _default("dilation")),
]  # fmt: skip
Groups = Annotated[
    str | None,
    Opt("--groups", "-g", metavar="INT", rich_help_panel=LAYER,
        help="Groups (conv1d/2d/3d); divides filters and input channels." + _default("groups")),
]  # fmt: skip
DepthMultiplier = Annotated[
    str | None,
    Opt("--depth-multiplier", "-m", metavar="INT", rich_help_panel=LAYER,
        help="Depth multiplier (depthwise, separable)." + _default("depth_multiplier")),
]  # fmt: skip
OutputPadding = Annotated[
    str | None,
    Opt("--output-padding", metavar="INT[,INT...]", rich_help_panel=LAYER,
        help="Output padding (transposed convs), each >= 0 and < strides. \\[default: unset]"),
]  # fmt: skip
DataFormat = Annotated[
    str | None,
    Opt("--data-format", metavar="FORMAT", rich_help_panel=LAYER,
        help="channels_last or channels_first." + _default("data_format")),
]  # fmt: skip
Activation = Annotated[
    str | None,
    Opt("--activation", "-a", metavar="NAME", rich_help_panel=LAYER,
        help="A Keras activation name, e.g. relu." + _default("activation")),
]  # fmt: skip
UseBias = Annotated[bool, Opt("--use-bias/--no-bias", rich_help_panel=LAYER, help="Create a bias variable.")]
Dtype = Annotated[
    str | None,
    Opt("--dtype", metavar="POLICY", rich_help_panel=LAYER,
        help="float32, float16, bfloat16, float64, mixed_float16 or mixed_bfloat16." + _default("dtype")),
]  # fmt: skip
Name = Annotated[
    str | None,
    Opt("--name", metavar="NAME", rich_help_panel=LAYER, help="Layer name. \\[default: Keras' own, e.g. conv2d]"),
]
Forwards = Annotated[
    str,
    Opt("--forward", metavar="MODE", rich_help_panel=ENGINES,
        help="auto (eager within --budget, else symbolic), eager or symbolic."),
]  # fmt: skip
Budget = Annotated[
    str,
    Opt("--budget", metavar="SIZE", rich_help_panel=ENGINES,
        help="Activation memory an automatic eager pass may take: 256MiB, 1GiB."),
]  # fmt: skip
CpuKernelsOpt = Annotated[
    str,
    Opt("--cpu-kernels", metavar="KERNELS", rich_help_panel=ENGINES,
        help="TensorFlow's CPU kernels to judge `runs` for: auto (this machine: TF_ENABLE_ONEDNN_OPTS and the CPU), "
             "onednn or plain (another machine's; the Keras engine sets TensorFlow's switch)."),
]  # fmt: skip
OutputFile = Annotated[
    str | None,
    Opt("--output", "-o", metavar="FILE", rich_help_panel=OUTPUT,
        help="Write the result to FILE (atomically) and print a one-line summary."),
]  # fmt: skip


def _engine_option(text: str) -> Any:
    return Opt("--engine", "-e", metavar="ENGINE", rich_help_panel=ENGINES, help=text)


def _format_option(text: str) -> Any:
    return Opt("--format", "-F", metavar="FORMAT", rich_help_panel=OUTPUT, help=text)


def _expectation(flag: str, metavar: str, text: str) -> Any:
    return Opt(flag, metavar=metavar, rich_help_panel=CI, help=text)


def layer_values(arguments: dict[str, Any]) -> dict[str, object]:
    """A command's layer options (from its locals()) as parse_spec takes them: None is "not given",
    and --use-bias is only ever turned off."""
    values = {name: arguments[name] for name in OPTION_NAMES if name in arguments}
    values["use_bias"] = None if values.get("use_bias", True) else False
    return values


# -- commands ----------------------------------------------------------------------------


@app.command()
def build(
    layer: Layer = "conv2d",
    filters: Filters = None,
    kernel: Kernel = None,
    strides: Strides = None,
    padding: Padding = None,
    dilation: Dilation = None,
    groups: Groups = None,
    depth_multiplier: DepthMultiplier = None,
    output_padding: OutputPadding = None,
    data_format: DataFormat = None,
    activation: Activation = None,
    use_bias: UseBias = True,
    dtype: Dtype = None,
    name: Name = None,
    input: Annotated[
        str | None,
        Opt(
            "--input",
            "-i",
            metavar="SHAPE",
            rich_help_panel=INPUT,
            help="Full input shape, batch first: 2,32,32,1 or 2x32x32x1; ? = unknown batch.",
        ),
    ] = None,
    engine: Annotated[
        str, _engine_option("keras (the real layer), analytic (no TensorFlow) or both (compared).")
    ] = "keras",
    forward: Forwards = "auto",
    budget: Budget = "256MiB",
    seed: Annotated[
        str | None,
        Opt("--seed", metavar="INT", rich_help_panel=ENGINES, help="Seed for the dummy input and the initialisers."),
    ] = None,
    backend: Annotated[
        str | None,
        Opt(
            "--backend",
            "-b",
            metavar="BACKEND",
            rich_help_panel=ENGINES,
            help="Keras backend: tensorflow, jax, numpy, torch, or all (each in its own process, side by side). "
            "\\[default: KERAS_BACKEND, else tensorflow]",
        ),
    ] = None,
    cpu_kernels: CpuKernelsOpt = "auto",
    verify: Annotated[
        bool,
        Opt(
            "--verify",
            rich_help_panel=ENGINES,
            help="Check the real layer's output against a float64 NumPy reference (exit 1 when it differs).",
        ),
    ] = False,
    fmt: Annotated[str, _format_option("table, json, markdown or plain.")] = "table",
    output: OutputFile = None,
    diagram: Annotated[
        bool, Opt("--diagram", rich_help_panel=OUTPUT, help="Draw each spatial axis: padding, taps, unread cells.")
    ] = False,
    explain: Annotated[
        bool,
        Opt(
            "--explain",
            rich_help_panel=OUTPUT,
            help="Tell, step by step, why the layer has no variables until it is built.",
        ),
    ] = False,
    expect_output: Annotated[
        str | None, _expectation("--expect-output", "SHAPE", "Expected output shape, e.g. 2,16,16,64.")
    ] = None,
    expect_params: Annotated[
        str | None, _expectation("--expect-params", "INT", "Expected total parameter count.")
    ] = None,
    expect_kernel: Annotated[
        str | None, _expectation("--expect-kernel", "SHAPE", "Expected kernel shape, e.g. 5,5,1,64.")
    ] = None,
    expect_bias: Annotated[str | None, _expectation("--expect-bias", "SHAPE", "Expected bias shape, e.g. 64.")] = None,
    max_params: Annotated[
        str | None, _expectation("--max-params", "INT", "Fail when the layer has more parameters.")
    ] = None,
    max_macs: Annotated[
        str | None, _expectation("--max-macs", "INT", "Fail when the forward pass takes more MACs (whole batch).")
    ] = None,
    expect_runs: Annotated[
        bool,
        Opt(
            "--expect-runs",
            rich_help_panel=CI,
            help="Fail when TensorFlow on this machine cannot run the layer (valid layers exit 0 with a warning).",
        ),
    ] = False,
) -> None:
    """Build a real Keras conv layer and show its variables before and after a forward pass."""
    arguments = layer_values(locals())
    target = output_target(output)
    from convinspect.api import inspect_layer
    from convinspect.core.expectations import parse_expectations, with_checks
    from convinspect.output import check_output, write

    def work(out: Format) -> int:
        check_output(target)
        spec = parse_spec(arguments)
        if backend is not None and backend.strip().lower() == "all":
            asked = [flag for flag, value in (("--explain", explain), ("--diagram", diagram),
                     ("--expect-output", expect_output), ("--expect-params", expect_params),
                     ("--expect-kernel", expect_kernel), ("--expect-bias", expect_bias), ("--max-params", max_params),
                     ("--max-macs", max_macs), ("--expect-runs", expect_runs)) if value]  # fmt: skip
            if asked:
                raise ConvinspectError(f"all prints a conformance table; {asked[0]} needs one backend", "backend")
            return _conformance(spec, engine, forward, budget, seed, cpu_kernels, out, target)
        if backend is not None:
            from convinspect.engines.keras import backend_name

            backend_name(backend, extra=("all",))
        expectations = parse_expectations(
            {"expect_output": expect_output, "expect_params": expect_params, "expect_kernel": expect_kernel,
             "expect_bias": expect_bias, "max_params": max_params, "max_macs": max_macs,
             "expect_runs": expect_runs or None}
        )  # fmt: skip
        report = inspect_layer(
            spec,
            engine=Engine.parse(engine, "engine"),
            forward=Forward.parse(forward, "forward"),
            budget=parse_size(budget, "budget"),
            seed=None if seed is None else parse_int(seed, "seed", minimum=0, maximum=SEED_MAX),
            explain=explain,
            verify=verify,
            backend=backend,
            cpu_kernels=cpu_kernels,
        )
        report = with_checks(report, expectations)
        write(report, out, target, diagram=diagram)
        return _report_verdict(report, out, target)

    _run(fmt, REPORT_FORMATS, REPORT_SCHEMA, work)


def _report_verdict(report: Any, out: Format, target: str | None) -> int:
    """A written layer report's lines on stderr (the warning where the format does not carry it, each
    failed check, a failed verification) and its exit code."""
    from convinspect.render.words import check_text, runtime_warning, verify_text

    warning = runtime_warning(report)
    if warning and (out is Format.JSON or target is not None):  # the human formats carry it themselves
        say(f"convinspect: {warning}")
    for failed in (c for c in report.checks if not c.ok):
        say(f"convinspect: check failed: {check_text(failed)}")
    if report.verification is not None and report.verification.ok is False:
        say(f"convinspect: {verify_text(report.verification)}")
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _conformance(spec: Any, engine: str, forward: str, budget: str, seed: str | None, cpu_kernels: str,
                 out: Format, target: str | None) -> int:  # fmt: skip
    """--backend all: the layer on every installed backend, in its own process each."""
    from convinspect.api import run_conformance
    from convinspect.output import write

    if Engine.parse(engine, "engine") is not Engine.KERAS:
        raise ConvinspectError("runs the Keras engine on every backend; drop --engine", "backend")
    seeded = None if seed is None else parse_int(seed, "seed", minimum=0, maximum=SEED_MAX)
    result = run_conformance(
        spec,
        forward=Forward.parse(forward, "forward"),
        budget=parse_size(budget, "budget"),
        seed=seeded,
        cpu_kernels=cpu_kernels,
    )
    write(result, out, target)
    if result.exit_code == 2:  # the layer itself is wrong: one error line, as build gives
        first = next(run for run in result.present if run.status == "invalid")
        raise ConvinspectError(f"every installed backend rejects the layer: {first.error}")
    if result.exit_code:
        failing = [f"{run.backend} {run.status}" + (f" ({run.error})" if run.error else "")
                   for run in result.runs if run.status in ("failed", "error")]  # fmt: skip
        say(f"convinspect: the backends do not conform: {'; '.join(failing + result.disagreements)}")
    return result.exit_code


@app.command()
def sweep(
    input: Annotated[
        str | None,
        Opt(
            "--input",
            "-i",
            metavar="SHAPE",
            rich_help_panel=INPUT,
            help="Input shape; any dimension may be a range a..b or a..b:step: 1,220..232:4,224,3.",
        ),
    ] = None,
    layer: Layer = "conv2d",
    filters: Filters = None,
    kernel: Kernel = None,
    strides: Strides = None,
    padding: Padding = None,
    dilation: Dilation = None,
    groups: Groups = None,
    depth_multiplier: DepthMultiplier = None,
    output_padding: OutputPadding = None,
    data_format: DataFormat = None,
    activation: Activation = None,
    use_bias: UseBias = True,
    dtype: Dtype = None,
    name: Name = None,
    engine: Annotated[str, _engine_option("analytic, keras or both.")] = "analytic",
    forward: Forwards = "auto",
    budget: Budget = "256MiB",
    cpu_kernels: CpuKernelsOpt = "auto",
    fmt: Annotated[
        str,
        Opt("--format", "-F", metavar="FORMAT", rich_help_panel=OUTPUT, help="table, json or csv."),
    ] = "table",
    output: OutputFile = None,
) -> None:
    """Tabulate output shape, params and MACs for every input shape in some ranges (at most 100,000)."""
    arguments = layer_values(locals())
    target = output_target(output)
    from convinspect.api import run_sweep
    from convinspect.core.sweep import SWEEP_SCHEMA
    from convinspect.output import check_output, write

    def work(out: Format) -> int:
        check_output(target)
        values = arguments
        options = {"forward": Forward.parse(forward, "forward"), "budget": parse_size(budget, "budget"),
                   "cpu_kernels": CpuKernels.parse(cpu_kernels, "cpu_kernels")}  # fmt: skip
        with _progress("sweeping") as (on_total, on_result):
            result = run_sweep(
                values, engine=Engine.parse(engine, "engine"), on_total=on_total, on_result=on_result, **options
            )
        write(result, out, target)
        return EXIT_OK

    _run(fmt, SWEEP_FORMATS, SWEEP_SCHEMA, work)


@app.command()
def check(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE...", help='Spec files: TOML (\\[\\[layer]] tables) or JSON ({"layer": [...]}).'),
    ],
    engine: Annotated[str, _engine_option("keras, analytic or both.")] = "keras",
    forward: Forwards = "auto",
    budget: Budget = "256MiB",
    cpu_kernels: Annotated[
        str,
        Opt(
            "--cpu-kernels",
            metavar="KERNELS",
            rich_help_panel=ENGINES,
            help="auto, onednn or plain, for entries without a cpu_kernels key (see build --help).",
        ),
    ] = "auto",
    backend: Annotated[
        str | None,
        Opt(
            "--backend",
            "-b",
            metavar="BACKEND",
            rich_help_panel=ENGINES,
            help="Keras backend for every entry: tensorflow, jax, numpy or torch. "
            "\\[default: KERAS_BACKEND, else tensorflow]",
        ),
    ] = None,
    fmt: Annotated[str, _format_option("table, json, junit, github or markdown.")] = "table",
    output: OutputFile = None,
) -> None:
    """Check every layer of one or more spec files; exit 2 if any is invalid, else 1 if any failed."""
    target = output_target(output)
    from convinspect.api import iter_check, read_files, run_check
    from convinspect.core.checkrun import CHECK_SCHEMA, Tally
    from convinspect.output import check_output, write, write_stream
    from convinspect.render.checks import summary_line

    def work(out: Format) -> int:
        paths = [str(path) for path in files]
        check_output(target, read_files(paths))
        options: dict[str, Any] = {
            "engine": Engine.parse(engine, "engine"),
            "forward": Forward.parse(forward, "forward"),
            "budget": parse_size(budget, "budget"),
            "cpu_kernels": CpuKernels.parse(cpu_kernels, "cpu_kernels"),
        }
        if backend is not None:
            from convinspect.engines.keras import backend_name, select_backend

            if Engine.parse(engine, "engine") is Engine.ANALYTIC:
                raise ConvinspectError("chooses the Keras engine's backend; the analytic engine has none", "backend")
            select_backend(backend_name(backend))
        with _progress("checking") as (on_total, on_result):
            if out is Format.JSON:  # streamed: each entry's report is written, then let go
                from convinspect.render.json import check_json_stream

                tally = Tally()
                results = iter_check(paths, on_total=on_total, **options)
                if on_result:
                    results = (on_result(r) or r for r in results)
                write_stream(check_json_stream(results, tally), target, lambda: summary_line(tally), json_text=True)
                return tally.exit_code
            run = run_check(paths, on_total=on_total, on_result=on_result, **options)
        write(run, out, target)
        return run.exit_code

    _run(fmt, CHECK_FORMATS, CHECK_SCHEMA, work)


@app.command()
def solve(
    layer: Layer = "conv2d",
    input: Annotated[
        str | None,
        Opt("--input", "-i", metavar="SHAPE", rich_help_panel=INPUT, help="The shape you have, batch first."),
    ] = None,
    output_shape: Annotated[
        str | None,
        Opt(
            "--output",
            "-O",
            metavar="SHAPE",
            rich_help_panel=INPUT,
            help="The shape you need, batch first; ? for an axis you do not care about: ?,25,25,16.",
        ),
    ] = None,
    filters: Filters = None,
    kernel: Kernel = None,
    strides: Strides = None,
    padding: Padding = None,
    dilation: Dilation = None,
    groups: Groups = None,
    depth_multiplier: DepthMultiplier = None,
    output_padding: OutputPadding = None,
    data_format: DataFormat = None,
    activation: Activation = None,
    use_bias: UseBias = True,
    dtype: Dtype = None,
    name: Name = None,
    max_kernel: Annotated[
        str, Opt("--max-kernel", metavar="INT", rich_help_panel=LAYER, help="Largest kernel tried per axis.")
    ] = "7",
    max_stride: Annotated[
        str, Opt("--max-stride", metavar="INT", rich_help_panel=LAYER, help="Largest stride tried per axis.")
    ] = "4",
    max_dilation: Annotated[
        str, Opt("--max-dilation", metavar="INT", rich_help_panel=LAYER, help="Largest dilation tried per axis.")
    ] = "3",
    limit: Annotated[
        str, Opt("--limit", metavar="INT", rich_help_panel=OUTPUT, help="Show at most this many solutions (1-1000).")
    ] = "20",
    fmt: Annotated[str, _format_option("table, json or markdown.")] = "table",
    output: Annotated[
        str | None,
        Opt(
            "--output-file",
            "-o",
            metavar="FILE",
            rich_help_panel=OUTPUT,
            help="Write the result to FILE (atomically) and print a one-line summary.",
        ),
    ] = None,
    explain: Annotated[
        bool, Opt("--explain", rich_help_panel=OUTPUT, help="Show each axis's arithmetic for every solution.")
    ] = False,
) -> None:
    """Find the layer settings that turn --input into --output.

    Options given are fixed; the rest are searched. Ranked: no output_padding before output_padding, no
    dilation before dilation, kernels that cover their stride, smaller kernels, same before valid, the same
    settings on every axis, smaller strides. Exit 1 when nothing within the bounds fits (with the nearest
    reachable sizes)."""
    arguments = layer_values(locals())
    target = output_target(output)
    from convinspect.api import run_solve
    from convinspect.core.solve import SOLVE_SCHEMA
    from convinspect.output import check_output, write

    def work(out: Format) -> int:
        check_output(target, option="output_file")
        result = run_solve(arguments, output_shape, max_kernel=max_kernel, max_stride=max_stride,
                           max_dilation=max_dilation, limit=limit)  # fmt: skip
        write(result, out, target, diagram=explain)
        if not result.solutions:
            say("convinspect: no solution within the bounds")
        return result.exit_code

    _run(fmt, SOLVE_FORMATS, SOLVE_SCHEMA, work)


MODEL = "Model"


@app.command()
def model(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A .keras, .h5 or .json file, module:function, file.py:function or keras.applications.NAME.",
        ),
    ],
    input: Annotated[
        str | None,
        Opt(
            "--input",
            "-i",
            metavar="SHAPE",
            rich_help_panel=INPUT,
            help="Input shape, batch first, for a model without one or to override it: ?,224,224,3.",
        ),
    ] = None,
    engine: Annotated[
        str, _engine_option("keras (the real model), analytic (reads the configuration, runs nothing) or both.")
    ] = "keras",
    unsafe: Annotated[
        bool, Opt("--unsafe", rich_help_panel=ENGINES, help="Let Keras run code stored in the file (Lambda layers).")
    ] = False,
    imports: Annotated[
        list[str] | None,
        Opt(
            "--import",
            metavar="MODULE",
            rich_help_panel=ENGINES,
            help="Import a module (or file.py) first, so that custom layers resolve. Repeatable.",
        ),
    ] = None,
    load_weights: Annotated[
        bool, Opt("--load-weights", rich_help_panel=ENGINES, help="Also load the stored weights and report mismatches.")
    ] = False,
    backend: Annotated[
        str | None,
        Opt(
            "--backend",
            "-b",
            metavar="BACKEND",
            rich_help_panel=ENGINES,
            help="Keras backend for the Keras engine: tensorflow, jax, numpy or torch. "
            "\\[default: KERAS_BACKEND, else tensorflow]",
        ),
    ] = None,
    cpu_kernels: CpuKernelsOpt = "auto",
    fmt: Annotated[str, _format_option("table, json, markdown or csv.")] = "table",
    output: OutputFile = None,
    depth: Annotated[
        str | None, Opt("--depth", metavar="INT", rich_help_panel=OUTPUT, help="Fold nested models deeper than INT.")
    ] = None,
    layer: Annotated[
        str | None,
        Opt(
            "--layer",
            "-l",
            metavar="NAME",
            rich_help_panel=OUTPUT,
            help="Show one conv layer the way `convinspect build` does.",
        ),
    ] = None,
    expect_params: Annotated[
        str | None, _expectation("--expect-params", "INT", "Expected total parameter count.")
    ] = None,
    max_params: Annotated[str | None, _expectation("--max-params", "INT", "Fail above this many parameters.")] = None,
    max_macs: Annotated[str | None, _expectation("--max-macs", "INT", "Fail above this many MACs.")] = None,
    expect_runs: Annotated[
        bool,
        Opt(
            "--expect-runs",
            rich_help_panel=CI,
            help="Fail when TensorFlow's CPU kernels (--cpu-kernels) would not run every conv layer.",
        ),
    ] = False,
    snapshot: Annotated[
        str | None, _expectation("--snapshot", "FILE", "Write every layer's class, output shape, params and MACs.")
    ] = None,
    against: Annotated[
        str | None, _expectation("--against", "FILE", "Compare with a snapshot; exit 1 listing each change.")
    ] = None,
) -> None:
    """Every layer of a Keras model: output shapes, parameters, MACs, memory and receptive fields."""
    target = output_target(output)
    from convinspect.api import inspect_layer, inspect_model
    from convinspect.core.expectations import parse_expectations, with_checks
    from convinspect.core.model import SCHEMA as MODEL_SCHEMA
    from convinspect.core.modelcheck import ModelResult, compare, evaluate, find_row, read_snapshot, snapshot_text
    from convinspect.output import check_output, write, write_atomically
    from convinspect.render.model import runtime_warning as model_runtime_warning
    from convinspect.render.words import check_text

    def work(out: Format) -> int:
        from convinspect.engines.sources import input_files

        inputs = [*input_files(source, imports or ()), *([] if against is None else [against])]
        check_output(target, inputs)
        if snapshot is not None:
            if against is not None and os.path.realpath(snapshot) == os.path.realpath(against):
                raise ConvinspectError(
                    "is the --against baseline: writing it would replace the lock it is compared with (a rerun would "
                    "then pass); write the new snapshot to another file", "snapshot")  # fmt: skip
            check_output(snapshot, inputs, "snapshot")
            if target is not None and os.path.realpath(snapshot) == os.path.realpath(target):
                raise ConvinspectError("is the same file as --output; give them different names", "snapshot")
        old = None
        if against is not None:
            old = read_snapshot(_read_text(against, "against"), against)
        fold = None if depth is None else parse_int(depth, "depth", minimum=0, maximum=1000)
        chosen = Engine.parse(engine, "engine")
        with _model_progress(chosen) as progress:
            report = inspect_model(source, engine=chosen, input=input, unsafe=unsafe, imports=imports or (),
                                   load_weights=load_weights, progress=progress, backend=backend,
                                   cpu_kernels=cpu_kernels)  # fmt: skip
        if layer is not None:
            if out is Format.CSV:
                raise ConvinspectError("--layer shows a build report: use table, json, markdown or plain", "format")
            row = find_row(report, layer)
            if row.conv is None:
                raise ConvinspectError(
                    f"layer {shown(row.qualified)} is a {shown(row.class_name)}; --layer shows conv layers "
                    "(the ten kinds `convinspect build` inspects)", "layer")  # fmt: skip
            if expect_params or max_params or max_macs:
                raise ConvinspectError("checks the whole model; with --layer only --expect-runs applies", "layer")
            built = inspect_layer(row.conv, engine=chosen, cpu_kernels=cpu_kernels)
            built = with_checks(built, parse_expectations({"expect_runs": expect_runs or None}))
            write(built, out, target)
            return _report_verdict(built, out, target)
        if out is Format.PLAIN:
            raise ConvinspectError("plain is a build report's format: give --layer NAME, or use table, json, "
                                   "markdown or csv", "format")  # fmt: skip
        expectations = {"expect_params": expect_params, "max_params": max_params, "max_macs": max_macs,
                        "expect_runs": expect_runs or None}  # fmt: skip
        checks = evaluate(report, expectations, {})
        changes = None if old is None else compare(old, report)
        result = ModelResult(report, checks, changes, against, fold)
        if snapshot is not None:
            write_atomically(snapshot, snapshot_text(report), "snapshot")
        write(result, out, target)
        warning = model_runtime_warning(report)
        if warning and (out in (Format.JSON, Format.CSV) or target is not None):  # the others carry it
            say(f"convinspect: {warning}")
        for failed in (c for c in checks if not c.ok):
            say(f"convinspect: check failed: {check_text(failed)}")
        if changes:
            say(f"convinspect: {len(changes)} layer change(s) against {against}")
        return EXIT_OK if result.ok else EXIT_CHECK_FAILED

    _run(fmt, (*MODEL_FORMATS, Format.PLAIN), MODEL_SCHEMA, work)


def _read_text(path: str, option: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read(64 * 2**20)
    except (OSError, UnicodeDecodeError) as error:
        raise ConvinspectError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}", option) from None


@contextlib.contextmanager
def _model_progress(engine: Engine) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on a terminal's stderr while the Keras engine builds and reads a model."""
    if engine is Engine.ANALYTIC or not stderr_is_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    from convinspect.streams import messages

    with Progress(console=Console(file=messages()), transient=True) as bar:
        task = bar.add_task("loading Keras", total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total or None)

        yield update


def main() -> None:
    """Console-script entry point."""
    sane_columns()
    app()
