"""Hypothesis strategies: random conv layer configs across all ten kinds.

Each case is drawn kind first, then either valid by construction (the kernel fits,
groups divide channels and filters, no strided dilation where Keras forbids it,
output_padding < strides, ...) or deliberately built to break exactly one rule: one
Keras rejects (the `InvalidInput.rule` code both engines must give), or the one shape
rule TensorFlow refuses to run although Keras accepts it (`report.runtime.rule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from convinspect.core.layer.families import Family
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.kinds import KINDS, Kind
from convinspect.core.vocab.choices import DataFormat, Padding

# The rules a config of each family can be built to break.
RULES: dict[Family, tuple[str, ...]] = {
    Family.CONV: ("strided_dilation", "groups_filters", "groups_channels", "empty_output", "int64"),
    Family.TRANSPOSE: ("strided_dilation", "output_padding", "empty_output", "transpose_same_even_kernel", "int64"),
    Family.DEPTHWISE: ("empty_output", "int64"),
    Family.SEPARABLE: ("empty_output", "int64"),
}
# Broken, they make the layer invalid: InvalidInput.rule.
INVALID_RULES = ("strided_dilation", "groups_filters", "groups_channels", "output_padding", "empty_output", "int64")
# Broken, they leave the layer valid but keep TensorFlow from running it: report.runtime.rule.
RUNTIME_RULES = ("transpose_same_even_kernel",)
ALL_RULES = INVALID_RULES + RUNTIME_RULES

DTYPES = ("float32", "mixed_float16", "float16", "bfloat16", "mixed_bfloat16", "float64")
ACTIVATIONS = ("linear", "relu", "swish", "hard_swish", "gelu")
HUGE = 2**62  # input elements of an `int64` case: fits, while twice as many outputs do not


@dataclass(frozen=True)
class Sizes:
    """Upper bounds of the drawn numbers."""

    spatial: int = 9
    channels: int = 6
    filters: int = 6
    kernel: int = 4
    stride: int = 3
    dilation: int = 2
    multiplier: int = 3
    batches: tuple[str, ...] = ("1", "2", "?")


# Small enough for eager layers and NumPy references (spatial <= 8, channels and filters <= 4, batch 1-2).
SMALL = Sizes(spatial=8, channels=4, filters=4, multiplier=2, batches=("1", "2"))


@dataclass(frozen=True)
class LayerCase:
    options: dict[str, Any]  # for parse_spec
    broken: str | None  # the InvalidInput rule the config breaks; None: valid by construction
    wont_run: str | None = None  # the runtime rule a valid config breaks (TensorFlow refuses to run it)


def _ints(draw: st.DrawFn, count: int, low: int, high: int) -> list[int]:
    return draw(st.lists(st.integers(low, high), min_size=count, max_size=count))


def _per_axis(draw: st.DrawFn, values: list[int], default: int | None = None) -> object:
    """One value per axis as text, a list or (when all equal) a scalar; omitted when all are the default."""
    styles = ["text", "list"]
    if len(set(values)) == 1:
        styles.insert(0, "scalar")
        if values[0] == default:
            styles.append("omitted")
    style = draw(st.sampled_from(styles))
    if style == "scalar":
        return values[0]
    if style == "list":
        return list(values)
    if style == "omitted":
        return None
    return ",".join(map(str, values))


def _strides_dilation(
    draw: st.DrawFn, kind: Kind, sizes: Sizes, rule: str | None
) -> tuple[list[int], list[int]]:  # fmt: skip
    rank = kind.rank
    if rule == "int64":  # stride 1 keeps the huge axis huge
        return [1] * rank, _ints(draw, rank, 1, sizes.dilation)
    if rule == "strided_dilation":
        strides, dilation = _ints(draw, rank, 1, sizes.stride), _ints(draw, rank, 1, sizes.dilation)
        strides[draw(st.integers(0, rank - 1))] = draw(st.integers(2, sizes.stride))
        dilation[draw(st.integers(0, rank - 1))] = draw(st.integers(2, sizes.dilation))
        return strides, dilation
    if not kind.recipe.forbids_strided_dilation:  # depthwise and separable take both
        return _ints(draw, rank, 1, sizes.stride), _ints(draw, rank, 1, sizes.dilation)
    if draw(st.booleans()):
        return _ints(draw, rank, 1, sizes.stride), [1] * rank
    return [1] * rank, _ints(draw, rank, 1, sizes.dilation)


def _padding(draw: st.DrawFn, kind: Kind, rule: str | None) -> Padding:
    if rule in ("int64", "transpose_same_even_kernel"):
        return Padding.SAME
    if rule == "empty_output":  # forward convs: a valid window longer than the input; transposed: see below
        return Padding.SAME if kind.recipe.transposed else Padding.VALID
    return draw(st.sampled_from(kind.paddings))


def _output_padding(
    draw: st.DrawFn, strides: list[int], kes: list[int], padding: Padding, rule: str | None, axis: int
) -> list[int] | None:  # fmt: skip
    """Transposed convs: None or one value per axis; valid unless the rule asks otherwise."""
    anything = [draw(st.integers(0, s - 1)) for s in strides]  # below the strides, nothing else promised
    if rule in ("transpose_same_even_kernel", "empty_output"):
        return [0 if i == axis else op for i, op in enumerate(anything)]
    if rule == "output_padding":
        return [draw(st.integers(s, s + 1)) if i == axis else op for i, (s, op) in enumerate(zip(strides, anything))]
    if rule in ("int64", "strided_dilation") or not draw(st.booleans()):
        return None
    # `same` with an even effective kernel needs output_padding >= 1 on that axis (so strides >= 2).
    lows = [1 if padding == Padding.SAME and ke % 2 == 0 else 0 for ke in kes]
    if any(low > s - 1 for low, s in zip(lows, strides)):
        return None
    return [draw(st.integers(low, s - 1)) for low, s in zip(lows, strides)]


def _channels(
    draw: st.DrawFn, kind: Kind, sizes: Sizes, rule: str | None, single: bool
) -> tuple[int, int | None, int | None, int | None]:  # fmt: skip
    """(channels, filters, groups, depth_multiplier); None where the kind takes no such option."""
    takes = kind.options
    if single or rule == "int64":
        # int64: one channel in, more out, so the output outgrows the huge input
        more = 1 if single else draw(st.integers(2, max(2, sizes.filters)))
        filters = more if "filters" in takes else None
        multiplier = None
        if "depth_multiplier" in takes:
            multiplier = (
                draw(st.integers(2, max(2, sizes.multiplier))) if kind.family is Family.DEPTHWISE and not single else 1
            )
        return 1, filters, 1 if "groups" in takes else None, multiplier
    if kind.family is Family.CONV:
        if rule in ("groups_filters", "groups_channels"):
            groups = draw(st.sampled_from((2, 3)))
            even = groups * draw(st.integers(1, max(1, sizes.channels // groups)))
            odd = groups * draw(st.integers(0, max(0, sizes.filters // groups - 1))) + draw(st.integers(1, groups - 1))
            return (even, odd, groups, None) if rule == "groups_filters" else (odd, even, groups, None)
        groups = draw(st.sampled_from([g for g in (1, 1, 2, 3) if g <= min(sizes.channels, sizes.filters)]))
        channels = groups * draw(st.integers(1, sizes.channels // groups))
        return channels, groups * draw(st.integers(1, sizes.filters // groups)), groups, None
    channels = draw(st.integers(1, sizes.channels))
    filters = draw(st.integers(1, sizes.filters)) if "filters" in takes else None
    multiplier = draw(st.integers(1, sizes.multiplier)) if "depth_multiplier" in takes else None
    return channels, filters, None, multiplier


def _spatial(
    draw: st.DrawFn, kind: Kind, sizes: Sizes, kes: list[int], padding: Padding, rule: str | None, axis: int
) -> list[int]:  # fmt: skip
    rank = kind.rank
    if rule == "int64":
        others = [draw(st.sampled_from((1, 2, 4))) for _ in range(rank - 1)]
        others.insert(axis, HUGE // math.prod(others))
        return others
    fits = not kind.recipe.transposed and padding == Padding.VALID
    lows = [ke if fits else 1 for ke in kes]
    if rule == "transpose_same_even_kernel":
        lows = [2] * rank  # an axis of 1 with an even kernel and output_padding 0 would be empty instead
    spatial = [draw(st.integers(low, max(low, sizes.spatial))) for low in lows]
    if rule == "empty_output":
        spatial[axis] = 1 if kind.recipe.transposed else draw(st.integers(1, kes[axis] - 1))
    return spatial


@st.composite
def layer_cases(
    draw: st.DrawFn,
    kinds: tuple[Kind, ...] = KINDS,
    sizes: Sizes = Sizes(),
    *,
    broken: bool = True,
    rule: str | None = None,
    extras: bool = True,
    single_channel: bool = False,
) -> LayerCase:
    """A config of one of `kinds`: with `broken`, one in four breaks one of its family's rules
    (the rest are valid by construction); `rule` makes every case break that rule (the kind
    is drawn from those it applies to).

    `extras` draws dtype policies, activations and names too; `single_channel` gives one
    channel in and one out (filters, groups and depth_multiplier 1).
    """
    if rule is not None:
        kind = draw(st.sampled_from([k for k in kinds if rule in RULES[k.family]]))
    else:
        kind = draw(st.sampled_from(kinds))
        if broken:
            rules = RULES[kind.family]
            rule = draw(st.sampled_from((*(None,) * (3 * len(rules)), *rules)))
    rank, transposed = kind.rank, kind.recipe.transposed
    axis = draw(st.integers(0, rank - 1))  # the axis that breaks the rule, for per-axis rules
    strides, dilation = _strides_dilation(draw, kind, sizes, rule)
    padding = _padding(draw, kind, rule)
    kernel = _ints(draw, rank, 1, sizes.kernel)
    if rule == "empty_output" and not transposed:
        kernel[axis] = draw(st.integers(2, sizes.kernel))
    if rule in ("transpose_same_even_kernel", "empty_output") and transposed:
        # an even effective kernel: an even size with dilation 1 (dilation 2 makes every kernel odd)
        kernel[axis], dilation[axis] = draw(st.sampled_from([k for k in (2, 4) if k <= sizes.kernel])), 1
    kes = [effective_kernel(k, d) for k, d in zip(kernel, dilation)]
    channels, filters, groups, multiplier = _channels(draw, kind, sizes, rule, single_channel)
    spatial = _spatial(draw, kind, sizes, kes, padding, rule, axis)
    data_format = draw(st.sampled_from(DataFormat))
    batch = draw(st.sampled_from(("1", "?") if rule == "int64" else sizes.batches))
    last = data_format == DataFormat.CHANNELS_LAST
    dims = [batch, *spatial, channels] if last else [batch, channels, *spatial]
    options: dict[str, Any] = {
        "layer": kind.key,
        "input": ",".join(map(str, dims)),
        "kernel": _per_axis(draw, kernel),
        "strides": _per_axis(draw, strides, 1),
        "dilation": _per_axis(draw, dilation, 1),
        "padding": None if padding == Padding.VALID and draw(st.booleans()) else str(padding),
        "data_format": str(data_format),
        "use_bias": draw(st.booleans()),
        "filters": filters,
        "groups": groups,
        "depth_multiplier": multiplier,
    }
    if transposed:
        output_padding = _output_padding(draw, strides, kes, padding, rule, axis)
        options["output_padding"] = None if output_padding is None else _per_axis(draw, output_padding)
    if extras:
        options["dtype"] = draw(st.sampled_from(DTYPES))
        options["activation"] = draw(st.sampled_from(ACTIVATIONS))
        options["name"] = draw(st.sampled_from((None, "probe", "block_7")))
    options = {key: value for key, value in options.items() if value is not None}
    if rule in RUNTIME_RULES:
        return LayerCase(options, None, rule)
    return LayerCase(options, rule)


def layer_options(kinds: tuple[Kind, ...] = KINDS) -> st.SearchStrategy[dict[str, Any]]:
    """Options for parse_spec: mostly valid, sometimes past one of the edges Keras guards."""
    return layer_cases(kinds).map(lambda case: case.options)


def valid_options(
    kinds: tuple[Kind, ...] = KINDS, sizes: Sizes = SMALL, *, single_channel: bool = False
) -> st.SearchStrategy[dict[str, Any]]:  # fmt: skip
    """Small configs valid by construction, float32 and linear, for the oracles."""
    return layer_cases(kinds, sizes, broken=False, extras=False, single_channel=single_channel).map(
        lambda case: case.options
    )
