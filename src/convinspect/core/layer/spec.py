"""LayerSpec: the validated, normalised description of one conv layer and its input.

Everything a user types (on the command line or in a spec file) passes through
`parse_spec`, which turns text, ints or lists into a frozen `LayerSpec` or raises
`InvalidInput` naming the option, the value received and what is allowed.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from convinspect.core.layer.config import LayerConfig, keras_name
from convinspect.core.layer.kinds import Kind, get_kind
from convinspect.core.vocab.choices import DataFormat, Padding
from convinspect.core.vocab.dtypes import DTYPE_POLICIES
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

INT64_MAX = 2**63 - 1
SEED_MAX = 2**32 - 1  # Keras seeds NumPy's legacy generator, which takes 32 bits

# Keras 3 activations usable as a conv layer's `activation` (a test compares this
# with Keras' own registry). `glu` halves an axis and `threshold` needs arguments,
# so neither can stand alone as a layer activation.
ACTIVATIONS = (
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax",
    "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh", "tanh_shrink",
)  # fmt: skip
UNSUPPORTED_ACTIVATIONS = ("glu", "threshold")
# The names Keras serialises these aliases to.
ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}

OPTION_NAMES = (
    "layer", "filters", "kernel", "strides", "padding", "dilation", "groups",
    "depth_multiplier", "output_padding", "data_format", "activation", "use_bias",
    "dtype", "input", "name",
)  # fmt: skip
UNKNOWN_BATCH = ("?", "none", "null")


@dataclass(frozen=True)
class LayerSpec:
    """One conv layer: its kind, resolved hyperparameters, name and full input shape (batch first)."""

    kind: Kind
    config: LayerConfig
    input_shape: tuple[int | None, ...]
    name: str

    @property
    def variable_dtype(self) -> str:
        return DTYPE_POLICIES[self.config.dtype][0]

    @property
    def compute_dtype(self) -> str:
        return DTYPE_POLICIES[self.config.dtype][1]

    @property
    def data_format(self) -> DataFormat:
        return self.config.data_format

    @property
    def channels(self) -> int:
        """Input channel count (always known: only the batch may be unknown)."""
        return self.data_format.channels(self.input_shape)

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.data_format.spatial(self.input_shape)

    @property
    def batch(self) -> int | None:
        return self.input_shape[0]

    def config_dict(self) -> dict[str, Any]:
        """The resolved hyperparameters, in Keras' argument names, for this kind only."""
        return self.config.to_dict(self.kind.options)

    def keras_kwargs(self) -> dict[str, Any]:
        """Constructor arguments for the Keras class."""
        return {**self.config.keras_kwargs(self.kind.options), "name": self.name}


# -- parsing ---------------------------------------------------------------------------


_DIGITS = re.compile(r"-?[0-9]+")  # ASCII digits only: not '３２', '٣', '+3', '1_000' or '0x10'


def whole_number(raw: object) -> int | None:
    """An integer from an int (NumPy's too) or a string of ASCII digits; None if it is neither."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        text = raw.strip(" \t")
        if text.isascii() and text.isdigit() and len(text) <= 40:  # the common case, without the regex
            return int(text)
        if not _DIGITS.fullmatch(text):
            return None
        if len(text.lstrip("-")) > 40:  # far past int64 (and past Python's 4,300-digit conversion limit)
            return INT64_MAX * 10 if not text.startswith("-") else -INT64_MAX * 10
        return int(text)
    try:
        return operator.index(raw)  # type: ignore[arg-type]
    except TypeError:
        return None


def _int(raw: object, option: str, *, minimum: int = 1, maximum: int = INT64_MAX, whole: object = None) -> int:
    """One integer in [minimum, maximum]; `whole` is the whole value for messages."""
    whole = raw if whole is None else whole
    value = whole_number(raw)
    if value is None:
        if not isinstance(raw, str):
            raise InvalidInput(f"expected an integer; got {shown(whole)}", option)
        got = "" if raw is whole else f"; got {shown(whole)}"
        raise InvalidInput(f"{shown(raw, 40)} is not an integer (decimal digits 0-9 only){got}", option)
    if value < minimum:
        need = "positive" if minimum == 1 else f">= {minimum}"
        raise InvalidInput(f"values must be {need}; got {shown(whole)}", option)
    if value > maximum:
        limit = f"the int64 limit {INT64_MAX:,}" if maximum == INT64_MAX else f"the limit {maximum:,}"
        raise InvalidInput(f"{shown(raw)} is over {limit}", option)
    return value


def _items(raw: object) -> list[object]:
    if isinstance(raw, (list, tuple)):
        return list(raw)
    if whole_number(raw) is not None and not isinstance(raw, str):
        return [raw]
    text = str(raw).strip()
    parts: list[object] = []
    if text:
        # One separator kind per value, so that "2,32,x,1" is a bad dimension, not three good ones.
        separator = next((sep for sep in (",", "×", "x", "X") if sep in text), None)
        parts.extend(item.strip() for item in text.split(separator))
    return parts


def parse_int(raw: object, option: str, *, minimum: int = 1, maximum: int = INT64_MAX) -> int:
    return _int(raw, option, minimum=minimum, maximum=maximum)


def parse_seed(raw: object) -> int | None:
    """`--seed`: None (no seed) or 0 .. 2**32 - 1."""
    return None if raw is None else parse_int(raw, "seed", minimum=0, maximum=SEED_MAX)


def parse_tuple(raw: object, option: str, kind: Kind, *, minimum: int = 1) -> tuple[int, ...]:
    """`5` or `5,3` (or a list): one value for every spatial axis, or one per axis."""
    items = _items(raw)
    if len(items) not in (1, kind.rank):
        axes = ", ".join(kind.spatial_axes)
        counts = "1 integer" if kind.rank == 1 else f"1 or {kind.rank} integers"
        raise InvalidInput(f"{kind.key} takes {counts} (spatial axes: {axes}); got {shown(raw)}", option)
    values = tuple(_int(item, option, minimum=minimum, whole=raw) for item in items)
    return values * kind.rank if len(values) == 1 else values


def parse_shape(raw: object, option: str = "input") -> tuple[int | None, ...]:
    """A full shape with batch first: `2,32,32,1`, `2x32x32x1`, `?,32,32,1` or a list."""
    items = _items(raw)
    example = "e.g. 2,32,32,1 (batch first; '?' for an unknown batch)"
    if not items:
        raise InvalidInput(f"expected a shape, {example}; got {shown(raw)}", option)
    dims: list[int | None] = []
    for position, item in enumerate(items):
        unknown = item is None or (isinstance(item, str) and item.strip().lower() in UNKNOWN_BATCH)
        if unknown:
            if position != 0:
                raise InvalidInput(f"only the batch (first) dimension may be unknown; got {shown(raw)}", option)
            dims.append(None)
            continue
        value = whole_number(item)
        if value is None:
            raise InvalidInput(
                f"dimension {position + 1} is {shown(item, 40)}, not an integer; {example}; got {shown(raw)}",
                option,
            )
        if value <= 0:
            raise InvalidInput(f"dimension {position + 1} must be positive; got {shown(raw)}", option)
        if value > INT64_MAX:
            raise InvalidInput(
                f"dimension {position + 1} is over the int64 limit {INT64_MAX:,}; got {shown(raw)}", option
            )
        dims.append(value)
    known = math.prod(d for d in dims if d is not None)
    if known > INT64_MAX:
        raise InvalidInput(f"the shape holds {known:,} elements, over the int64 limit {INT64_MAX:,}", option)
    return tuple(dims)


MAX_COMBINATIONS = 100_000
_RANGE = re.compile(r"([0-9]+)\s*\.\.\s*([0-9]+)(?:\s*:\s*([0-9]+))?")


def parse_shape_ranges(raw: object, option: str = "input") -> tuple[tuple[int | None, ...], ...]:
    """A shape whose dimensions may be ranges: `1,220..232,220..232:4,3` -> the values of each dimension.

    `a..b` includes both ends; `a..b:step` steps from a (b is included when it falls on a step).
    The number of combinations is limited to MAX_COMBINATIONS.
    """
    items = _items(raw)
    ranges: list[range | None] = []  # None: a plain dimension
    plain: list[object] = []
    for position, item in enumerate(items):
        text = str(item).strip()
        if ".." not in text:
            ranges.append(None)
            plain.append(item)
            continue
        match = _RANGE.fullmatch(text)
        if match is None:
            raise InvalidInput(
                f"dimension {position + 1} is {shown(text, 40)}; a range is a..b or a..b:step with integers, "
                "e.g. 220..232:4",
                option,
            )
        if any(len(group) > 19 or int(group) > INT64_MAX for group in match.groups() if group):
            raise InvalidInput(
                f"dimension {position + 1} is {shown(text, 40)}; range bounds must be under the int64 limit "
                f"{INT64_MAX:,}",
                option,
            )
        start, stop, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
        if start < 1 or start > stop or step < 1:
            raise InvalidInput(
                f"dimension {position + 1} is {shown(text, 40)}; a range needs 1 <= a <= b and a step >= 1", option
            )
        values = range(start, stop + 1, step)  # lazy: counted before anything is listed
        ranges.append(values)
        plain.append(values[-1])  # the largest shape must be valid too
    count = math.prod(1 if r is None else len(r) for r in ranges)
    if count > MAX_COMBINATIONS:
        sizes = " × ".join(f"{1 if r is None else len(r):,}" for r in ranges)
        raise InvalidInput(
            f"{sizes} = {count:,} combinations, over the limit of {MAX_COMBINATIONS:,}; "
            "narrow a range or give it a step (a..b:step)",
            option,
        )
    try:  # every fixed dimension, and the element count of the largest shape
        largest = parse_shape(plain, option)
    except InvalidInput as err:
        raise InvalidInput(err.problem.replace(shown(plain), shown(raw)), option) from None
    return tuple((d,) if r is None else tuple(r) for r, d in zip(ranges, largest))


_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20,
    "g": 2**30, "gib": 2**30, "t": 2**40, "tib": 2**40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}  # fmt: skip


def parse_size(raw: object, option: str = "budget") -> int:
    """A byte count: `268435456`, `256MiB`, `1.5GiB`, `512M` (binary) or `500MB` (decimal), up to int64."""
    count = None if isinstance(raw, str) else whole_number(raw)
    if count is not None:  # a byte count already (the API's default): no text to read
        if not 0 <= count <= INT64_MAX:
            raise InvalidInput(f"a byte count is between 0 and the int64 limit; got {shown(raw)}", option)
        return count
    match = re.fullmatch(r"\s*([0-9]+)(\.[0-9]+)?\s*([a-zA-Z]*)\s*", str(raw))
    unit = match.group(3).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise InvalidInput(f"expected a size such as 256MiB, 1GiB or a byte count; got {shown(raw)}", option)
    if len(match.group(1)) > 20 or len(match.group(2) or "") > 20:  # past int64, or sub-byte noise
        raise InvalidInput(f"{shown(raw)} is over the int64 limit of {INT64_MAX:,} bytes", option)
    size = Fraction(match.group(1) + (match.group(2) or "")) * _SIZE_UNITS[unit]
    if size.denominator != 1 and _SIZE_UNITS[unit] == 1:
        raise InvalidInput(f"a byte count is a whole number; got {shown(raw)}", option)
    if size > INT64_MAX:
        raise InvalidInput(f"{shown(raw)} is over the int64 limit of {INT64_MAX:,} bytes", option)
    return math.floor(size)


def _bool(raw: object, option: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise InvalidInput(f"expected true or false; got {shown(raw)}", option)


def parse_activation(raw: object) -> str:
    """An activation name, as Keras serialises it (`swish` -> `silu`); `none` means linear."""
    if isinstance(raw, str) and not raw.strip():
        raise InvalidInput("expected an activation name such as relu (or none); got ''", "activation")
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == "none"):
        return "linear"
    value = str(raw).strip().lower()
    if value in UNSUPPORTED_ACTIVATIONS:
        raise InvalidInput(
            f"{shown(value)} cannot be a conv layer's activation here (glu halves an axis, threshold needs arguments)",
            "activation",
        )
    if value not in ACTIVATIONS:
        raise InvalidInput(
            f"unknown activation {shown(raw)}; expected one of {', '.join(ACTIVATIONS)}",
            "activation",
        )
    return ACTIVATION_ALIASES.get(value, value)


def parse_dtype(raw: object) -> str:
    value = str(raw).strip().lower()
    if value not in DTYPE_POLICIES:
        raise InvalidInput(f"unknown value {shown(raw)}; expected one of {', '.join(DTYPE_POLICIES)}", "dtype")
    return value


# How each hyperparameter option is read; the kind's rank decides the tuple lengths.
_PARSERS: dict[str, Callable[[object, Kind], Any]] = {
    "filters": lambda raw, kind: parse_int(raw, "filters"),
    "kernel": lambda raw, kind: parse_tuple(raw, "kernel", kind),
    "strides": lambda raw, kind: parse_tuple(raw, "strides", kind),
    "padding": lambda raw, kind: _padding(raw, kind),
    "dilation": lambda raw, kind: parse_tuple(raw, "dilation", kind),
    "groups": lambda raw, kind: parse_int(raw, "groups"),
    "depth_multiplier": lambda raw, kind: parse_int(raw, "depth_multiplier"),
    "output_padding": lambda raw, kind: parse_tuple(raw, "output_padding", kind, minimum=0),
    "data_format": lambda raw, kind: DataFormat.parse(raw, "data_format"),
    "activation": lambda raw, kind: parse_activation(raw),
    "use_bias": lambda raw, kind: _bool(raw, "use_bias"),
    "dtype": lambda raw, kind: parse_dtype(raw),
}
_ORDERED = [option for option in OPTION_NAMES if option in _PARSERS]


def _padding(raw: object, kind: Kind) -> Padding:
    padding = Padding.parse(raw, "padding")
    if padding not in kind.paddings:
        raise InvalidInput(
            f"Keras allows causal padding on conv1d only; {kind.key} takes " + " or ".join(kind.paddings),
            "padding",
        )
    return padding


def parse_spec(values: Mapping[str, object]) -> LayerSpec:
    """Validate raw option values (None = not given) into a LayerSpec.

    Checks syntax, ranges and which options apply to the layer kind; the rules
    that tie options to the input (groups, output size, ...) are Keras' and are
    judged by the engines.
    """
    given = {k: v for k, v in values.items() if v is not None}
    unknown = sorted(set(given) - set(OPTION_NAMES))
    if unknown:
        raise InvalidInput(f"unknown option; expected one of {', '.join(OPTION_NAMES)}", unknown[0])
    kind = get_kind(given.get("layer", "conv2d"))
    takes = kind.options | {"layer", "input", "name"}
    for option in OPTION_NAMES:
        if option in given and option not in takes:
            allowed = ", ".join("--" + o.replace("_", "-") for o in sorted(kind.options))
            raise InvalidInput(f"does not apply to {kind.key} (it takes {allowed})", option)
    for option in (*kind.required, "input"):
        if option not in given:
            raise InvalidInput(f"is required for {kind.key}", option)

    input_shape = parse_shape(given["input"])
    data_format = DataFormat.parse(given.get("data_format", "channels_last"), "data_format")
    if len(input_shape) != kind.rank + 2:
        layout = kind.input_layout(data_format)
        raise InvalidInput(
            f"{kind.key} takes a rank-{kind.rank + 2} input {layout}; "
            f"got {len(input_shape)} dimensions in {shown(given['input'])}",
            "input",
        )
    defaults, takes_options = kind.recipe.defaults, kind.options
    resolved: dict[str, Any] = {}
    for option in _ORDERED:
        if option in takes_options:
            raw = given.get(option, defaults.get(option))
            resolved[keras_name(option)] = None if raw is None else _PARSERS[option](raw, kind)
    name = str(given.get("name", kind.default_name))
    if not name.strip():
        raise InvalidInput(f"a layer name must not be empty or blank; got {shown(name)}", "name")
    if "/" in name:  # Keras builds variable paths as name/kernel
        raise InvalidInput(f"a layer name must contain no '/'; got {shown(name)}", "name")
    if any("\ud800" <= char <= "\udfff" for char in name):  # bytes that were not UTF-8, in a file or argv
        raise InvalidInput(f"a layer name must be valid Unicode text; got {shown(name)}", "name")
    return LayerSpec(kind=kind, config=LayerConfig(**resolved), input_shape=input_shape, name=name)


def flags(spec: LayerSpec, every: bool = False) -> list[str]:
    """The `convinspect build` options that rebuild `spec`: those off their default, or `every` one."""
    c = spec.config

    def listed(values: Sequence[int | None]) -> str:
        return ",".join("?" if v is None else str(v) for v in values)

    def short(values: Sequence[int]) -> str:  # one value for every axis, when they are equal
        return listed([values[0]] if len(set(values)) == 1 else values)

    out = ["--layer", spec.kind.key]
    if c.filters is not None:
        out += ["--filters", str(c.filters)]
    out += ["--kernel", short(c.kernel_size)]
    for option, values in (("--strides", c.strides), ("--dilation", c.dilation_rate)):
        if every or set(values) != {1}:
            out += [option, short(values)]
    if every or c.padding != Padding.VALID:
        out += ["--padding", str(c.padding)]
    if c.output_padding is not None:
        out += ["--output-padding", listed(c.output_padding)]
    for option, value in (("--groups", c.groups), ("--depth-multiplier", c.depth_multiplier)):
        if value is not None and (every or value != 1):
            out += [option, str(value)]
    if every or c.data_format != DataFormat.CHANNELS_LAST:
        out += ["--data-format", str(c.data_format)]
    if every or c.activation != "linear":
        out += ["--activation", c.activation]
    if not c.use_bias:
        out.append("--no-bias")
    if every or c.dtype != "float32":
        out += ["--dtype", c.dtype]
    if every or spec.name != spec.kind.default_name:
        out += ["--name", spec.name]
    return [*out, "--input", listed(spec.input_shape)]
