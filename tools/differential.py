"""Differential test of the convinspect command line: record thousands of random invocations, compare two records.

A standalone script (not a pytest module). `record` generates N invocations from a seeded random generator
(case i depends only on the seed and i), runs each in this one process with Typer's CliRunner against
`convinspect.cli.app`, and writes one JSON line per invocation: the arguments, the files it was given, its exit
code, stdout, stderr and the files it wrote. `compare` reports how many records of two such files are
byte-identical and shows the first that differ. Run the same seed against two source trees:

    PYTHONPATH=/tmp/base/src .venv/bin/python tools/differential.py record --count 2000 --seed 1 --out /tmp/a.jsonl
    PYTHONPATH=$PWD/src      .venv/bin/python tools/differential.py record --count 2000 --seed 1 --out /tmp/b.jsonl
    .venv/bin/python tools/differential.py compare /tmp/a.jsonl /tmp/b.jsonl
    .venv/bin/python tools/differential.py stats /tmp/a.jsonl

Everything an invocation reads or writes lives in one fixed folder (default /tmp/convinspect-diff), created
fresh with deterministic content, and is the working directory while the cases run, so every path that appears
in an output is the same in every run. Before each case the script drops what a fresh process would not have:
Keras' global state (clear_session, so auto-generated layer names restart), the custom layers and modules
the fixtures' own code registered. Only `convinspect.cli.app` is used from convinspect, so the script keeps
working while the package is reorganised inside.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import hashlib
import importlib
import json
import logging
import math
import os
import random
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_WORK = Path("/tmp/convinspect-diff")
MARKER = ".convinspect-diff"  # the work folder is only ever deleted when it holds this file
CASE_TIMEOUT = 300  # seconds; a case that takes longer is recorded as a timeout

# The environment of every invocation: a 100-column, colourless, non-terminal output; TensorFlow's oneDNN
# switch fixed (the `runs` verdict of --cpu-kernels auto reads it); Keras on TensorFlow with a config file of
# our own (KERAS_HOME, set in `prepare`); no debug mode, no forced colour or terminal.
FIXED_ENV: dict[str, str | None] = {
    "COLUMNS": "100",
    "LINES": "50",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONIOENCODING": "utf-8",
    "LC_ALL": "C.UTF-8",
    "CONVINSPECT_DEBUG": None,
    "FORCE_COLOR": None,
    "CLICOLOR_FORCE": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "JUPYTER_COLUMNS": None,
    "JUPYTER_LINES": None,
}

# What differs between two runs of the same code, and is replaced before a record is written. Each entry:
# (why, pattern, replacement); the patterns apply to stdout, stderr and the written files. None is needed
# today: two records of 2,000 cases from the same tree are byte-identical. What made them so is done at the
# source instead of papered over: a fixed environment (FIXED_ENV), fixed work folder and fixture bytes
# (seeded weights, fixed zip dates, Keras' shared_object_id renumbered), Keras' global state cleared before
# each case (layer names would count up across cases), and Python logging sent to /dev/null (TensorFlow's
# retracing warnings carry addresses; in a real process they go to the silenced file descriptor 2).
# Example entry: ("timings", re.compile(r"\b\d+(\.\d+)? ms\b"), "<ms> ms").
NORMALISERS: list[tuple[str, re.Pattern[str], str]] = []

COMMANDS = ("build", "check", "model", "solve")
FORMATS = {
    "build": ("table", "json", "markdown", "plain"),
    "check": ("table", "json", "junit", "github", "markdown"),
    "model": ("table", "json", "markdown", "csv"),
    "solve": ("table", "json", "markdown"),
}
ENGINE_WEIGHTS: dict[str, float] = {"analytic": 50, "keras": 40, "both": 10}
INVALID_SHARE = 0.13  # cases corrupted on purpose; the fixtures and option mixes add about as many again


# -- the ten layer kinds and their arithmetic (enough to aim expectations and solve targets) -----------------


@dataclass(frozen=True)
class Kind:
    key: str
    class_name: str
    rank: int
    family: str  # conv, depthwise, separable, transpose

    @property
    def snake(self) -> str:
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", self.class_name)
        return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


KINDS = (
    Kind("conv1d", "Conv1D", 1, "conv"),
    Kind("conv2d", "Conv2D", 2, "conv"),
    Kind("conv3d", "Conv3D", 3, "conv"),
    Kind("depthwise-conv1d", "DepthwiseConv1D", 1, "depthwise"),
    Kind("depthwise-conv2d", "DepthwiseConv2D", 2, "depthwise"),
    Kind("separable-conv1d", "SeparableConv1D", 1, "separable"),
    Kind("separable-conv2d", "SeparableConv2D", 2, "separable"),
    Kind("conv1d-transpose", "Conv1DTranspose", 1, "transpose"),
    Kind("conv2d-transpose", "Conv2DTranspose", 2, "transpose"),
    Kind("conv3d-transpose", "Conv3DTranspose", 3, "transpose"),
)
KIND = {kind.key: kind for kind in KINDS}
ACTIVATIONS = ("relu", "gelu", "swish", "silu", "tanh", "sigmoid", "softmax", "elu", "selu", "linear", "relu6",
               "leaky_relu", "mish", "hard_sigmoid", "softplus", "exponential")  # fmt: skip
DTYPES = ("float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")


@dataclass
class Conv:
    """One layer as the generator sees it; None means "not given" (the CLI's default applies)."""

    kind: str
    input: list[int | None]
    kernel: list[int]
    filters: int | None = None
    strides: list[int] | None = None
    dilation: list[int] | None = None
    padding: str | None = None
    groups: int | None = None
    depth_multiplier: int | None = None
    output_padding: list[int] | None = None
    data_format: str | None = None
    activation: str | None = None
    use_bias: bool = True
    dtype: str | None = None
    name: str | None = None

    @property
    def spec(self) -> Kind:
        return KIND[self.kind]

    @property
    def first(self) -> bool:
        return self.data_format == "channels_first"

    @property
    def channels(self) -> int | None:
        return self.input[1] if self.first else self.input[-1]

    @property
    def spatial(self) -> list[int | None]:
        return self.input[2:] if self.first else self.input[1:-1]


def _per_axis(values: list[int] | None, rank: int, default: int) -> list[int]:
    if values is None:
        return [default] * rank
    return values * rank if len(values) == 1 else values


def output_shape(c: Conv) -> list[int | None] | None:
    """The output shape Keras gives, or None when the layer is invalid (as far as these rules see)."""
    rank, family = c.spec.rank, c.spec.family
    channels = c.channels
    if len(c.input) != rank + 2 or channels is None or channels <= 0:
        return None
    kernel, strides = _per_axis(c.kernel, rank, 1), _per_axis(c.strides, rank, 1)
    dilation = _per_axis(c.dilation, rank, 1)
    padding = c.padding or "valid"
    lengths: list[int | None] = []
    for axis, n in enumerate(c.spatial):
        k, s, d = kernel[axis], strides[axis], dilation[axis]
        if n is None or n <= 0 or k <= 0 or s <= 0 or d <= 0:
            return None
        ke = (k - 1) * d + 1
        if family == "transpose":
            op = None if c.output_padding is None else _per_axis(c.output_padding, rank, 0)[axis]
            if padding == "valid":
                length = (n - 1) * s + ke + (max(ke, s) - ke if op is None else op)
            else:
                length = n * s if op is None else (n - 1) * s + ke % 2 + op
        elif padding == "valid":
            length = (n - ke) // s + 1
        else:
            length = (n - 1) // s + 1
        if length <= 0:
            return None
        lengths.append(length)
    if family == "depthwise":
        out_channels = channels * (c.depth_multiplier or 1)
    else:
        if c.filters is None:
            return None
        out_channels = c.filters
    batch = c.input[0]
    return [batch, out_channels, *lengths] if c.first else [batch, *lengths, out_channels]


def variable_shapes(c: Conv) -> dict[str, list[int]]:
    """The kernel and bias shapes build() creates (separable layers have no variable named kernel)."""
    rank, family, cin = c.spec.rank, c.spec.family, c.channels or 0
    k = _per_axis(c.kernel, rank, 1)
    f, m, g = c.filters or 0, c.depth_multiplier or 1, c.groups or 1
    shapes: dict[str, list[int]] = {}
    if family == "conv":
        shapes["kernel"], out = [*k, cin // max(g, 1), f], f
    elif family == "transpose":
        shapes["kernel"], out = [*k, f, cin], f
    elif family == "depthwise":
        shapes["kernel"], out = [*k, cin, m], cin * m
    else:
        shapes["depthwise_kernel"], shapes["pointwise_kernel"], out = [*k, cin, m], [1] * rank + [cin * m, f], f
    if c.use_bias:
        shapes["bias"] = [out]
    return shapes


def param_count(c: Conv) -> int:
    return sum(math.prod(shape) for shape in variable_shapes(c).values())


# -- the random generator ---------------------------------------------------------------------------------------


class Gen:
    """random.Random with the few draws the generators use."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def weighted(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def num(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def small(self, low: int, high: int) -> int:
        """Biased to the low end."""
        return min(self.rng.randint(low, high), self.rng.randint(low, high))

    def shuffle(self, items: list[Any]) -> None:
        self.rng.shuffle(items)


def random_conv(g: Gen, kind: str | None = None, *, invalid: bool = False) -> Conv:
    """A layer Keras should accept (shapes within reach of a quick eager pass), or with `invalid` one that
    breaks one rule."""
    spec = KIND[kind] if kind else g.pick(KINDS)
    rank, family = spec.rank, spec.family
    data_format = "channels_first" if g.chance(0.15) else ("channels_last" if g.chance(0.1) else None)
    top = {1: 48, 2: 28, 3: 9}[rank]
    spatial: list[int | None] = [g.num(3, top) if g.chance(0.9) else g.num(1, 3) for _ in range(rank)]
    if g.chance(0.6):
        spatial = [spatial[0]] * rank
    channels = g.pick((1, 2, 3, 4, 6, 8, 12, 16))
    batch = None if g.chance(0.12) else g.small(1, 4)
    c = Conv(kind=spec.key, input=[], kernel=[1], data_format=data_format)
    if family != "depthwise":
        c.filters = g.pick((1, 2, 4, 6, 8, 12, 16, 24, 32))
    if family == "conv" and g.chance(0.25):
        common = [d for d in range(2, 9) if channels % d == 0 and (c.filters or 1) % d == 0]
        if common:
            c.groups = g.pick(common)
        elif g.chance(0.3):
            c.groups = 1
    if family in ("depthwise", "separable") and g.chance(0.3):
        c.depth_multiplier = g.num(1, 3)
    if g.chance(0.4):
        c.strides = [g.num(1, 3)] if g.chance(0.7) else [g.num(1, 3) for _ in range(rank)]
    if g.chance(0.25) and (c.strides is None or max(c.strides) == 1):
        c.dilation = [g.num(1, 3)] if g.chance(0.7) else [g.num(1, 3) for _ in range(rank)]
    paddings = ["valid", "same"] + (["causal"] if spec.key == "conv1d" else [])
    c.padding = None if g.chance(0.35) else g.pick(paddings)
    dilation = _per_axis(c.dilation, rank, 1)
    smallest = min(n for n in spatial if n is not None)
    kernels = []
    for axis in range(rank):
        limit = max(1, (smallest - 1) // dilation[axis] + 1) if (c.padding or "valid") == "valid" else 5
        kernels.append(g.num(1, min(5, limit)))
    c.kernel = [kernels[0]] if g.chance(0.7) else kernels
    strides = _per_axis(c.strides, rank, 1)
    if family == "transpose" and max(strides) > 1 and g.chance(0.3):
        c.output_padding = [g.num(0, s - 1) for s in strides]
    if g.chance(0.2):
        c.activation = g.pick(ACTIVATIONS)
    c.use_bias = not g.chance(0.15)
    if g.chance(0.2):
        c.dtype = g.pick(DTYPES)
    if g.chance(0.1):
        c.name = g.pick(("stem", "my_conv", "block1/conv", "Ünïcødé", "x" * 40, "tab\there", "esc\x1b[31mred"))
    if g.chance(0.03):  # a huge input: the Keras engine takes the symbolic path, over the budget
        spatial = [4096 if rank < 3 else 512] * rank
        batch = 64
    c.input = [batch, channels, *spatial] if c.first else [batch, *spatial, channels]
    if invalid:
        _break(g, c)
    return c


def _break(g: Gen, c: Conv) -> None:
    """Break one of Keras' rules (or convinspect's limits) in place."""
    rank, family = c.spec.rank, c.spec.family
    rules = ["kernel_too_big", "zero_dim", "wrong_rank", "int64", "strided_dilation"]
    if family == "conv":
        rules += ["groups_filters", "groups_channels"]
    if family == "transpose":
        rules += ["output_padding"]
    if c.spec.key != "conv1d":
        rules += ["causal"]
    rule = g.pick(rules)
    spatial_at = 2 if c.first else 1
    if rule == "kernel_too_big":
        c.padding = "valid" if g.chance(0.7) else None
        n = c.input[spatial_at] or 8
        c.kernel = [n + g.num(1, 3)] + ([] if g.chance(0.5) else [1] * (rank - 1))
        if len(c.kernel) not in (1, rank):
            c.kernel = [c.kernel[0]]
        c.dilation = None
        if family == "transpose":  # a transposed conv grows; make the input empty instead
            c.input[spatial_at] = 0
    elif rule == "zero_dim":
        c.input[spatial_at] = 0
    elif rule == "wrong_rank":
        c.input = c.input[:-1] if g.chance(0.5) else [*c.input, 2]
    elif rule == "int64":
        c.input[spatial_at] = 2**62 if g.chance(0.5) else 2**63
    elif rule == "strided_dilation":
        c.strides, c.dilation = [2], [2]
    elif rule == "groups_filters":
        c.filters, c.groups = 6, 4
    elif rule == "groups_channels":
        c.groups = (c.channels or 1) + 1
        c.filters = c.groups * 2
    elif rule == "output_padding":
        c.strides = [2]
        c.output_padding = [2] if g.chance(0.5) else [3] * rank
    elif rule == "causal":
        c.padding = "causal"


# -- turning options into command lines ---------------------------------------------------------------------

SHORT = {"--layer": "-l", "--filters": "-f", "--kernel": "-k", "--strides": "-s", "--dilation": "-d",
         "--padding": "-p", "--groups": "-g", "--depth-multiplier": "-m", "--activation": "-a", "--input": "-i",
         "--engine": "-e", "--backend": "-b", "--format": "-F"}  # fmt: skip
Opts = list[tuple[str, str | None]]  # (option, value); None: a flag


def ints(values: Sequence[int], g: Gen) -> str:
    if len(set(values)) == 1 and (len(values) == 1 or g.chance(0.5)):
        return str(values[0])
    return ",".join(str(v) for v in values)


def shape_text(shape: Sequence[int | None], g: Gen) -> str:
    sep = g.weighted({",": 80, "x": 12, " ": 8})
    unknown = g.pick(("?", "?", "None"))
    return sep.join(unknown if d is None else str(d) for d in shape)


def kind_text(kind: str, g: Gen) -> str:
    spec = KIND[kind]
    return g.weighted({spec.key: 70, spec.class_name: 15, spec.snake: 10, spec.key.upper(): 5})


def conv_opts(c: Conv, g: Gen, *, with_input: bool = True) -> Opts:
    opts: Opts = []
    if c.kind != "conv2d" or g.chance(0.5):
        opts.append(("--layer", kind_text(c.kind, g)))
    if c.filters is not None:
        opts.append(("--filters", str(c.filters)))
    opts.append(("--kernel", ints(c.kernel, g)))
    for option, values in (("--strides", c.strides), ("--dilation", c.dilation),
                           ("--output-padding", c.output_padding)):  # fmt: skip
        if values is not None:
            opts.append((option, ints(values, g)))
    for option, value in (("--padding", c.padding), ("--groups", c.groups), ("--data-format", c.data_format),
                          ("--depth-multiplier", c.depth_multiplier), ("--activation", c.activation),
                          ("--dtype", c.dtype), ("--name", c.name)):  # fmt: skip
        if value is not None:
            opts.append((option, str(value)))
    if not c.use_bias:
        opts.append(("--no-bias", None))
    elif g.chance(0.05):
        opts.append(("--use-bias", None))
    if with_input:
        opts.append(("--input", shape_text(c.input, g)))
    return opts


def render(opts: Opts, g: Gen, *, shuffle: bool = True, shorts: dict[str, str] | None = None) -> list[str]:
    """Options as tokens, each spelled long, short or --option=value; the order is sometimes shuffled."""
    shorts = SHORT if shorts is None else shorts
    opts = list(opts)
    if shuffle and g.chance(0.3):
        g.shuffle(opts)
    tokens: list[str] = []
    for option, value in opts:
        if value is None:
            tokens.append(option)
            continue
        style = g.weighted({"long": 72, "short": 18, "equals": 10})
        if style == "short" and option in shorts:
            tokens += [shorts[option], value]
        elif style == "equals":
            tokens.append(f"{option}={value}")
        else:
            tokens += [option, value]
    return tokens


def set_opt(opts: Opts, option: str, value: str | None) -> None:
    for i, (name, _) in enumerate(opts):
        if name == option:
            opts[i] = (option, value)
            return
    opts.append((option, value))


# -- invalid input ------------------------------------------------------------------------------------------

BAD_NUMBERS = ("0", "-1", "-3", "abc", "３２", "٣", "+3", "1_000", "0x10", "1e3", "3.5", "", " ", "9" * 25,
               "2,", ",2", "1,,2", "nan", "2**8", "4294967296", "9223372036854775808")  # fmt: skip
BAD_SHAPES = ("2,32,32", "2,0,32,1", "2;32;32;1", "", "?,?,32,1", "-1,32,32,1", "2,32,32,1,1", "a,b,c,d",
              "9223372036854775808,1,1,1", "2,３２,32,1", "2,,32,1", "[2, 32, 32, 1]", "2.0,32,32,1")  # fmt: skip
BAD_CHOICES = {
    "--padding": ("sideways", "full", "", "same-ish"),
    "--data-format": ("channels_middle", "NHWC", "last"),
    "--dtype": ("float8", "int32", "half", "mixed_float64"),
    "--activation": ("glu", "threshold", "nope", "ReLU!", ""),
    "--engine": ("tensorflow", "fast", "", "analytical"),
    "--format": ("xml", "yaml", "junit", "csv", "plain", "github", "jsonl"),
    "--forward": ("lazy", "eagerly", ""),
    "--cpu-kernels": ("mkl", "gpu", "one-dnn"),
    "--layer": ("conv4d", "dense", "Conv2d_Transposed", ""),
    "--backend": ("mxnet", "torch", "jax", "numpy", "all", "tf"),
    "--budget": ("lots", "1XB", "-5MiB", "1.5GiB", "0", "9" * 30),
}
NUMERIC = {
    "build": ("--filters", "--kernel", "--strides", "--dilation", "--groups", "--depth-multiplier", "--seed",
              "--budget", "--expect-params", "--max-params", "--max-macs", "--output-padding"),
    "solve": ("--filters", "--kernel", "--strides", "--dilation", "--limit", "--max-kernel", "--max-stride",
              "--max-dilation", "--groups", "--depth-multiplier"),
    "model": ("--depth", "--expect-params", "--max-params", "--max-macs"),
    "check": ("--budget",),
}  # fmt: skip
CHOICE_OPTIONS = {
    "build": ("--padding", "--data-format", "--dtype", "--activation", "--engine", "--format", "--forward",
              "--cpu-kernels", "--layer", "--backend", "--budget"),
    "solve": ("--padding", "--data-format", "--dtype", "--activation", "--format", "--layer"),
    "model": ("--engine", "--format", "--cpu-kernels", "--backend"),
    "check": ("--engine", "--format", "--forward", "--cpu-kernels", "--backend", "--budget"),
}  # fmt: skip
VALUE_OPTIONS = {
    "build": ("--kernel", "--filters", "--input", "--format", "--output", "--seed"),
    "solve": ("--input", "--target", "--limit", "--format"),
    "model": ("--input", "--depth", "--layer", "--format", "--import"),
    "check": ("--engine", "--format", "--output"),
}
UNKNOWN_OPTIONS = ("--bogus", "--filter", "--kernel-size", "-z", "--verbose", "--input-shape", "--formats", "--")


def corrupt(command: str, opts: Opts, g: Gen, positional: list[str]) -> str:
    """Make the invocation invalid in one way; return how (a tag)."""
    how = g.weighted({"number": 30, "choice": 22, "shape": 12, "unknown": 12, "missing": 8, "extra": 4,
                      "duplicate": 4, "not_applicable": 8})  # fmt: skip
    if how == "shape" and command in ("build", "solve", "model"):
        set_opt(opts, g.pick(("--input", "--target")) if command == "solve" else "--input", g.pick(BAD_SHAPES))
    elif how == "number" or (how == "shape"):
        set_opt(opts, g.pick(NUMERIC[command]), g.pick(BAD_NUMBERS))
        how = "number"
    elif how == "choice":
        option = g.pick(CHOICE_OPTIONS[command])
        set_opt(opts, option, g.pick(BAD_CHOICES[option]))
    elif how == "unknown":
        opts.insert(g.num(0, len(opts)), (g.pick(UNKNOWN_OPTIONS), g.pick((None, "3"))))
    elif how == "missing":
        opts.append(("__missing__", g.pick(VALUE_OPTIONS[command])))
    elif how == "extra":
        positional.append(g.pick(("extra", "3", "-", "--")))
    elif how == "duplicate" and opts:
        option, _ = g.pick(opts)
        opts.append((option, g.pick(BAD_NUMBERS)))
    else:
        how = "not_applicable"
        extra = {"build": ("--groups", "--output-padding", "--filters", "--depth-multiplier", "--limit", "--depth"),
                 "solve": ("--output-padding", "--groups", "--verify", "--engine", "--seed"),
                 "model": ("--filters", "--kernel", "--limit", "--verify", "--diagram"),
                 "check": ("--input", "--filters", "--explain", "--seed")}[command]  # fmt: skip
        option = g.pick(extra)
        opts.append((option, None if option in ("--verify", "--diagram", "--explain") else "2"))
    if g.chance(0.3):
        set_opt(opts, "--format", "json")
    return how


def tokens_with_missing(tokens: list[str]) -> list[str]:
    """The __missing__ marker (an option given last, with no value) rendered as that option alone."""
    out: list[str] = []
    missing: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "__missing__":
            missing.append(tokens[i + 1])
            i += 2
            continue
        if tokens[i].startswith("__missing__="):
            missing.append(tokens[i].split("=", 1)[1])
            i += 1
            continue
        out.append(tokens[i])
        i += 1
    return out + missing


# -- cases ----------------------------------------------------------------------------------------------------


@dataclass
class Case:
    index: int
    command: str
    args: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # written before the run, relative to the work folder
    outputs: list[str] = field(default_factory=list)  # files the run may write: read back, then removed


def mark(case: Case, why: str) -> None:
    """Tag the case as invalid input on purpose (the first reason wins)."""
    if not case.tags.get("invalid"):
        case.tags["invalid"] = why


def final_format(opts: Opts) -> str:
    """The --format an invocation ends up with (corrupt may change it)."""
    formats = [value for option, value in opts if option == "--format"]
    return (formats[-1] or "").lower() if formats else "table"


def out_path(case: Case, g: Gen, suffix: str) -> str:
    """A target for --output in out/, relative or absolute; now and then one that cannot be written."""
    name = f"out/{case.index:05d}{suffix}"
    if g.chance(0.02):
        return "-"  # standard output, as if no --output were given
    if g.chance(0.06):
        mark(case, "output")
        return g.pick(("no/such/folder/x.txt", "out/", "out", "", "   ", "/proc/version/x", f"{name}/"))
    case.outputs.append(name)
    return name if g.chance(0.7) else str(Path.cwd() / name)


def _format(command: str, g: Gen, opts: Opts, case: Case) -> str:
    fmt = g.pick(FORMATS[command])
    if fmt != "table" or g.chance(0.5):
        opts.append(("--format", fmt.upper() if g.chance(0.03) else fmt))
    case.tags["format"] = fmt
    return fmt


def _engine(g: Gen, opts: Opts, case: Case, weights: dict[str, float] | None = None, default: str = "keras") -> str:
    engine = g.weighted(weights or ENGINE_WEIGHTS)
    if engine != default or g.chance(0.5):
        opts.append(("--engine", engine.capitalize() if g.chance(0.03) else engine))
    case.tags["engine"] = engine
    return engine


def expectation_opts(c: Conv, g: Gen) -> Opts:
    """One to three build expectations, each right (computed here) or wrong."""
    opts: Opts = []
    out = output_shape(c)
    shapes = variable_shapes(c)
    for _ in range(g.num(1, 3)):
        which = g.pick(("output", "params", "kernel", "bias", "max_params", "max_macs", "runs"))
        right = g.chance(0.6)
        if which == "output" and out is not None:
            shape = out if right else [*out[:-1], (out[-1] or 1) + 1]
            opts.append(("--expect-output", shape_text(shape, g)))
        elif which == "params":
            opts.append(("--expect-params", str(param_count(c) if right else g.num(0, 5000))))
        elif which == "kernel" and "kernel" in shapes:
            opts.append(("--expect-kernel", ints(shapes["kernel"] if right else [3, 3, 3, 3], g)))
        elif which == "bias":
            opts.append(("--expect-bias", str(c.filters or 8) if right else "7"))
        elif which == "max_params":
            opts.append(("--max-params", str(10**9 if right else g.num(0, 100))))
        elif which == "max_macs":
            opts.append(("--max-macs", str(10**15 if right else g.num(0, 1000))))
        else:
            opts.append(("--expect-runs", None))
    return opts


def build_case(case: Case, g: Gen) -> None:
    invalid = g.chance(INVALID_SHARE)
    impossible = invalid and g.chance(0.3)
    c = random_conv(g, invalid=impossible)
    case.tags["kind"] = c.kind
    opts = conv_opts(c, g)
    engine = _engine(g, opts, case)
    fmt = _format("build", g, opts, case)
    keras = engine != "analytic"
    if keras and g.chance(0.15):
        opts.append(("--forward", g.pick(("auto", "eager", "symbolic"))))
    if g.chance(0.08):
        opts.append(("--budget", g.pick(("1KiB", "64KiB", "1MiB", "256MiB", "1GiB", "500MB", "4096", "0"))))
    if g.chance(0.2):
        opts.append(("--seed", str(g.pick((0, 1, 7, 42, 2**32 - 1, g.num(0, 10**6))))))
    if keras and g.chance(0.12):
        opts.append(("--verify", None))
    if g.chance(0.12):
        kernels = ("auto", "onednn", "plain") if not keras else ("auto", "onednn", "onednn", "onednn", "plain")
        opts.append(("--cpu-kernels", g.pick(kernels)))
        if keras and opts[-1][1] == "plain":
            mark(case, "cpu_kernels")  # this process runs TensorFlow with oneDNN on
    every = keras and g.chance(0.012)  # every backend, each in its own process: about 10 s
    if every:
        opts = [(o, v) for o, v in opts if o != "--engine"] + [("--backend", "all")]
        case.tags["engine"] = "keras (all backends)"
    elif g.chance(0.04):
        opts.append(("--backend", g.pick(("tensorflow", "tensorflow", "TensorFlow", "jax", "numpy", "torch"))))
        if not keras or opts[-1][1] in ("jax", "numpy", "torch"):
            mark(case, "backend")
    if g.chance(0.12) and not every:
        opts.append(("--diagram", None))
    if g.chance(0.12) and not every:
        opts.append(("--explain", None))
    if g.chance(0.25) and not every:
        opts += expectation_opts(c, g)
    if g.chance(0.08):
        opts.append(("--output", out_path(case, g, ".txt" if fmt != "json" else ".json")))
    positional: list[str] = []
    if invalid and not impossible:
        case.tags["invalid"] = corrupt("build", opts, g, positional)
    elif impossible:
        case.tags["invalid"] = "impossible"
    case.tags["format"] = final_format(opts)
    case.args = ["build", *positional, *tokens_with_missing(render(opts, g))]


def solve_target(c: Conv, g: Gen) -> tuple[list[int | None], str]:
    out = output_shape(c)
    if out is None or g.chance(0.2):
        rank = c.spec.rank
        target: list[int | None] = [c.input[0], *[g.num(1, 60) for _ in range(rank)], g.pick((1, 4, 8, 16, 32))]
        if c.first:
            target = [target[0], target[-1], *target[1:-1]]
        return target, "random"
    target = list(out)
    if g.chance(0.2):
        target[g.num(1, len(target) - 1)] = None
    return target, "reachable"


def solve_case(case: Case, g: Gen) -> None:
    invalid = g.chance(INVALID_SHARE)
    impossible = invalid and g.chance(0.25)
    c = random_conv(g, invalid=impossible)
    case.tags["kind"] = c.kind
    case.tags["engine"] = "analytic"
    target, how = solve_target(c, g)
    case.tags["target"] = how
    opts: Opts = []
    if c.kind != "conv2d" or g.chance(0.5):
        opts.append(("--layer", kind_text(c.kind, g)))
    opts.append(("--input", shape_text(c.input, g)))
    wanted = shape_text(target, g)
    if " " in wanted and g.chance(0.8):  # solve's --target takes no spaces (its --input does)
        wanted = wanted.replace(" ", ",")
    elif " " in wanted:
        mark(case, "shape")
    opts.append(("--target", wanted))
    fixed = conv_opts(c, g, with_input=False)
    for option, value in fixed:  # the options solve keeps fixed
        if option in ("--layer",):
            continue
        keep = {"--kernel": 0.15, "--strides": 0.2, "--padding": 0.2, "--dilation": 0.15, "--output-padding": 0.2,
                "--groups": 0.5, "--depth-multiplier": 0.3, "--data-format": 1.0, "--filters": 0.04,
                "--activation": 0.3, "--dtype": 0.3, "--no-bias": 0.3, "--name": 0.3}.get(option, 0.0)  # fmt: skip
        if g.chance(keep):
            opts.append((option, value))
    for option, low, high, p in (("--max-kernel", 1, 9, 0.2), ("--max-stride", 1, 5, 0.2),
                                 ("--max-dilation", 1, 4, 0.15), ("--limit", 1, 30, 0.35)):  # fmt: skip
        if g.chance(p):
            opts.append((option, str(g.small(low, high))))
    if g.chance(0.01):  # over the 10,000 settings per axis the search takes
        opts += [("--max-kernel", "200"), ("--max-stride", "20"), ("--max-dilation", "20")]
    if g.chance(0.01):
        opts.append(("--limit", g.pick(("0", "1000", "1001"))))
    fmt = _format("solve", g, opts, case)
    if g.chance(0.2):
        opts.append(("--explain", None))
    if g.chance(0.08):
        opts.append(("--output-file", out_path(case, g, ".json" if fmt == "json" else ".txt")))
    positional: list[str] = []
    if invalid and not impossible:
        case.tags["invalid"] = corrupt("solve", opts, g, positional)
    elif impossible:
        case.tags["invalid"] = "impossible"
    case.tags["format"] = final_format(opts)
    shorts = {**SHORT, "--target": "-t", "--output-file": "-o"}
    case.args = ["solve", *positional, *tokens_with_missing(render(opts, g, shorts=shorts))]


# -- spec files for check -------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's string escapes are TOML's basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def spec_value(values: Sequence[int | None], g: Gen) -> Any:
    """A shape or a per-axis list as a spec file may hold it: a string, a list, or one integer."""
    if None in values or g.chance(0.5):
        return shape_text(values, g) if None in values or g.chance(0.7) else ",".join(str(v) for v in values)
    if len(set(values)) == 1 and len(values) == 1:
        return values[0]
    return list(values)


def layer_entry(c: Conv, g: Gen, chained: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if g.chance(0.6):
        entry["name"] = g.pick(("stem", "head", "down", "up", "proj", "entry with spaces", "Ünïcødé",
                                "esc\x1b]0;title\x07", "x" * 90, f"{c.kind} layer"))  # fmt: skip
    if c.kind != "conv2d" or g.chance(0.4):
        entry["layer"] = kind_text(c.kind, g)
    for key in ("filters", "groups", "depth_multiplier", "padding", "data_format", "activation", "dtype"):
        value = getattr(c, key)
        if value is not None:
            entry[key] = value
    entry["kernel"] = spec_value(c.kernel, g)
    for key in ("strides", "dilation", "output_padding"):
        value = getattr(c, key)
        if value is not None:
            entry[key] = spec_value(value, g)
    if not c.use_bias:
        entry["use_bias"] = False
    if not chained:
        entry["input"] = spec_value(c.input, g)
    out = output_shape(c)
    if g.chance(0.6) and out is not None:
        entry["expect_output"] = spec_value(out if g.chance(0.75) else [*out[:-1], (out[-1] or 0) + 2], g)
    if g.chance(0.3):
        entry["expect_params"] = param_count(c) if g.chance(0.7) else g.num(1, 999)
    shapes = variable_shapes(c)
    if g.chance(0.15) and "kernel" in shapes:
        entry["expect_kernel"] = spec_value(shapes["kernel"], g)
    if g.chance(0.1) and "bias" in shapes:
        entry["expect_bias"] = spec_value(shapes["bias"], g)
    if g.chance(0.1):
        entry["max_params"] = g.pick((10, 1000, 10**6))
    if g.chance(0.1):
        entry["max_macs"] = g.pick((100, 10**6, 10**12))
    if g.chance(0.08):
        entry["expect_runs"] = True
    if g.chance(0.02):
        entry["verify"] = True  # the analytic engine refuses it
    if g.chance(0.05):
        entry["cpu_kernels"] = g.pick(("auto", "onednn", "onednn", "plain"))  # plain: refused by the Keras engine
    return entry


def chain_next(prev: Conv, g: Gen) -> Conv:
    """A layer fed by the previous entry's output (the entry leaves `input` out)."""
    nxt = random_conv(g)
    while KIND[nxt.kind].rank != prev.spec.rank:
        nxt = random_conv(g)
    nxt.data_format = prev.data_format
    out = output_shape(prev)
    nxt.input = list(out) if out is not None else list(prev.input)
    channels = nxt.channels or 1
    if nxt.groups is not None and channels % nxt.groups:
        nxt.groups = None
    if nxt.filters is not None and nxt.groups and nxt.filters % nxt.groups:
        nxt.groups = None
    if (nxt.padding or "valid") == "valid":
        nxt.padding = "same"
    return nxt


def model_entry(g: Gen, fixtures: Fixtures, spec_dir: str) -> dict[str, Any]:
    info = g.pick([m for m in fixtures.models if not m.needs or g.chance(0.1)])
    relative = os.path.relpath(info.path, spec_dir)
    entry: dict[str, Any] = {"source": relative if g.chance(0.8) else str(Path.cwd() / info.path)}
    if g.chance(0.6):
        entry["name"] = g.pick((info.name, f"model {info.name}", "Ünïcødé model"))
    if info.input is None or g.chance(0.2):
        entry["input"] = shape_text(info.input_for(g), g)
    if g.chance(0.3):
        entry["expect_params"] = info.params if g.chance(0.6) else info.params + 1
    if g.chance(0.15):
        entry["max_params"] = g.pick((100, 10**7))
    if g.chance(0.15):
        entry["max_macs"] = g.pick((1000, 10**10))
    if g.chance(0.08):
        entry["expect_runs"] = True
    if g.chance(0.05):
        entry["cpu_kernels"] = g.pick(("onednn", "plain"))
    layers: dict[str, Any] = {}
    for _ in range(g.num(0, 2)):
        names = list(info.layers)
        if not names:
            break
        name = g.pick(names)
        facts = info.layers[name]
        checks: dict[str, Any] = {}
        if facts.get("output") is not None and g.chance(0.6):
            out = facts["output"]
            checks["expect_output"] = shape_text(out if g.chance(0.7) else [*out[:-1], (out[-1] or 0) + 1], g)
        if g.chance(0.4):
            checks["expect_params"] = facts["params"] if g.chance(0.7) else facts["params"] + 3
        if facts.get("kernel") is not None and g.chance(0.3):
            checks["expect_kernel"] = ",".join(str(d) for d in facts["kernel"])
        if facts.get("bias") is not None and g.chance(0.2):
            checks["expect_bias"] = ",".join(str(d) for d in facts["bias"])
        if g.chance(0.1):
            checks["max_macs"] = 1000
        if g.chance(0.02):
            checks["expect_sideways"] = 1  # an unknown key
        if checks:
            layers[name if g.chance(0.96) else "no_such_layer"] = checks
    if layers:
        entry["layer"] = layers
    return entry


def write_toml(layers: list[dict[str, Any]], models: list[dict[str, Any]], g: Gen) -> str:
    lines = [f"# spec written by tools/differential.py ({len(layers)} layers, {len(models)} models)", ""]
    if layers and g.chance(0.1):  # an inline array instead of [[layer]] tables
        lines.append("layer = [")
        lines += [f"  {toml_value(entry)}," for entry in layers]
        lines += ["]", ""]
        layers = []
    tables: list[tuple[str, dict[str, Any]]] = [("layer", e) for e in layers] + [("model", e) for e in models]
    if g.chance(0.3):
        g.shuffle(tables)
    for kind, entry in tables:
        lines.append(f"[[{kind}]]")
        subtables = entry.pop("layer", {}) if kind == "model" else {}
        for key, value in entry.items():
            lines.append(f"{key} = {toml_value(value)}")
        for name, checks in subtables.items():
            lines += ["", f"[model.layer.{json.dumps(name, ensure_ascii=False)}]"]
            lines += [f"{key} = {toml_value(value)}" for key, value in checks.items()]
        lines.append("")
    return "\n".join(lines)


BROKEN_SPECS = {
    "unknown_key": '[[layer]]\nfilter = 8\nkernel = 3\ninput = "1,8,8,1"\n',
    "wrong_type": '[[layer]]\nfilters = "many"\nkernel = true\ninput = "1,8,8,1"\n',
    "toml_syntax": '[[layer]]\nfilters = 8\nkernel = 3\ninput = "1,8,8,1\n',
    "empty": "",
    "comment_only": "# nothing here\n",
    "no_kernel": '[[layer]]\nfilters = 8\ninput = "1,8,8,1"\n',
    "bad_kind": '[[layer]]\nlayer = "conv4d"\nfilters = 8\nkernel = 3\ninput = "1,8,8,8,1"\n',
    "unknown_table": "[[layers]]\nfilters = 8\nkernel = 3\n",
    "duplicate_toml": '[[layer]]\nfilters = 8\nfilters = 9\nkernel = 3\ninput = "1,8,8,1"\n',
    "chain_on_invalid": '[[layer]]\nfilters = 8\nkernel = 30\ninput = "1,8,8,1"\n\n'
    "[[layer]]\nfilters = 4\nkernel = 1\n",
    "no_input": "[[layer]]\nfilters = 8\nkernel = 3\n",
    "model_no_source": '[[model]]\nname = "nothing"\nexpect_params = 3\n',
    "model_missing": '[[model]]\nsource = "../models/no_such_model.json"\n',
    "model_bad_key": '[[model]]\nsource = "../models/mnist.json"\nexpect_output = "?,10"\n',
    "model_builder": '[[model]]\nsource = "../builders.py:small_cnn"\nexpect_params = 1\n',
    "bom": '\ufeff[[layer]]\nfilters = 8\nkernel = 3\ninput = "1,8,8,1"\nexpect_output = "1,6,6,8"\n',
    "deep": "a = " + "[" * 600 + "]" * 600 + "\n",
    "huge_int": '[[layer]]\nfilters = 99999999999999999999\nkernel = 3\ninput = "1,8,8,1"\n',
    "json_syntax": '{"layer": [{"filters": 8, "kernel": 3,}]}\n',
    "json_duplicate": '{"layer": [{"filters": 8, "filters": 4, "kernel": 3, "input": "1,8,8,1"}]}\n',
    "json_array": '[{"filters": 8}]\n',
    "json_wrong": '{"layer": {"filters": 8}}\n',
    "binary": "\udcff\udcfe\x00\x01garbage",
}


def spec_file(case: Case, g: Gen, fixtures: Fixtures, j: int, broken: str | None) -> str:
    """Write one spec file for the case; return its path as given on the command line."""
    as_json = g.chance(0.25)
    if broken is not None:
        text = BROKEN_SPECS[broken]
        as_json = broken.startswith("json")
    else:
        layers: list[dict[str, Any]] = []
        prev: Conv | None = None
        for _ in range(g.small(0, 6) if g.chance(0.35) else g.num(1, 5)):
            chained = prev is not None and g.chance(0.3)
            c = chain_next(prev, g) if chained and prev is not None else random_conv(g)
            if g.chance(0.04):
                c = random_conv(g, invalid=True)
                chained = False
            layers.append(layer_entry(c, g, chained))
            prev = c
        models = [model_entry(g, fixtures, "specs") for _ in range(g.num(1, 2))] if g.chance(0.3) else []
        if not layers and not models:
            models = [model_entry(g, fixtures, "specs")]
        if as_json:
            doc: dict[str, Any] = {}
            if layers:
                doc["layer"] = layers
            if models:
                doc["model"] = models
            text = json.dumps(doc, indent=2, ensure_ascii=g.chance(0.3)) + "\n"
        else:
            text = write_toml(layers, models, g)
        case.tags.setdefault("spec", "+".join(("layers",) * bool(layers) + ("models",) * bool(models)))
    name = f"specs/{case.index:05d}-{j}.{'json' if as_json else 'toml'}"
    case.files[name] = text
    return name if g.chance(0.7) else str(Path.cwd() / name)


def check_case(case: Case, g: Gen, fixtures: Fixtures) -> None:
    invalid = g.chance(INVALID_SHARE)
    broken_files = invalid and g.chance(0.6)
    opts: Opts = []
    engine = _engine(g, opts, case, {"analytic": 55, "keras": 35, "both": 10})
    fmt = _format("check", g, opts, case)
    files: list[str] = []
    for j in range(1 if g.chance(0.8) else g.num(2, 3)):
        broken = g.pick(list(BROKEN_SPECS)) if broken_files and j == 0 else None
        files.append(spec_file(case, g, fixtures, j, broken))
        if broken:
            case.tags["invalid"] = f"spec:{broken}"
    if g.chance(0.04):
        files.append(g.pick(("specs/no_such_spec.toml", "specs", "models/mnist.json")))
        case.tags["invalid"] = "spec:path"
    first = files[0].removeprefix(str(Path.cwd()) + "/")
    if g.chance(0.05) and first in case.files:
        text = case.files[first]
        if not any("\ud800" <= ch <= "\udfff" for ch in text):  # a spec from standard input (UTF-8 only)
            case.stdin = case.files.pop(first)
            files[0] = "-"
            case.tags["stdin"] = "yes"
    if g.chance(0.1):
        opts.append(("--forward", g.pick(("auto", "eager", "symbolic"))))
    if g.chance(0.06):
        opts.append(("--budget", g.pick(("1KiB", "1MiB", "256MiB"))))
    if g.chance(0.1):
        kernels = ("auto", "onednn", "plain") if engine == "analytic" else ("auto", "onednn", "onednn", "onednn")
        opts.append(("--cpu-kernels", g.pick(kernels)))
    if g.chance(0.04):
        opts.append(("--backend", g.pick(("tensorflow", "tensorflow", "jax"))))
        if engine == "analytic" or opts[-1][1] == "jax":
            mark(case, "backend")
    if g.chance(0.1):
        if g.chance(0.1) and files[0] != "-":
            opts.append(("--output", files[0]))  # refused: never one of the spec files
            mark(case, "output")
        else:
            opts.append(("--output", out_path(case, g, {"json": ".json", "junit": ".xml"}.get(fmt, ".txt"))))
    positional: list[str] = []
    if invalid and not broken_files:
        case.tags["invalid"] = corrupt("check", opts, g, positional)
    case.tags["format"] = final_format(opts)
    tokens = tokens_with_missing(render(opts, g))
    case.args = ["check", *files, *positional, *tokens] if g.chance(0.6) else ["check", *tokens, *files, *positional]


# -- model fixtures ------------------------------------------------------------------------------------------


@dataclass
class ModelInfo:
    name: str
    path: str  # relative to the work folder
    input: list[int | None] | None  # None: the model has no input shape (a lazy Sequential)
    params: int = 0
    conv: list[str] = field(default_factory=list)  # names --layer accepts
    other: list[str] = field(default_factory=list)  # layers that are not conv layers
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> output, params, kernel, bias
    needs: str = ""  # "import", "unsafe": what the Keras engine needs to read it
    snapshot: str | None = None  # snapshots/NAME.json, when the setup wrote one

    def input_for(self, g: Gen) -> list[int | None]:
        """An --input for this model: its own shape with other sizes, or a guess for a lazy model."""
        if self.input is None:
            return [g.pick((None, 1, 2)), g.num(8, 32), g.num(8, 32), 3]
        shape = list(self.input)
        shape[0] = g.pick((None, None, 1, 2, 4))
        for axis in range(1, len(shape) - 1):
            if g.chance(0.5) and shape[axis] is not None:
                shape[axis] = max(1, int(shape[axis] or 1) + g.pick((-4, 0, 4, 8, 16)))
        return shape


@dataclass
class Fixtures:
    models: list[ModelInfo] = field(default_factory=list)  # readable model files (json, keras, h5)
    broken: list[str] = field(default_factory=list)  # model files that cannot be read
    snapshots: list[str] = field(default_factory=list)  # snapshots/*.json, good, drifted and bad
    builders: list[str] = field(default_factory=list)
    bad_builders: list[str] = field(default_factory=list)


APPLICATIONS = ("MobileNet", "MobileNetV3Small", "MobileNetV3Large", "MobileNetV2", "ConvNeXtTiny", "Xception",
                "VGG16", "VGG19", "ResNet50V2", "EfficientNetV2B0", "InceptionV3", "ResNet50")  # fmt: skip
APPLICATION_INPUTS = ("?,96,96,3", "1,128,128,3", "2,160,160,3", "?,224,224,3", "1,10,10,3", "?,224,224", "?,75,75,3")


def model_case(case: Case, g: Gen, fixtures: Fixtures) -> None:
    invalid = g.chance(INVALID_SHARE)
    source_kind = g.weighted({"fixture": 58, "application": 20, "builder": 9, "broken": 4, "missing": 2,
                              "special": 5})  # fmt: skip
    opts: Opts = []
    info: ModelInfo | None = None
    positional: list[str] = []
    if source_kind == "application":
        name = g.pick(APPLICATIONS)
        source = g.weighted({f"keras.applications.{name}": 85, f"tf.keras.applications.{name}": 5,
                             "keras.applications.NoSuchNet": 5, "keras.applications.": 2,
                             f"keras.applications.{name.lower()}": 3})  # fmt: skip
        engine = _engine(g, opts, case, {"analytic": 70, "keras": 22, "both": 8})
        if g.chance(0.25):
            opts.append(("--input", g.pick(APPLICATION_INPUTS)))
    elif source_kind == "builder":
        source = g.pick(fixtures.builders if g.chance(0.75) else fixtures.bad_builders)
        engine = _engine(g, opts, case, {"keras": 88, "analytic": 6, "both": 6})
        if source in fixtures.bad_builders or engine == "analytic":
            mark(case, "builder")
    elif source_kind == "broken":
        source = g.pick(fixtures.broken)
        engine = _engine(g, opts, case)
        mark(case, "source")
    elif source_kind == "missing":
        source = g.pick(("models/no_such.json", "models", "", "no_such_module:build", "models/mnist.json:build"))
        engine = _engine(g, opts, case)
        mark(case, "source")
    else:
        info = g.pick([m for m in fixtures.models if (m.needs != "") == (source_kind == "special")])
        source = info.path if g.chance(0.7) else str(Path.cwd() / info.path)
        if _engine(g, opts, case) != "keras" and info.needs:
            mark(case, "needs_keras")
        if info.input is None or g.chance(0.2):
            shape = info.input_for(g)
            if g.chance(0.05):
                shape = shape[:-1]  # the wrong rank
                mark(case, "shape")
            opts.append(("--input", shape_text(shape, g)))
        if info.needs == "import" and g.chance(0.7):
            opts.append(("--import", g.pick(("custom_layers.py", "custom_layers", "no_such_module", "builders.py"))))
        if info.needs == "unsafe" and g.chance(0.6):
            opts.append(("--unsafe", None))
        if g.chance(0.1):
            opts.append(("--depth", str(g.num(0, 3))))
        if info.path.endswith(".keras") and g.chance(0.4):
            opts.append(("--load-weights", None))
    case.tags["source"] = source_kind
    fmt = g.pick(FORMATS["model"])
    chosen_layer = None
    if info is not None and g.chance(0.15):
        which = g.weighted({"conv": 70, "other": 15, "unknown": 15})
        names = {"conv": info.conv, "other": info.other}.get(which) or ["no_such_layer"]
        if which != "conv":
            mark(case, "layer")
        chosen_layer = g.pick(names)
        opts.append(("--layer", chosen_layer))
        fmt = g.pick(("table", "json", "markdown", "plain", "csv" if g.chance(0.1) else "table"))
        if g.chance(0.2):
            opts.append(("--expect-runs", None))
    elif g.chance(0.03):
        fmt = "plain"  # a build report's format, refused without --layer
        mark(case, "format")
    if fmt != "table" or g.chance(0.5):
        opts.append(("--format", fmt))
    case.tags["format"] = fmt
    if g.chance(0.2):
        for _ in range(g.num(1, 2)):
            which = g.pick(("params", "max_params", "max_macs", "runs"))
            right = g.chance(0.6)
            if which == "params":
                value = info.params if info is not None and right else g.num(0, 10**6)
                opts.append(("--expect-params", str(value)))
            elif which == "max_params":
                opts.append(("--max-params", str(10**9 if right else g.num(1, 1000))))
            elif which == "max_macs":
                opts.append(("--max-macs", str(10**13 if right else g.num(1, 1000))))
            else:
                opts.append(("--expect-runs", None))
    if g.chance(0.1):
        opts.append(("--cpu-kernels", g.pick(("auto", "onednn", "plain"))))
    if g.chance(0.03):
        opts.append(("--backend", g.pick(("tensorflow", "jax", "torch"))))
        mark(case, "backend")
    if info is not None and g.chance(0.07):
        if g.chance(0.1):
            opts.append(("--snapshot", info.path))  # refused: it is the input
            mark(case, "snapshot")
        else:
            name = f"out/{case.index:05d}.snapshot.json"
            case.outputs.append(name)
            opts.append(("--snapshot", name))
    if g.chance(0.1) and fixtures.snapshots:
        own = info.snapshot if info is not None else None
        if own and g.chance(0.5):
            against = own if g.chance(0.6) else own.replace(".json", "-drift.json")
        else:
            against = g.pick([*fixtures.snapshots, "snapshots/no_such.json"])
            if not against.endswith(("-drift.json", *(f"{name}.json" for name in SNAPSHOT_MODELS))):
                mark(case, "against")
        opts.append(("--against", against))
    if g.chance(0.08):
        opts.append(("--output", out_path(case, g, {"json": ".json", "csv": ".csv"}.get(fmt, ".txt"))))
    if invalid:
        case.tags["invalid"] = corrupt("model", opts, g, positional)
    case.tags["format"] = final_format(opts)
    tokens = tokens_with_missing(render(opts, g, shorts={**SHORT, "--layer": "-l", "--output": "-o"}))
    head = [source] if source != "" or g.chance(0.5) else []
    case.args = ["model", *head, *positional, *tokens]


# -- the whole plan -------------------------------------------------------------------------------------------

HELP_CASES: tuple[list[str], ...] = (["--help"], ["--version"], ["-V"], [], ["sweep", "--help"], ["nosuchcommand"])


def make_case(seed: int, index: int, fixtures: Fixtures) -> Case:
    """Case `index` of the seed: the same arguments and files on every run, whatever the count."""
    g = Gen(f"convinspect-diff/{seed}/{index}")
    command = g.pick(COMMANDS)
    case = Case(index=index, command=command, tags={"command": command})
    if g.chance(0.004):
        case.args = list(g.pick(HELP_CASES))
        case.tags.update(command="(root)", format="help")
        return case
    if g.chance(0.01):
        case.args = [command, "--help"]
        case.tags.update(format="help")
        return case
    if command == "build":
        build_case(case, g)
    elif command == "solve":
        solve_case(case, g)
    elif command == "check":
        check_case(case, g, fixtures)
    else:
        model_case(case, g, fixtures)
    case.tags.setdefault("invalid", "")
    return case


# -- the fixture folder ----------------------------------------------------------------------------------------

CUSTOM_LAYERS = '''"""A custom layer for the differential test's custom.json (registered as diff>Scale)."""

import keras


@keras.saving.register_keras_serializable(package="diff")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''

BUILDERS = '''"""Model builders for the differential test: `convinspect model builders.py:NAME`."""

import keras

L = keras.layers


def small_cnn():
    inputs = keras.Input((16, 16, 3), name="pixels")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = L.DepthwiseConv2D(3, strides=2, name="dw_b")(x)
    x = L.SeparableConv2D(16, 3, padding="same", name="sep_c")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, L.Dense(3, name="out")(x), name="small_cnn")


def tiny_1d():
    return keras.Sequential(
        [keras.Input((32, 2)), L.Conv1D(4, 3, padding="causal", name="c1"), L.Conv1DTranspose(2, 2, strides=2,
         name="t1"), L.Flatten(name="flat"), L.Dense(1, name="y")],
        name="tiny_1d",
    )


def unnamed():
    inputs = keras.Input((12, 12, 1))
    x = L.Conv2D(4, 3)(inputs)
    x = L.Conv2D(4, 3)(x)
    return keras.Model(inputs, L.Flatten()(x))


def lazy():
    return keras.Sequential([L.Conv2D(4, 3, name="c"), L.GlobalMaxPooling2D(name="g")], name="lazy_builder")


def noisy():
    print("a builder that prints")
    return tiny_1d()


def not_a_model():
    return 42


def raises():
    raise ValueError("this builder fails on purpose")


CONSTANT = 3
'''

SNAPSHOT_MODELS = ("mnist", "mnist_v2", "graph2d", "seq1d", "nested", "random03")


def _layer_facts(layer: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"params": int(layer.count_params()) if layer.built else 0, "output": None}
    with contextlib.suppress(Exception):
        facts["output"] = [None if d is None else int(d) for d in layer.output.shape]
    for name in ("kernel", "bias"):
        variable = getattr(layer, name, None)
        facts[name] = None if variable is None else [int(d) for d in variable.shape]
    return facts


def _info(keras: Any, model: Any, name: str, path: str, *, lazy: bool = False) -> ModelInfo:
    conv_classes = tuple(getattr(keras.layers, kind.class_name) for kind in KINDS)
    info = ModelInfo(name=name, path=path, input=None)
    if not lazy:
        info.input = [None if d is None else int(d) for d in model.inputs[0].shape]
        info.params = int(model.count_params())

    def walk(layers: Sequence[Any], prefix: str) -> None:
        for layer in layers:
            qualified = prefix + layer.name
            if hasattr(layer, "layers") and layer.layers and not isinstance(layer, conv_classes):
                info.other.append(qualified)
                walk(layer.layers, qualified + "/")
                continue
            (info.conv if isinstance(layer, conv_classes) else info.other).append(qualified)
            if not lazy and not prefix:
                info.layers[qualified] = _layer_facts(layer)

    walk(model.layers, "")
    if name == "nested":
        info.conv.append("shared_conv#1")  # the shared layer's second call
    return info


def _fixture_models(keras: Any) -> dict[str, tuple[Any, bool]]:
    """The hand-made models: name -> (model, lazy)."""
    L = keras.layers
    models: dict[str, tuple[Any, bool]] = {}

    def mnist(second: bool) -> Any:
        i = keras.Input((28, 28, 1), name="image")
        x = L.Conv2D(32, 3, activation="relu", name="conv1")(i)
        x = L.MaxPooling2D(name="pool1")(x)
        x = L.Conv2D(32 if second else 64, 3, activation="relu", name="conv2")(x)
        x = L.MaxPooling2D(name="pool2")(x)
        x = L.Flatten(name="flatten")(x)
        if not second:
            x = L.Dropout(0.5, name="dropout")(x)
        return keras.Model(i, L.Dense(10, activation="softmax", name="classifier")(x), name="mnist_convnet")

    models["mnist"] = (mnist(False), False)
    models["mnist_v2"] = (mnist(True), False)
    lazy = keras.Sequential([L.Conv2D(16, 3, name="conv"), L.GlobalAveragePooling2D(name="pool"),
                             L.Dense(4, name="head")], name="lazy_net")  # fmt: skip
    models["lazy"] = (lazy, True)

    i = keras.Input((32, 32, 8), name="x")
    a = L.Conv2D(16, 3, padding="same", groups=2, name="grouped")(i)
    a = L.BatchNormalization(name="bn")(a)
    a = L.ReLU(name="relu")(a)
    s = L.Add(name="add")([a, L.Conv2D(16, 1, name="proj")(i)])
    d = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw")(s)
    p = L.SeparableConv2D(24, 3, padding="same", name="sep")(d)
    u = L.Conv2DTranspose(8, 3, strides=2, padding="same", name="up")(p)
    z = L.ZeroPadding2D(1, name="zpad")(L.Concatenate(name="cat")([u, i]))
    z = L.Conv2D(8, 3, dilation_rate=2, name="dilated")(z)
    z = L.MaxPooling2D(3, strides=2, name="pool")(z)
    z = L.UpSampling2D(name="ups")(L.Cropping2D(1, name="crop")(z))
    o = L.Dense(5, name="logits")(L.GlobalAveragePooling2D(name="gap")(z))
    models["graph2d"] = (keras.Model(i, o, name="graph2d"), False)

    seq = keras.Sequential([keras.Input((64, 4), name="signal"), L.Conv1D(8, 5, padding="causal", name="causal"),
                            L.DepthwiseConv1D(3, depth_multiplier=2, name="dw1"),
                            L.SeparableConv1D(12, 3, strides=2, name="sep1"),
                            L.Conv1DTranspose(6, 4, strides=2, name="up1"), L.GlobalMaxPooling1D(name="gmp"),
                            L.Dense(3, name="out")], name="seq1d")  # fmt: skip
    models["seq1d"] = (seq, False)

    vol = keras.Sequential([keras.Input((10, 10, 10, 2), name="volume"), L.Conv3D(4, 3, name="c3"),
                            L.MaxPooling3D(name="p3"), L.Conv3DTranspose(2, 2, strides=2, name="t3"),
                            L.Flatten(name="flat"), L.Dense(2, name="d")], name="vol3d")  # fmt: skip
    models["vol3d"] = (vol, False)

    cf = keras.Sequential([keras.Input((3, 16, 16), name="chw"),
                           L.Conv2D(8, 3, data_format="channels_first", name="cf1"),
                           L.Conv2D(8, 3, strides=2, data_format="channels_first", name="cf2"),
                           L.DepthwiseConv2D(3, data_format="channels_first", name="cf_dw"),
                           L.GlobalAveragePooling2D(data_format="channels_first", name="gap"),
                           L.Dense(2, name="d")], name="channels_first")  # fmt: skip
    models["channels_first"] = (cf, False)

    block = keras.Sequential([keras.Input((16, 16, 8)), L.Conv2D(8, 3, padding="same", name="conv"),
                              L.BatchNormalization(name="bn"), L.Activation("relu", name="act")],
                             name="block")  # fmt: skip
    i = keras.Input((16, 16, 8), name="inp")
    shared = L.Conv2D(8, 1, name="shared_conv")
    m = L.Multiply(name="mul")([shared(block(i)), shared(i)])
    x = L.Permute((2, 1), name="perm")(L.Reshape((256, 8), name="reshape")(L.LayerNormalization(name="ln")(m)))
    o = L.Dense(2, name="head")(L.Flatten(name="flat")(x))
    models["nested"] = (keras.Model(i, o, name="nested_shared"), False)

    i = keras.Input((24, 24, 3), name="rgb")
    x = L.Conv2D(8, 3, dtype="mixed_float16", name="half")(i)
    x = L.Conv2D(8, 3, dtype="mixed_bfloat16", name="bhalf")(x)
    x = L.Conv2D(4, 3, dtype="float64", name="double")(x)
    x = L.Conv2DTranspose(4, 2, strides=2, dtype="float16", name="t16")(x)
    o = L.Dense(2, name="out")(L.GlobalMaxPooling2D(name="gmp")(x))
    models["mixed"] = (keras.Model(i, o, name="mixed"), False)

    i = keras.Input((8, 8, 3), name="img")
    x = L.Conv2D(4, 3, name="c")(i)
    twice = eval(compile("lambda t: t * 2", "<differential>", "eval"))  # a fixed code object for the bytecode
    models["lambda"] = (keras.Model(i, L.Lambda(twice, name="lam")(x), name="lambda_model"), False)

    i = keras.Input((8, 8, 3), name="img")
    x = L.Conv2D(4, 3, name="c")(i)
    models["custom"] = (keras.Model(i, L.Activation("linear", name="scale")(x), name="custom_model"), False)
    return models


def _random_layers(rng: random.Random, rank: int, index: int) -> list[tuple[str, dict[str, Any]]]:
    convs = [k for k in KINDS if k.rank == rank]
    layers: list[tuple[str, dict[str, Any]]] = []
    for j in range(rng.randint(2, 6)):
        what = rng.choice(["conv", "conv", "conv", "pool", "bn", "act", "drop", "pad", "up"])
        name = f"r{index:02d}_{j}_{what}"
        if what == "conv":
            kind = rng.choice(convs)
            kwargs: dict[str, Any] = {"kernel_size": rng.randint(1, 3), "name": name,
                                      "padding": "same" if rng.random() < 0.7 else "valid"}  # fmt: skip
            if kind.family != "depthwise":
                kwargs["filters"] = rng.choice([2, 4, 8, 16])
            else:
                kwargs["depth_multiplier"] = rng.randint(1, 2)
            if rng.random() < 0.3:
                kwargs["strides"] = 2
            if rng.random() < 0.2:
                kwargs["use_bias"] = False
            layers.append((kind.class_name, kwargs))
        elif what == "pool":
            layers.append((rng.choice(["MaxPooling", "AveragePooling"]) + f"{rank}D", {"name": name}))
        elif what == "bn":
            layers.append(("BatchNormalization", {"name": name}))
        elif what == "act":
            layers.append(("Activation", {"activation": rng.choice(["relu", "gelu", "tanh"]), "name": name}))
        elif what == "drop":
            layers.append(("Dropout", {"rate": 0.25, "name": name}))
        elif what == "pad":
            layers.append((f"ZeroPadding{rank}D", {"padding": 1, "name": name}))
        else:
            layers.append((f"UpSampling{rank}D", {"name": name}))
    if rng.random() < 0.5:
        layers.append((f"GlobalAveragePooling{rank}D", {"name": f"r{index:02d}_gap"}))
        layers.append(("Dense", {"units": rng.randint(1, 10), "name": f"r{index:02d}_dense"}))
    return layers


def _random_model(keras: Any, index: int) -> tuple[Any, bool, Any]:
    """A random Sequential (Keras must accept it): (model, lazy, the built twin)."""
    rng = random.Random(f"convinspect-diff/fixture/{index}")
    while True:
        rank = rng.choice([1, 2, 2, 2, 3])
        size = {1: rng.randint(16, 64), 2: rng.randint(8, 32), 3: rng.randint(6, 12)}[rank]
        shape = (*[size] * rank, rng.choice([1, 3, 4, 8]))
        spec = _random_layers(rng, rank, index)
        lazy = rng.random() < 0.15

        def make(spec: list[tuple[str, dict[str, Any]]] = spec) -> list[Any]:
            return [getattr(keras.layers, cls)(**kwargs) for cls, kwargs in spec]

        try:
            built = keras.Sequential([keras.Input(shape, name=f"r{index:02d}_in"), *make()], name=f"random{index:02d}")
        except Exception:
            continue
        return (keras.Sequential(make(), name=f"random{index:02d}") if lazy else built), lazy, built


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    path.write_bytes(data)


def _keras_archive(model: Any, path: Path, scratch: Path, config: str | None = None) -> None:
    """A .keras zip with fixed dates and metadata (Keras' own records the time it was saved)."""
    saved = scratch / "model.keras"
    model.save(saved)
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read("model.weights.h5")
        own_config = archive.read("config.json").decode()
    ids: dict[str, str] = {}  # Keras writes id() of shared objects: number them in order of appearance instead

    def number(match: re.Match[str]) -> str:
        return f'"shared_object_id": {ids.setdefault(match[1], str(len(ids) + 1))}'

    own_config = re.sub(r'"shared_object_id": (\d+)', number, own_config)
    metadata = json.dumps({"keras_version": "3", "date_saved": "2000-01-01@00:00:00"})
    config = own_config if config is None else config
    members: dict[str, str | bytes] = {"metadata.json": metadata, "config.json": config, "model.weights.h5": weights}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data)


def make_fixtures(keras: Any, work: Path) -> Fixtures:
    """Every model file, builder and module the cases use, with the same bytes on every run."""
    fixtures = Fixtures()
    _write(work / "custom_layers.py", CUSTOM_LAYERS)
    _write(work / "builders.py", BUILDERS)
    _write(work / "broken_module.py", "raise RuntimeError('this module fails on import')\n")
    fixtures.builders = ["builders.py:small_cnn", "builders.py:tiny_1d", "builders.py:unnamed", "builders.py:lazy",
                         "builders.py:noisy", "builders:small_cnn", f"{work}/builders.py:tiny_1d"]  # fmt: skip
    fixtures.bad_builders = ["builders.py:not_a_model", "builders.py:raises", "builders.py:no_such_function",
                             "builders.py:CONSTANT", "no_such_file.py:build", "broken_module.py:build",
                             "os.path:join"]  # fmt: skip
    scratch = Path(tempfile.mkdtemp(prefix="convinspect-diff-"))
    try:
        keras.utils.set_random_seed(0)  # the weights in the .keras and .h5 files
        models = _fixture_models(keras)
        for index in range(24):
            model, lazy, built = _random_model(keras, index)
            models[f"random{index:02d}"] = (model, lazy)
            models[f"random{index:02d}:built"] = (built, False)
        for name, (model, lazy) in models.items():
            if name.endswith(":built"):
                continue
            config = json.loads(model.to_json())
            needs = ""
            if name == "custom":  # the placeholder Activation becomes the registered custom layer
                layer = next(entry for entry in config["config"]["layers"] if entry["name"] == "scale")
                layer.update(module=None, class_name="Scale", registered_name="diff>Scale")
                layer["config"].pop("activation")
                layer["config"]["factor"] = 2.0
                needs = "import"
            if name == "lambda":
                needs = "unsafe"
            text = json.dumps(config, indent=1) + "\n"
            path = f"models/{name}.json"
            _write(work / path, text)
            twin = models.get(f"{name}:built", (model, lazy))[0]
            info = _info(keras, twin, name, path, lazy=lazy)
            info.needs = needs
            fixtures.models.append(info)
            if name in ("mnist", "graph2d", "seq1d", "nested", "mixed", "vol3d"):
                for suffix in (".keras", ".h5"):
                    copy = ModelInfo(**{**info.__dict__, "path": f"models/{name}{suffix}"})
                    if suffix == ".keras":
                        _keras_archive(model, work / copy.path, scratch)
                    else:
                        model.save(work / copy.path)
                    fixtures.models.append(copy)
        mismatch = ModelInfo(**{**fixtures.models[0].__dict__, "path": "models/mismatch.keras"})
        _keras_archive(models["mnist_v2"][0], work / mismatch.path, scratch, config=json.dumps(
            json.loads(models["mnist"][0].to_json())))  # fmt: skip
        fixtures.models.append(mismatch)
        bom = ModelInfo(**{**fixtures.models[0].__dict__, "path": "models/bom.json"})
        _write(work / bom.path, "\ufeff" + (work / "models/mnist.json").read_text())
        fixtures.models.append(bom)
        unknown = json.loads(models["mnist"][0].to_json())
        unknown["config"]["layers"][2]["class_name"] = "NoSuchLayer"
        broken: dict[str, str | bytes] = {
                  "empty.json": "", "array.json": "[1, 2, 3]\n", "syntax.json": '{"class_name": "Functional",\n',
                  "notmodel.json": '{"hello": "world"}\n', "unknown_class.json": json.dumps(unknown),
                  "binary.bin": b"\xff\xfe\x00garbage\x80", "deep.json": "[" * 100000 + "]" * 100000,
                  "truncated.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64}  # fmt: skip
        for name, data in broken.items():
            _write(work / "models" / name, data)
            fixtures.broken.append(f"models/{name}")
        with zipfile.ZipFile(work / "models/noconfig.keras", "w") as archive:
            archive.writestr(zipfile.ZipInfo("metadata.json", date_time=(2000, 1, 1, 0, 0, 0)), "{}")
        fixtures.broken += ["models/noconfig.keras", "models"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return fixtures


def derive_snapshots(work: Path, fixtures: Fixtures) -> None:
    """From the snapshots the setup invocations wrote: drifted copies, and some that are not snapshots.
    The list of names is fixed, whether or not the setup managed to write them."""
    for name in SNAPSHOT_MODELS:
        path = work / "snapshots" / f"{name}.json"
        fixtures.snapshots += [f"snapshots/{name}.json", f"snapshots/{name}-drift.json"]
        with contextlib.suppress(OSError, ValueError, KeyError, StopIteration, TypeError, AttributeError):
            snap = json.loads(path.read_text())
            layers = snap["layers"]
            names = list(layers)
            changed = next(n for n in names if layers[n].get("params"))
            layers[changed]["params"] += 1
            layers.pop(names[-1])
            layers["added_layer"] = {"class": "Dense", "output_shape": [None, 1], "params": 2, "macs": 1}
            if len(names) > 2:
                layers[names[1]]["output_shape"] = [None, 1]
            drift = work / "snapshots" / f"{name}-drift.json"
            drift.write_text(json.dumps(snap, indent=1) + "\n")
    bad = {"not_json.json": "{nope", "wrong_schema.json": '{"schema": "convinspect.snapshot/0", "layers": {}}\n',
           "array.json": "[]\n", "empty.json": ""}  # fmt: skip
    for name, text in bad.items():
        _write(work / "snapshots" / name, text)
        fixtures.snapshots.append(f"snapshots/{name}")
    for info in fixtures.models:
        if info.name in SNAPSHOT_MODELS:
            info.snapshot = f"snapshots/{info.name}.json"


def fixture_digest(work: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(work.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(work)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# -- running ---------------------------------------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that convinspect's own guard does not catch it."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise CaseTimeout


def printable(text: str) -> str:
    """Text that a UTF-8 record can hold: the bytes a fixture's lone surrogates stand for, as escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def normalise(text: str) -> str:
    for _why, pattern, replacement in NORMALISERS:
        text = pattern.sub(replacement, text)
    return text


class Runner:
    """The app, a CliRunner, and the resets that make each case start like a fresh process."""

    FIXTURE_MODULES = ("builders", "custom_layers", "broken_module")

    def __init__(self, work: Path) -> None:
        from typer.testing import CliRunner

        self.work = work
        self.cli = importlib.import_module("convinspect.cli")
        self.app = self.cli.app
        self.runner = CliRunner(env=FIXED_ENV)
        self.devnull = open(os.devnull, "w", encoding="utf-8")  # open for the whole run
        self.last_resort = logging.StreamHandler(self.devnull)
        self.last_resort.setLevel(logging.WARNING)

    def quiet_logging(self) -> None:
        """Python logging into nothing. In a real process these records (TensorFlow's retracing warnings, say)
        go to file descriptor 2, which convinspect points at /dev/null while a command runs; here a handler
        would keep the stderr of the case that created it, a closed stream for every later case."""
        loggers = [
            logging.root,
            *(v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
        ]
        for logger in loggers:
            for handler in logger.handlers:
                inner = getattr(handler, "_python_handler", None)  # absl's handler wraps a StreamHandler
                for each in (handler, inner):
                    if isinstance(each, logging.StreamHandler) and not isinstance(each, logging.FileHandler):
                        each.stream = self.devnull
        logging.lastResort = self.last_resort

    def reset(self) -> None:
        self.quiet_logging()
        keras = sys.modules.get("keras")
        if keras is not None:
            keras.utils.clear_session(free_memory=False)  # auto-generated layer names restart
            custom = keras.saving.get_custom_objects()
            for key in [k for k in custom if k.startswith("diff>") or k == "Scale"]:
                del custom[key]
        for name in self.FIXTURE_MODULES:
            sys.modules.pop(name, None)

    def run(self, args: list[str], stdin: str | None = None, outputs: Sequence[str] = ()) -> dict[str, Any]:
        self.reset()
        started = time.perf_counter()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CASE_TIMEOUT)
        try:
            result = self.runner.invoke(self.app, args, input=stdin, catch_exceptions=True)
            exit_code: int | str = result.exit_code
            stdout = result.stdout_bytes.decode("utf-8", "backslashreplace")
            stderr = result.stderr_bytes.decode("utf-8", "backslashreplace")
            error = result.exception
        except CaseTimeout:
            exit_code, stdout, stderr, error = "timeout", "", "", None
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        seconds = time.perf_counter() - started
        exception = None
        if error is not None and not isinstance(error, SystemExit):
            exception = f"{type(error).__name__}: {error}"[:2000]
        written: dict[str, str] = {}
        for name in outputs:
            path = self.work / name
            if path.is_file():
                written[name] = normalise(path.read_bytes().decode("utf-8", "backslashreplace"))
                path.unlink()
        leftovers = sorted(p.name for p in (self.work / "out").iterdir())
        for name in leftovers:  # a temporary file left behind, or a file written where none was expected
            target = self.work / "out" / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        return {"exit_code": exit_code, "stdout": normalise(stdout), "stderr": normalise(stderr),
                "written": written, "leftovers": leftovers, "exception": exception,
                "seconds": round(seconds, 3)}  # fmt: skip


def _absolute_paths() -> None:
    """cwd becomes the work folder: keep relative sys.path and PYTHONPATH entries pointing where they did."""
    sys.path[:] = [os.path.abspath(entry) if entry else entry for entry in sys.path]
    if os.environ.get("PYTHONPATH"):
        parts = os.environ["PYTHONPATH"].split(os.pathsep)
        os.environ["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in parts if p)


def prepare(work: Path) -> None:
    if work.exists():
        if not (work / MARKER).exists() and any(work.iterdir()):
            sys.exit(f"differential: {work} exists and was not made by this script; remove it or pass --work")
        shutil.rmtree(work)
    for sub in ("models", "specs", "snapshots", "out", ".keras"):
        (work / sub).mkdir(parents=True)
    (work / MARKER).write_text("made by tools/differential.py; deleted and rebuilt on every record\n")
    keras_config = {"floatx": "float32", "epsilon": 1e-07, "backend": "tensorflow",
                    "image_data_format": "channels_last"}  # fmt: skip
    (work / ".keras" / "keras.json").write_text(json.dumps(keras_config, indent=4) + "\n")
    FIXED_ENV["KERAS_HOME"] = str(work / ".keras")
    for key, value in FIXED_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    sys.dont_write_bytecode = True  # no __pycache__ for the fixtures' modules


def check_source() -> tuple[str, str]:
    """convinspect's file and the folder it comes from; exit when PYTHONPATH names a tree it does not come from."""
    import convinspect

    where = os.path.realpath(convinspect.__file__ or "")
    root = os.path.dirname(os.path.dirname(where))
    wanted = [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    print(f"differential: convinspect from {where}", file=sys.stderr)
    if wanted and root not in wanted:
        sys.exit(f"differential: convinspect comes from {root}, not from PYTHONPATH ({', '.join(wanted)})")
    return where, root


def loaded_elsewhere(root: str) -> list[str]:
    """convinspect modules imported from anywhere but `root` (an editable install's tree, say)."""
    stray = []
    for name, module in list(sys.modules.items()):
        if name == "convinspect" or name.startswith("convinspect."):
            file = getattr(module, "__file__", None)
            if file and not os.path.realpath(file).startswith(root + os.sep):
                stray.append(f"{name} ({file})")
    return stray


COMPARED = ("args", "stdin", "files", "exit_code", "stdout", "stderr", "written", "leftovers", "exception")


def record(args: argparse.Namespace) -> int:
    work = Path(args.work).absolute()
    out = Path(args.out).absolute()
    only = {int(i) for i in args.only.split(",")} if args.only else None
    prepare(work)
    _absolute_paths()
    where, root = check_source()
    os.chdir(work)
    started = time.perf_counter()
    runner = Runner(work)
    warm = runner.run(["build", "--layer", "conv1d", "--filters", "1", "--kernel", "1", "--input", "1,1,1"])
    if warm["exit_code"] != 0:
        sys.exit(f"differential: the warm-up invocation failed: {warm}")
    keras = importlib.import_module("keras")
    fixtures = make_fixtures(keras, work)
    keras.utils.clear_session(free_memory=True)
    setup: list[dict[str, Any]] = []
    for name in SNAPSHOT_MODELS:  # the --against baselines come from the code under test, recorded as such
        target = f"snapshots/{name}.json"
        argv = ["model", f"models/{name}.json", "--engine", "analytic", "--snapshot", target]
        result = runner.run(argv, outputs=[])
        content = (work / target).read_text() if (work / target).exists() else None
        setup.append({"kind": "setup", "index": -1 - len(setup), "args": argv, **result, "written": {target: content}})
    derive_snapshots(work, fixtures)
    digest = fixture_digest(work)
    meta = {"kind": "meta", "seed": args.seed, "count": args.count, "convinspect": where, "python": sys.version,
            "fixtures_sha256": digest, "work": str(work), "env": {k: v for k, v in FIXED_ENV.items() if v}}  # fmt: skip
    print(f"differential: fixtures {digest[:16]}, {len(fixtures.models)} model files; {args.count} cases",
          file=sys.stderr)  # fmt: skip
    tally: Counter[str] = Counter()
    with out.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n")
        for line in setup:
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        for index in range(args.count):
            case = make_case(args.seed, index, fixtures)
            if only is not None and index not in only:
                continue
            for name, text in case.files.items():
                _write(work / name, text)
            result = runner.run(case.args, case.stdin, case.outputs)
            files = {name: printable(text) for name, text in case.files.items()}
            line = {"kind": "case", "index": index, "command": case.command, "tags": case.tags, "args": case.args,
                    "stdin": case.stdin, "files": files, **result}  # fmt: skip
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            tally[str(result["exit_code"])] += 1
            if index % 100 == 99:
                gc.collect()
                elapsed = time.perf_counter() - started
                print(f"differential: {index + 1}/{args.count} cases, {elapsed:.0f} s, exit codes "
                      f"{dict(sorted(tally.items()))}", file=sys.stderr)  # fmt: skip
    stray = loaded_elsewhere(root)
    elapsed = time.perf_counter() - started
    print(f"differential: wrote {out} in {elapsed:.0f} s; exit codes {dict(sorted(tally.items()))}", file=sys.stderr)
    if stray:
        print("differential: convinspect modules from another tree: " + ", ".join(stray), file=sys.stderr)
        return 2
    return 0


# -- comparing -------------------------------------------------------------------------------------------------


def load(path: str) -> tuple[dict[str, Any], dict[tuple[str, int], dict[str, Any]]]:
    meta: dict[str, Any] = {}
    records: dict[tuple[str, int], dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("kind") == "meta":
                meta = item
            else:
                records[(item["kind"], item["index"])] = item
    return meta, records


def _text(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True)
    return text.splitlines(keepends=True) if text else []


def _visible(text: str) -> str:
    """Control characters as escapes, so that a diff cannot drive the terminal."""
    return "".join(ch if ch == "\t" or ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def show_difference(key: tuple[str, int], a: dict[str, Any], b: dict[str, Any], lines: int) -> None:
    print(f"--- {key[0]} {key[1]}: convinspect {shlex.join(a.get('args', []))}")
    if a.get("args") != b.get("args"):
        print(f"    (B ran: convinspect {shlex.join(b.get('args', []))})")
    for name in COMPARED:
        if a.get(name) == b.get(name):
            continue
        if name in ("exit_code", "exception", "leftovers"):
            print(f"    {name}: {a.get(name)!r} -> {b.get(name)!r}")
            continue
        diff = list(difflib.unified_diff(_text(a.get(name)), _text(b.get(name)), f"A {name}", f"B {name}", n=1))
        for line in diff[:lines]:
            print("    " + _visible(line.rstrip("\n")))
        if len(diff) > lines:
            print(f"    ... {len(diff) - lines} more diff lines")


def compare(args: argparse.Namespace) -> int:
    meta_a, a = load(args.a)
    meta_b, b = load(args.b)
    for name in ("seed", "count", "fixtures_sha256", "convinspect"):
        if meta_a.get(name) != meta_b.get(name):
            print(f"note: {name} differs: {meta_a.get(name)} vs {meta_b.get(name)}")
    keys = sorted(a.keys() | b.keys(), key=lambda k: (k[0] != "setup", k[1] if k[0] == "case" else -k[1]))
    same, different, missing = 0, [], []
    by_command: Counter[str] = Counter()
    for key in keys:
        if key not in a or key not in b:
            missing.append(key)
            continue
        if all(a[key].get(name) == b[key].get(name) for name in COMPARED):
            same += 1
        else:
            different.append(key)
            by_command[str(a[key].get("command", "setup"))] += 1
    for key in different[: args.show]:
        show_difference(key, a[key], b[key], args.lines)
    total = same + len(different)
    print(f"{same} of {total} records byte-identical, {len(different)} differ"
          + (f" ({', '.join(f'{c} {n}' for c, n in sorted(by_command.items()))})" if different else "")
          + (f"; {len(missing)} only in one file" if missing else ""))  # fmt: skip
    if different:
        print("differing: " + " ".join(f"{k[0][0]}{k[1]}" for k in different[:200]))
        cases = ",".join(str(k[1]) for k in different if k[0] == "case")[:200]
        print(
            f"rerun them: PYTHONPATH=... {sys.argv[0]} record --seed {meta_a.get('seed')} "
            f"--count {meta_a.get('count')} --only {cases} --out /tmp/rerun.jsonl"
        )
    return 1 if different or missing else 0


def stats(args: argparse.Namespace) -> int:
    meta, records = load(args.file)
    cases = [r for r in records.values() if r["kind"] == "case"]
    print(f"{len(cases)} cases (seed {meta.get('seed')}), convinspect {meta.get('convinspect')}")
    seconds = sum(float(r.get("seconds", 0)) for r in records.values())
    print(f"time in invocations: {seconds:.0f} s")

    def table(title: str, key: Callable[[dict[str, Any]], str]) -> None:
        counts = Counter(key(r) for r in cases)
        print(f"\n{title}:")
        for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {value:40s} {n:5d}  {100 * n / len(cases):5.1f} %")

    table("command", lambda r: r["command"])
    table("command / format", lambda r: f"{r['command']} {r['tags'].get('format', '')}")
    table("command / engine", lambda r: f"{r['command']} {r['tags'].get('engine', '')}")
    table("layer kind (build, solve)", lambda r: r["tags"].get("kind", "-"))
    table("model source", lambda r: r["tags"].get("source", "-") if r["command"] == "model" else "-")
    table("intended invalid", lambda r: "invalid" if r["tags"].get("invalid") else "valid")
    table("invalid how", lambda r: r["tags"].get("invalid") or "-")
    table("exit code", lambda r: str(r["exit_code"]))
    table("command / exit code", lambda r: f"{r['command']} {r['exit_code']}")
    slow = sorted(cases, key=lambda r: -float(r.get("seconds", 0)))[:8]
    print("\nslowest:")
    for r in slow:
        print(f"  {r['seconds']:7.2f} s  convinspect {shlex.join(r['args'])[:110]}")
    crashed = [r for r in cases if r.get("exception") or r.get("leftovers")]
    for r in crashed[:10]:
        print(f"  crash/leftover in {r['index']}: {r.get('exception')} {r.get('leftovers')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="run N random invocations and write one JSON line each")
    rec.add_argument("--count", type=int, default=2000)
    rec.add_argument("--seed", type=int, default=1)
    rec.add_argument("--out", required=True)
    rec.add_argument("--work", default=str(DEFAULT_WORK), help="the fixed folder for fixtures and outputs")
    rec.add_argument("--only", help="comma-separated case indices to run (the rest are generated, not run)")
    cmp = commands.add_parser("compare", help="compare two records; exit 1 when any record differs")
    cmp.add_argument("a")
    cmp.add_argument("b")
    cmp.add_argument("--show", type=int, default=10, help="how many differing records to show")
    cmp.add_argument("--lines", type=int, default=30, help="diff lines per field")
    sta = commands.add_parser("stats", help="the distribution of a record's invocations")
    sta.add_argument("file")
    args = parser.parse_args(argv)
    return {"record": record, "compare": compare, "stats": stats}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
