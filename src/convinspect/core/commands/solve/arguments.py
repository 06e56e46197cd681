"""solve's arguments: the target shape, the bounds, the backend, the channels the target asks for
and the settings given, parsed and checked before the search runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from convinspect.core.commands.solve.results import REFUSING_BACKEND, RUNS_INSTEAD, Bounds, Fixed, SolveResult
from convinspect.core.commands.solve.search import solve
from convinspect.core.layer import arithmetic
from convinspect.core.layer.families import Family
from convinspect.core.layer.kinds import Kind, get_kind
from convinspect.core.layer.spec import INT64_MAX, parse_int, parse_shape, parse_spec
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

MAX_LIMIT = 1000


def parse_target(raw: object, rank: int) -> tuple[int | None, ...]:
    """`--target`: a full shape, any axis `?` (not cared about)."""
    text = str(raw)
    items = [item.strip() for item in (text.split(",") if "," in text else text.lower().split("x"))]
    example = "e.g. ?,25,25,16 (batch first; ? for any axis you do not care about)"
    dims: list[int | None] = []
    for position, item in enumerate(items):
        if item.lower() in ("?", "none", "null"):
            dims.append(None)
            continue
        if not item.isascii() or not item.isdigit():
            raise InvalidInput(f"dimension {position + 1} is {shown(item, 40)}, not a size; {example}", "target")
        value = int(item)
        if value <= 0:
            raise InvalidInput(f"dimension {position + 1} must be positive; got {shown(raw)}", "target")
        dims.append(value)
    if len(dims) != rank:
        raise InvalidInput(f"the layer's output has rank {rank} (like its input); got {len(dims)} dimensions in "
                           f"{shown(raw)}", "target")  # fmt: skip
    return tuple(dims)


def run(
    values: Mapping[str, object],
    target: object,
    *,
    max_kernel: int | str = 7,
    max_stride: int | str = 4,
    max_dilation: int | str = 3,
    limit: int | str = 20,
    backend: str | None = None,
    runs_only: bool = False,
) -> SolveResult:
    """The layer settings that give the `target` shape (`?` for axes not cared about), best first.

    `values` are the layer options of `build` (`layer`, `input` required); `kernel`, `strides`,
    `padding`, `dilation` and `output_padding` given there are fixed, the rest is searched
    within the bounds. Channels come from the target: `filters` for conv kinds, a
    `depth_multiplier` for depthwise ones. `backend` (default tensorflow) is whose runtime ranks
    them: on tensorflow, what its CPU kernels refuse comes after what runs everywhere, marked;
    `runs_only` leaves those out.
    """
    if not isinstance(values, Mapping):
        raise InvalidInput(f"expected a mapping of options such as {{'layer': 'conv2d'}}; got {shown(values)}")
    given = {k: v for k, v in values.items() if v is not None}
    kind = get_kind(given.get("layer", "conv2d"))
    if "input" not in given:
        raise InvalidInput("is required: the shape you have, batch first", "input")
    if target is None:
        raise InvalidInput("is required: the shape you need, batch first, ? for any axis", "target")
    bounds = Bounds(parse_int(max_kernel, "max_kernel"), parse_int(max_stride, "max_stride"),
                    parse_int(max_dilation, "max_dilation"))  # fmt: skip
    count = parse_int(limit, "limit", maximum=MAX_LIMIT)
    runtime = _backend(backend)
    input_shape = parse_shape(given["input"])
    target = parse_target(target, len(input_shape))
    known = math.prod(dim or 1 for dim in target)
    if known > INT64_MAX:
        raise InvalidInput(f"the target holds {known:,} elements, over the int64 limit {INT64_MAX:,}", "target")
    base = {k: v for k, v in given.items() if k not in ("kernel", "strides", "dilation", "padding", "output_padding")}
    base, note = _channels(kind, base, target)
    result = solve(kind, base, input_shape, target, _fixed(kind, base, given), bounds, count, runtime, runs_only)
    return replace(result, channels_note=note) if note else result


SOLVE_BACKENDS = ("tensorflow", *RUNS_INSTEAD)  # the backends whose verdict on every solution is known


def _backend(raw: object) -> str:
    if raw is None:
        return REFUSING_BACKEND
    name = str(raw).strip().lower()
    if name not in SOLVE_BACKENDS:
        raise InvalidInput(f"unknown backend {shown(raw, 40)}; expected one of {', '.join(SOLVE_BACKENDS)}", "backend")
    return name


def _channels(
    kind: Kind, base: Mapping[str, object], target: tuple[int | None, ...]
) -> tuple[dict[str, object], str | None]:
    """`base` with the channels the target asks for (as `filters` or a `depth_multiplier`), and a note
    when the target leaves them open."""
    probe = parse_spec({**base, "kernel": 1, "filters": base.get("filters", 1)} if "filters" in kind.options
                       else {**base, "kernel": 1})  # fmt: skip
    channels = probe.channels
    wanted = target[probe.data_format.channel_axis]
    if wanted is None:
        if "filters" in kind.options and "filters" not in base:
            return {**base, "filters": channels}, f"the target's channels are '?': filters = {channels}, the input's"
        return dict(base), None
    if kind.family is not Family.DEPTHWISE:
        if "filters" in base and str(base["filters"]) != str(wanted):
            raise InvalidInput(f"--filters {base['filters']} contradicts the target's {wanted} channels", "target")
        return {**base, "filters": wanted}, None
    if wanted % channels:
        raise InvalidInput(
            f"a depthwise layer gives input channels × depth_multiplier: {wanted} is not a multiple of the "
            f"input's {channels} channels", "target")  # fmt: skip
    multiplier = parse_int(base.get("depth_multiplier", wanted // channels), "depth_multiplier")
    if multiplier * channels != wanted:
        raise InvalidInput(f"--depth-multiplier {multiplier} gives {multiplier * channels} channels, not "
                           f"{wanted}", "target")  # fmt: skip
    return {**base, "depth_multiplier": base.get("depth_multiplier", wanted // channels)}, None


def _fixed(kind: Kind, base: Mapping[str, object], given: Mapping[str, object]) -> Fixed:
    """The settings the user gave, which the search keeps; what no search can change (groups, sizes past
    int64) is checked now, with build's messages."""
    spec = parse_spec({**base, "kernel": given.get("kernel", 1), "strides": given.get("strides"),
                       "dilation": given.get("dilation"), "padding": given.get("padding"),
                       "output_padding": given.get("output_padding")})  # fmt: skip
    c = spec.config
    if not kind.recipe.transposed:  # a transposed kind's argument rule ties output_padding to the searched strides
        spec.kind.recipe.check_arguments(c)
    spec.kind.recipe.check_input(c, spec.channels, spec.input_shape)
    arithmetic.variable_shapes(spec)
    return Fixed(
        kernel=c.kernel_size if "kernel" in given else None,
        strides=c.strides if "strides" in given else None,
        dilation=c.dilation_rate if "dilation" in given else None,
        padding=c.padding if "padding" in given else None,
        output_padding=c.output_padding if "output_padding" in given else None,
    )
