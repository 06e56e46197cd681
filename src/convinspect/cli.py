"""The Typer app: options -> spec -> API -> rendering -> exit code. Nothing else."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException  # Typer vendors Click

from convinspect import __version__
from convinspect.api import ENGINES, inspect_layer
from convinspect.checks import parse_expectations, with_checks
from convinspect.core.report import REPORT_SCHEMA, Report
from convinspect.core.spec import parse_choice, parse_int, parse_size, parse_spec
from convinspect.engines.keras import FORWARD_MODES
from convinspect.errors import EXIT_CHECK_FAILED, EXIT_OK, BackendError, ConvinspectError, InvalidInput
from convinspect.render import FORMATS
from convinspect.render.words import check_text


class OneLineErrors(typer.core.TyperGroup):
    """Usage errors (unknown option, missing value) as one line on stderr, exit 2."""

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
        except ClickException as err:
            _say(f"convinspect: error: {' '.join(err.format_message().split())}")
            sys.exit(err.exit_code)
        except typer.Abort:
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    help="Inspect Keras convolution layers: shapes, variables, parameters, before and after build.",
)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"convinspect {__version__}\n")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Inspect Keras convolution layers."""


def fail(err: ConvinspectError, fmt: str, schema: str = REPORT_SCHEMA) -> typer.Exit:
    """Report an error the one way: a line on stderr (plus a JSON object for --format json)."""
    _say(f"convinspect: error: {err.message()}")
    if fmt == "json":
        from convinspect.render.json import error_json

        sys.stdout.write(error_json(err, schema))
    return typer.Exit(err.exit_code)


@contextlib.contextmanager
def errors_as_exit(fmt: str, allowed: tuple[str, ...], schema: str = REPORT_SCHEMA) -> Iterator[None]:
    """Turn any error into its one line and exit code; `fmt` picks JSON errors when valid."""
    fmt = fmt.strip().lower() if fmt.strip().lower() in allowed else "table"
    try:
        yield
    except ConvinspectError as err:
        raise fail(err, fmt, schema) from None
    except Exception as err:  # a bug must still not print a traceback
        if os.environ.get("CONVINSPECT_DEBUG"):
            raise
        raise fail(BackendError(f"internal error: {type(err).__name__}: {err}"), fmt, schema) from None


def emit(report: Report, fmt: str, diagram: bool = False) -> None:
    """Write the report to stdout in the chosen format."""
    if fmt == "json":
        from convinspect.render.json import report_json

        sys.stdout.write(report_json(report, diagram))
    elif fmt == "plain":
        from convinspect.render.plain import report_plain

        sys.stdout.write(report_plain(report, diagram))
    elif fmt == "markdown":
        from convinspect.render.markdown import report_markdown

        sys.stdout.write(report_markdown(report, diagram))
    else:
        from rich.console import Console

        from convinspect.render.table import report_table

        Console(soft_wrap=False).print(report_table(report, diagram))


Opt = typer.Option
LAYER_HELP = (
    "conv1d, conv2d, conv3d, depthwise-conv1d, depthwise-conv2d, separable-conv1d, "
    "separable-conv2d, conv1d-transpose, conv2d-transpose, conv3d-transpose (any case, - or _)."
)
# The layer options, shared by `build` and `sweep`.
Layer = Annotated[str, Opt("--layer", "-l", help=LAYER_HELP)]
Filters = Annotated[str | None, Opt("--filters", "-f", help="Number of output filters.")]
Kernel = Annotated[str | None, Opt("--kernel", "-k", help="Kernel size: 5, or one per axis: 5,3.")]
Strides = Annotated[str | None, Opt("--strides", "-s", help="Strides: 2 or 2,1 (default: 1)")]
Padding = Annotated[str | None, Opt("--padding", "-p", help="valid, same or causal (conv1d) (default: valid)")]
Dilation = Annotated[str | None, Opt("--dilation", "-d", help="Dilation rate: 2 or 2,1 (default: 1)")]
Groups = Annotated[str | None, Opt("--groups", "-g", help="Groups (conv1d/2d/3d) (default: 1)")]
DepthMultiplier = Annotated[
    str | None, Opt("--depth-multiplier", "-m", help="Depth multiplier (depthwise, separable) (default: 1)")
]
OutputPadding = Annotated[
    str | None, Opt("--output-padding", help="Output padding (transposed convs), each < strides.")
]
DataFormat = Annotated[
    str | None, Opt("--data-format", help="channels_last or channels_first (default: channels_last)")
]
Activation = Annotated[str | None, Opt("--activation", "-a", help="A Keras activation name, e.g. relu.")]
UseBias = Annotated[bool, Opt("--use-bias/--no-bias", help="Create a bias variable.")]
Dtype = Annotated[
    str | None,
    Opt("--dtype", help="float32, float16, bfloat16, float64, mixed_float16, mixed_bfloat16 (default: float32)"),
]
Name = Annotated[str | None, Opt("--name", help="Layer name (default: Keras' default, e.g. conv2d)")]
Forward = Annotated[str, Opt("--forward", help="auto, eager or symbolic forward pass.")]
Budget = Annotated[str, Opt("--budget", help="Activation memory allowed for an eager pass (auto).")]


def layer_values(**options: object) -> dict[str, object]:
    """Option values as parse_spec takes them (None: not given; --use-bias is only ever turned off)."""
    values = dict(options)
    values["use_bias"] = None if values.get("use_bias", True) else False
    return values


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
    input: Annotated[
        str | None, Opt("--input", "-i", help="Full input shape with batch: 2,32,32,1 or 2x32x32x1; ? = unknown batch.")
    ] = None,
    name: Name = None,
    engine: Annotated[
        str, Opt("--engine", "-e", help="keras (real layer), analytic (no TensorFlow) or both.")
    ] = "keras",
    forward: Forward = "auto",
    budget: Budget = "256MiB",
    seed: Annotated[str | None, Opt("--seed", help="Seed for the dummy input and the initialisers.")] = None,
    fmt: Annotated[str, Opt("--format", "-F", help="table, json, markdown or plain.")] = "table",
    diagram: Annotated[bool, Opt("--diagram", help="Draw each spatial axis: padding, taps, unread cells.")] = False,
    explain: Annotated[
        bool, Opt("--explain", help="Tell, step by step, why the layer has no variables until it is built.")
    ] = False,
    expect_output: Annotated[str | None, Opt("--expect-output", help="Expected output shape, e.g. 2,16,16,64.")] = None,
    expect_params: Annotated[str | None, Opt("--expect-params", help="Expected total parameter count.")] = None,
    expect_kernel: Annotated[str | None, Opt("--expect-kernel", help="Expected kernel shape, e.g. 5,5,1,64.")] = None,
    expect_bias: Annotated[str | None, Opt("--expect-bias", help="Expected bias shape, e.g. 64.")] = None,
    max_params: Annotated[str | None, Opt("--max-params", help="Fail when the layer has more parameters.")] = None,
    max_macs: Annotated[
        str | None, Opt("--max-macs", help="Fail when the forward pass takes more MACs (whole batch).")
    ] = None,
) -> None:
    """Build a real Keras conv layer and show its variables before and after a forward pass."""
    with errors_as_exit(fmt, FORMATS):
        fmt = parse_choice(fmt, "format", FORMATS)
        spec = parse_spec(
            layer_values(
                layer=layer, filters=filters, kernel=kernel, strides=strides, padding=padding, dilation=dilation,
                groups=groups, depth_multiplier=depth_multiplier, output_padding=output_padding,
                data_format=data_format, activation=activation, use_bias=use_bias, dtype=dtype, input=input,
                name=name,
            )
        )  # fmt: skip
        expectations = parse_expectations(
            {"expect_output": expect_output, "expect_params": expect_params, "expect_kernel": expect_kernel,
             "expect_bias": expect_bias, "max_params": max_params, "max_macs": max_macs}
        )  # fmt: skip
        report = inspect_layer(
            spec,
            engine=parse_choice(engine, "engine", ENGINES),
            forward=parse_choice(forward, "forward", FORWARD_MODES),
            budget=parse_size(budget, "budget"),
            seed=None if seed is None else parse_int(seed, "seed", minimum=0),
            explain=explain,
        )
        report = with_checks(report, expectations)
    emit(report, fmt, diagram)
    for failed in (c for c in report.checks if not c.ok):
        _say(f"convinspect: check failed: {check_text(failed)}")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_CHECK_FAILED)


@app.command()
def sweep(
    input: Annotated[
        str | None,
        Opt("--input", "-i", help="Input shape; any dimension may be a range a..b or a..b:step: 1,220..232:4,224,3."),
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
    engine: Annotated[str, Opt("--engine", "-e", help="analytic (default), keras or both.")] = "analytic",
    forward: Forward = "auto",
    budget: Budget = "256MiB",
    fmt: Annotated[str, Opt("--format", "-F", help="table, json or csv.")] = "table",
    output: Annotated[str | None, Opt("--output", "-o", help="Write the result here; print a summary.")] = None,
) -> None:
    """Tabulate output shape, params and MACs for every input shape in some ranges (at most 100,000)."""
    from convinspect.render import sweep as render
    from convinspect.sweep import SWEEP_SCHEMA, run_sweep

    with errors_as_exit(fmt, render.SWEEP_FORMATS, SWEEP_SCHEMA):
        fmt = parse_choice(fmt, "format", render.SWEEP_FORMATS)
        values = layer_values(
            layer=layer, filters=filters, kernel=kernel, strides=strides, padding=padding, dilation=dilation,
            groups=groups, depth_multiplier=depth_multiplier, output_padding=output_padding,
            data_format=data_format, activation=activation, use_bias=use_bias, dtype=dtype, input=input, name=name,
        )  # fmt: skip
        options = {"forward": parse_choice(forward, "forward", FORWARD_MODES), "budget": parse_size(budget, "budget")}
        with _progress("sweeping") as (on_total, on_result):
            result = run_sweep(values, engine=engine, on_total=on_total, on_result=on_result, **options)
    writer = {"table": render.sweep_table, "json": render.sweep_json, "csv": render.sweep_csv}[fmt]
    _write(writer(result), output)
    if output is not None:
        sys.stdout.write(f"{render.summary_line(result)}; written to {output}\n")
    raise typer.Exit(EXIT_OK)


@app.command()
def check(
    files: Annotated[list[str], typer.Argument(help='Spec files: TOML ([[layer]] tables) or JSON ({"layer": [...]}).')],
    engine: Annotated[str, Opt("--engine", "-e", help="keras, analytic or both.")] = "keras",
    forward: Annotated[str, Opt("--forward", help="auto, eager or symbolic forward pass.")] = "auto",
    budget: Annotated[str, Opt("--budget", help="Activation memory allowed for an eager pass (auto).")] = "256MiB",
    fmt: Annotated[str, Opt("--format", "-F", help="table, json, junit, github or markdown.")] = "table",
    output: Annotated[str | None, Opt("--output", "-o", help="Write the report here; print a summary.")] = None,
) -> None:
    """Check every layer of one or more spec files; exit 2 if any is invalid, else 1 if any failed."""
    from convinspect.checks import CHECK_SCHEMA, run_files
    from convinspect.render import checks as render

    with errors_as_exit(fmt, render.CHECK_FORMATS, CHECK_SCHEMA):
        fmt = parse_choice(fmt, "format", render.CHECK_FORMATS)
        options = {
            "engine": parse_choice(engine, "engine", ENGINES),
            "forward": parse_choice(forward, "forward", FORWARD_MODES),
            "budget": parse_size(budget, "budget"),
        }
        with _progress("checking") as (on_total, on_result):
            run = run_files(files, on_result=on_result, on_total=on_total, **options)
    if fmt == "table":
        _print_table(render.check_table(run), output)
    else:
        text = {"json": render.check_json, "junit": render.check_junit, "github": render.check_github,
                "markdown": render.check_markdown}[fmt](run)  # fmt: skip
        _write(text, output)
    if output is not None:
        sys.stdout.write(f"{render.summary_line(run)}; report written to {output}\n")
    raise typer.Exit(run.exit_code)


def _print_table(renderable: Any, output: str | None) -> None:
    """A Rich renderable to the terminal, or as plain text to `output`."""
    from rich.console import Console

    if output is None:
        Console(soft_wrap=False).print(renderable)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            Console(file=handle, width=120, color_system=None).print(renderable)
    except OSError as err:
        raise fail(InvalidInput(f"cannot write {output}: {err.strerror}", "output"), "table") from None


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise fail(InvalidInput(f"cannot write {output}: {err.strerror}", "output"), "table") from None


@contextlib.contextmanager
def _progress(what: str) -> Iterator[tuple[Callable[[int], None] | None, Callable[[Any], None] | None]]:
    """A Rich progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None, None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield (lambda total: bar.update(task, total=total)), (lambda _result: bar.advance(task))


def main() -> None:
    """Console-script entry point."""
    app()
