"""The Typer app: options -> enums and spec -> API -> the output pipeline -> exit code. Nothing else."""

from __future__ import annotations

import functools
import inspect
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from convinspect import adapter
from convinspect.errors import EXIT_OK, BackendError, ConvinspectError, OutputError
from convinspect.files import check_output, check_snapshot
from convinspect.output import FORMATS, fail, output_target, silence_stdout, verdict, write
from convinspect.progress import progress
from convinspect.streams import quiet_stderr, sane_columns, say
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
        was_null = _stdout_is_null()  # a user's own `> /dev/null` is not Rich's broken-pipe redirect
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.Abort:
            sys.exit(130)
        except BrokenPipeError:  # a reader that stopped early (`--help | head -1`) is not an error
            silence_stdout()
            sys.exit(EXIT_OK)
        except SystemExit as stop:  # Rich's help printer on a broken pipe: stdout to /dev/null, then exit 1
            redirected = stop.code == 1 and not was_null and _stdout_is_null()
            sys.exit(EXIT_OK if redirected else stop.code)
        except OSError as err:  # help that cannot be written (`--help > /dev/full`): one line, as for a result
            problem = OutputError(f"cannot write to standard output: {err.strerror or err}")
            sys.exit(fail(problem, False, adapter.SCHEMAS["build"]))
        except Exception as err:
            if not _usage_error(err):
                raise
            message = " ".join(err.format_message().split())  # type: ignore[attr-defined]
            if not message:  # no command at all: Typer printed the help
                message = "no command given; expected one of build, model, check, sweep, solve (see convinspect --help)"
            argv = list(sys.argv[1:] if args is None else args)
            sys.exit(_usage_failure(UsageError(message), _command_of(err, argv), argv))
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _stdout_is_null() -> bool:
    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (out.st_dev, out.st_ino) == (null.st_dev, null.st_ino)


class UsageError(ConvinspectError):
    """Typer's usage errors, in convinspect's words (exit 2)."""


def _command_of(err: Exception, args: list[str]) -> str:
    """The command a usage error is in: Click's context names it; before one is chosen, the first
    command name on the line (build when there is none)."""
    ctx = getattr(err, "ctx", None)
    name = getattr(ctx, "info_name", None)
    if name in adapter.SCHEMAS:
        return str(name)
    return next((arg for arg in args if arg in adapter.SCHEMAS), "build")


def _usage_failure(err: UsageError, command: str, args: list[str]) -> int:
    """One line on stderr, and a JSON error object too when the command line asked for JSON (its value is
    not parsed yet when the line itself is wrong, so it is read from the line)."""
    return fail(err, _asks_for_json(args), adapter.SCHEMAS[command])


def _asks_for_json(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg in ("--format", "-F") and i + 1 < len(args):
            return args[i + 1].strip().lower() == "json"
        if arg.startswith("--format=") or (arg.startswith("-F") and len(arg) > 2):
            return arg.split("=", 1)[-1].removeprefix("-F").strip().lower() == "json"
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
            raise typer.Exit(fail(err, False, adapter.SCHEMAS["build"])) from None
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Inspect Keras convolution layers."""


# -- running a command: one guard, one pipeline ------------------------------------------


def _run(command: str, fmt: str, work: Callable[[Any], int]) -> None:
    """Run a command's work inside the error guard, with TensorFlow's stderr silenced; exit with its code."""
    json_errors = fmt.strip().lower() == "json"
    schema = adapter.SCHEMAS[command]
    with quiet_stderr(), adapter.isolated():  # a TensorFlow kernel that crashes costs one forward pass
        try:
            code = work(adapter.Format.parse(fmt, "format", FORMATS[command]))
        except ConvinspectError as err:
            code = fail(err, json_errors, schema)
        except Exception as err:  # a bug must still not print a traceback
            if os.environ.get("CONVINSPECT_DEBUG"):
                raise
            code = fail(BackendError(f"internal error: {type(err).__name__}: {err}"), json_errors, schema)
    raise typer.Exit(code)


# -- options -----------------------------------------------------------------------------

Opt = typer.Option
LAYER, INPUT, ENGINES, OUTPUT, CI = "Layer", "Input", "Engines and forward pass", "Output", "CI expectations"
TRAINING = "Training memory"


def _default(option: str) -> str:
    return f" \\[default: {adapter.DEFAULTS[option]}]"


Layer = Annotated[
    str,
    Opt("--layer", "-l", metavar="KIND", rich_help_panel=LAYER,
        help=", ".join(k.key for k in adapter.KINDS) + " (any case, - or _)."),
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


# The layer options, declared once: `@layer_options(after=NAME)` adds them to a command's signature
# after its parameter NAME, and the command receives them in its `**options`.
LAYER_OPTIONS: dict[str, tuple[Any, object]] = {
    "filters": (Filters, None), "kernel": (Kernel, None), "strides": (Strides, None), "padding": (Padding, None),
    "dilation": (Dilation, None), "groups": (Groups, None), "depth_multiplier": (DepthMultiplier, None),
    "output_padding": (OutputPadding, None), "data_format": (DataFormat, None), "activation": (Activation, None),
    "use_bias": (UseBias, True), "dtype": (Dtype, None), "name": (Name, None),
}  # fmt: skip


def layer_options(after: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(command, include_extras=True)
        params = [p for p in inspect.signature(command).parameters.values() if p.kind is not p.VAR_KEYWORD]
        at = [p.name for p in params].index(after) + 1
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
                 for name, (kind, default) in LAYER_OPTIONS.items()]  # fmt: skip
        params = [p.replace(annotation=hints[p.name], kind=inspect.Parameter.KEYWORD_ONLY) for p in params]

        def run(**arguments: Any) -> None:
            command(**arguments)

        functools.update_wrapper(run, command)
        run.__signature__ = inspect.Signature([*params[:at], *added, *params[at:]])  # type: ignore[attr-defined]
        run.__annotations__ = {**hints, **{name: kind for name, (kind, _) in LAYER_OPTIONS.items()}}
        return run

    return decorate


def layer_values(layer: str, input: str | None, options: dict[str, Any]) -> dict[str, object]:
    """A command's layer options as parse_spec takes them: None is "not given", and --use-bias is only
    ever turned off."""
    values = {"layer": layer, "input": input, **options}
    values["use_bias"] = None if values.get("use_bias", True) else False
    return {name: values[name] for name in adapter.OPTION_NAMES if name in values}


# -- commands ----------------------------------------------------------------------------


@app.command()
@layer_options(after="layer")
def build(
    layer: Layer = "conv2d",
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
    fmt: Annotated[
        str, _format_option("table, json, markdown, plain, svg (a figure of the arithmetic) or html (a page).")
    ] = "table",
    output: OutputFile = None,
    diagram: Annotated[
        bool, Opt("--diagram", rich_help_panel=OUTPUT, help="Draw each spatial axis: padding, taps, unread cells.")
    ] = False,
    at: Annotated[
        str | None,
        Opt(
            "--at",
            metavar="I,J",
            rich_help_panel=OUTPUT,
            help="The cell --format svg follows: an output cell (an input cell of a transposed conv).",
        ),
    ] = None,
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
    **options: Any,
) -> None:
    """Build a real Keras conv layer and show its variables before and after a forward pass."""
    values = layer_values(layer, input, options)
    target = output_target(output)
    expect = {"expect_output": expect_output, "expect_params": expect_params, "expect_kernel": expect_kernel,
              "expect_bias": expect_bias, "max_params": max_params, "max_macs": max_macs,
              "expect_runs": expect_runs or None}  # fmt: skip

    def work(out: Any) -> int:
        check_output(target)
        if at is not None and out is not adapter.Format.SVG:
            raise ConvinspectError("chooses the cell a figure follows: it applies to --format svg", "at")
        result = adapter.run_build(values, expect, engine=engine, forward=forward, budget=budget, seed=seed,
                               backend=backend, cpu_kernels=cpu_kernels, explain=explain, verify=verify,
                               diagram=diagram, figure=out is adapter.Format.SVG)  # fmt: skip
        cell = adapter.figure_cell(result, at)
        write(result, out, target, diagram=diagram, at=cell)
        return verdict(result, out, target)

    _run("build", fmt, work)


@app.command()
@layer_options(after="layer")
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
    engine: Annotated[str, _engine_option("analytic, keras or both.")] = "analytic",
    forward: Forwards = "auto",
    budget: Budget = "256MiB",
    cpu_kernels: CpuKernelsOpt = "auto",
    fmt: Annotated[
        str,
        Opt("--format", "-F", metavar="FORMAT", rich_help_panel=OUTPUT, help="table, json or csv."),
    ] = "table",
    output: OutputFile = None,
    **options: Any,
) -> None:
    """Tabulate output shape, params and MACs for every input shape in some ranges (at most 100,000)."""
    values = layer_values(layer, input, options)
    target = output_target(output)

    def work(out: Any) -> int:
        check_output(target)
        engine_options = adapter.sweep_options(forward, budget, cpu_kernels)
        with progress("sweeping") as bar:
            result = adapter.run_sweep(
                values, engine=engine, on_total=bar.total, on_result=bar.advance, **engine_options
            )
        write(result, out, target)
        return verdict(result, out, target)

    _run("sweep", fmt, work)


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
    fmt: Annotated[str, _format_option("table, json, junit, github, markdown or html (a page).")] = "table",
    output: OutputFile = None,
) -> None:
    """Check every layer of one or more spec files; exit 2 if any is invalid, else 1 if any failed."""
    target = output_target(output)
    from convinspect.output import write_check_stream

    def work(out: Any) -> int:
        paths = [str(path) for path in files]
        check_output(target, adapter.read_files(paths))
        options = adapter.check_options(engine, forward, budget, cpu_kernels, backend)
        with progress("checking") as bar:
            if out == "json":  # streamed: each entry's report is written, then let go
                return write_check_stream(adapter.iter_check(paths, on_total=bar.total, **options), target, bar)
            run = adapter.run_check(paths, on_total=bar.total, on_result=bar.advance, **options)
        write(run, out, target)
        return verdict(run, out, target)

    _run("check", fmt, work)


@app.command()
@layer_options(after="old_target")
def solve(
    layer: Layer = "conv2d",
    input: Annotated[
        str | None,
        Opt("--input", "-i", metavar="SHAPE", rich_help_panel=INPUT, help="The shape you have, batch first."),
    ] = None,
    target_shape: Annotated[
        str | None,
        Opt(
            "--target",
            "-t",
            metavar="SHAPE",
            rich_help_panel=INPUT,
            help="The shape you need, batch first; ? for an axis you do not care about: ?,25,25,16.",
        ),
    ] = None,
    old_target: Annotated[
        str | None, Opt("--output", "-O", metavar="SHAPE", hidden=True, help="Deprecated spelling of --target.")
    ] = None,
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
    backend: Annotated[
        str | None,
        Opt(
            "--backend",
            metavar="NAME",
            rich_help_panel=ENGINES,
            help="Whose runtime ranks the solutions: tensorflow (its CPU kernels' refusals last), jax or numpy."
            " \\[default: tensorflow]",
        ),
    ] = None,
    runs_only: Annotated[
        bool, Opt("--runs-only", rich_help_panel=ENGINES, help="Leave out settings the --backend's runtime refuses.")
    ] = False,
    **options: Any,
) -> None:
    """Find the layer settings that turn --input into --target.

    Options given are fixed; the rest are searched, and the solutions ranked the way a person chooses
    (docs/solve.md). Exit 1 when nothing within the bounds fits (with the nearest reachable sizes)."""
    values = layer_values(layer, input, options)
    target = output_target(output)

    def work(out: Any) -> int:
        check_output(target, option="output_file")
        shape = adapter.solve_target(target_shape, old_target)
        result = adapter.run_solve(values, shape, max_kernel=max_kernel, max_stride=max_stride,
                               max_dilation=max_dilation, limit=limit, backend=backend,
                               runs_only=runs_only)  # fmt: skip
        write(result, out, target, diagram=explain)
        return verdict(result, out, target)

    _run("solve", fmt, work)


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
    fmt: Annotated[str, _format_option("table, json, markdown, csv or html (a page).")] = "table",
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
    max_training_memory: Annotated[
        str | None,
        _expectation("--max-training-memory", "BYTES", "Fail when the predicted training peak is higher (16GiB)."),
    ] = None,
    training: Annotated[
        bool,
        Opt(
            "--training",
            rich_help_panel=TRAINING,
            help="Memory of one train step per layer: weights, gradients, optimizer state, activations kept "
            "for the backward pass, and the peak.",
        ),
    ] = False,
    optimizer: Annotated[
        str | None,
        Opt(
            "--optimizer",
            metavar="NAME",
            rich_help_panel=TRAINING,
            help="A keras.optimizers class with the options that change its state: adam, adamw:amsgrad, "
            "sgd:momentum=0.9, rmsprop:centered. \\[default: adam]",
        ),
    ] = None,
    batch: Annotated[
        str | None,
        Opt(
            "--batch",
            metavar="N",
            rich_help_panel=TRAINING,
            help="Batch size of the step. \\[default: the input's, else 32 as fit()]",
        ),
    ] = None,
    fit: Annotated[
        str | None,
        Opt(
            "--fit",
            metavar="BYTES",
            rich_help_panel=TRAINING,
            help="Find the largest batch whose predicted peak fits in BYTES (16GiB, 500MB).",
        ),
    ] = None,
    measure: Annotated[
        bool,
        Opt(
            "--measure",
            rich_help_panel=TRAINING,
            help="Also compile the real train step with XLA (Keras' JAX backend) and show its memory beside "
            "the prediction.",
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
    expect = {"expect_params": expect_params, "max_params": max_params, "max_macs": max_macs,
              "expect_runs": expect_runs or None, "max_training_memory": max_training_memory}  # fmt: skip
    asked = {"training": training, "optimizer": optimizer, "batch": batch, "fit": fit, "measure": measure}

    def work(out: Any) -> int:
        inputs = adapter.model_inputs(source, imports or (), against)
        check_output(target, inputs)
        check_snapshot(snapshot, against, target, inputs)
        old = adapter.read_snapshot(against)
        keras = engine.strip().lower() != "analytic"  # a bad engine name is refused by the API, as typed
        with progress("loading Keras", show=keras or measure) as bar:
            # off a terminal, a log reader still sees why the next half-minute passes
            step = bar.step if bar.shown else _measuring if measure else None
            result = adapter.run_model(source, out, expect, engine=engine, input=input, unsafe=unsafe,
                                   imports=imports or (), load_weights=load_weights, backend=backend,
                                   cpu_kernels=cpu_kernels, depth=depth, layer=layer, old=old,
                                   progress=step, training=asked)  # fmt: skip
        adapter.write_snapshot(snapshot, result)
        write(result, out, target)
        return verdict(result, out, target)

    _run("model", fmt, work)


def _measuring(what: str, done: int, total: int) -> None:
    if what.startswith("measuring"):
        say(what)


def main() -> None:
    """Console-script entry point."""
    sane_columns()
    app()
