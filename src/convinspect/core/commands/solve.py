"""convinspect solve: the layer settings that turn an input shape into a target shape.

Each spatial axis is searched on its own (its output length depends on its own kernel,
stride, dilation and output padding, and on the layer's one padding), then the axes are
combined, best first, and every combination is judged by the same rules as `build`
(core/layer/arithmetic.py): strides with dilation, output_padding below strides, groups, and the
even-kernel transposed `same` case that TensorFlow refuses.

Ranking, the way a person chooses (RANKING, the one wording of it): a kernel that covers its
stride beats one that skips input cells (a 1×1 kernel with stride 2 skips three in four), and
`same` comes before `valid`, then causal. Settings Keras accepts but TensorFlow's CPU kernels
refuse (the even-kernel transposed `same` case) are solutions too, marked, and on the tensorflow
backend they come after all that run everywhere.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from convinspect.core.layer import arithmetic, story, xla
from convinspect.core.layer.families import Family, too_short_to_map_back
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.kinds import Kind, get_kind
from convinspect.core.layer.runtime import KernelSet, Rule
from convinspect.core.layer.spec import INT64_MAX, LayerSpec, flags, parse_int, parse_shape, parse_spec
from convinspect.core.vocab.choices import DataFormat, Padding
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

SOLVE_SCHEMA = "convinspect.solve/1"
MAX_AXIS_SEARCH = 10_000  # settings tried per axis: kernel × dilation × (strides, each with its output paddings)
MAX_LIMIT = 1000
# Per axis, the best candidates combined: a 3D search stays within 30³ combinations however many
# settings reach an axis's target (a size-1 axis with `same` padding is reached by every setting).
AXIS_CANDIDATES = {1: 10_000, 2: 150, 3: 30}
_PADDING_ORDER = {Padding.SAME: 0, Padding.VALID: 1, Padding.CAUSAL: 2}


@dataclass(frozen=True)
class Bounds:
    kernel: int = 7
    stride: int = 4
    dilation: int = 3


@dataclass(frozen=True)
class Fixed:
    """The settings given on the command line; None: searched."""

    kernel: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    dilation: tuple[int, ...] | None = None
    padding: Padding | None = None
    output_padding: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Axis:
    """One axis's settings and the length they give."""

    kernel: int
    stride: int
    dilation: int
    output_padding: int | None
    length: int

    @property
    def score(self) -> tuple[int, ...]:
        return (self.output_padding is not None, self.dilation > 1, self.kernel, self.stride,
                self.output_padding or 0, self.dilation)  # fmt: skip


RANKING = (
    "no output_padding before output_padding, no dilation before dilation, kernels that cover their "
    "stride, smaller kernels, same before valid, the same settings on every axis, smaller strides"
)

# Whose runtime can refuse a setting Keras accepts: TensorFlow's CPU kernels (both sets) refuse the
# even-kernel transposed `same` case; Keras' JAX and NumPy backends run it (tests/test_solve.py runs them),
# except where XLA's CPU compiler aborts on the layer (core/layer/xla.py).
REFUSING_BACKEND = "tensorflow"
RUNS_INSTEAD = ("jax", "numpy")


@dataclass(frozen=True)
class Solution:
    spec: LayerSpec
    output_shape: tuple[int | None, ...]
    encoder: LayerSpec | None = None  # transposed kinds: the forward conv that maps the target back
    refused: Rule | None = None  # the rule of TensorFlow's CPU kernels that refuses it (Keras accepts it)
    aborts: bool = False  # XLA's CPU compiler (the JAX backend) aborts the process on it

    @property
    def runs_everywhere(self) -> bool:
        return self.refused is None and not self.aborts

    @property
    def runs_on(self) -> tuple[str, ...]:
        """The backends that run it where TensorFlow's CPU kernels refuse it."""
        return tuple(b for b in RUNS_INSTEAD if not (b == "jax" and self.aborts))

    @property
    def keras(self) -> str:
        """The constructor to paste: `keras.layers.Conv2DTranspose(16, 3, strides=2)`."""
        return keras_call(self.spec)

    @property
    def command(self) -> str:
        return command(self.spec)

    def fails_on(self, backend: str) -> bool:
        return self.refused is not None if backend == REFUSING_BACKEND else backend == "jax" and self.aborts

    def to_dict(self) -> dict[str, Any]:
        c = self.spec.config
        out: dict[str, Any] = {
            "kernel_size": list(c.kernel_size), "strides": list(c.strides), "padding": str(c.padding),
            "dilation_rate": list(c.dilation_rate),
        }  # fmt: skip
        if "output_padding" in self.spec.kind.options:
            out["output_padding"] = None if c.output_padding is None else list(c.output_padding)
        if c.filters is not None:
            out["filters"] = c.filters
        if c.depth_multiplier is not None:
            out["depth_multiplier"] = c.depth_multiplier
        if c.groups is not None and c.groups != 1:
            out["groups"] = c.groups
        out["output_shape"] = list(self.output_shape)
        out["runs_everywhere"] = self.runs_everywhere
        if self.refused is not None:
            out["refused"] = {"by": "tensorflow_cpu", "rule": str(self.refused), "runs_on": list(self.runs_on)}
        if self.aborts:
            out["crashes"] = {"by": "xla_cpu", "backend": "jax", "signal": "SIGABRT"}
        out["keras"] = self.keras
        out["command"] = self.command
        if self.encoder is not None:
            out["encoder"] = {"keras": keras_call(self.encoder), "command": command(self.encoder)}
        return out


@dataclass(frozen=True)
class Nearest:
    axis: str
    target: int
    below: int | None
    above: int | None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "target": self.target, "below": self.below, "above": self.above, "hint": self.hint}


@dataclass(frozen=True)
class SolveResult:
    kind: Kind
    input_shape: tuple[int | None, ...]
    target: tuple[int | None, ...]
    bounds: Bounds
    limit: int
    solutions: tuple[Solution, ...]
    nearest: tuple[Nearest, ...] = ()
    channels_note: str | None = None
    truncated: bool = False  # some axis had more candidates than were combined (AXIS_CANDIDATES)
    backend: str = REFUSING_BACKEND  # whose runtime ranks the solutions
    runs_only: bool = False  # settings that runtime refuses were left out

    @property
    def exit_code(self) -> int:
        return 0 if self.solutions else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SOLVE_SCHEMA,
            "layer": self.kind.class_name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.target),
            "bounds": {
                "max_kernel": self.bounds.kernel,
                "max_stride": self.bounds.stride,
                "max_dilation": self.bounds.dilation,
                "limit": self.limit,
            },
            "backend": self.backend,
            "runs_only": self.runs_only,
            "solutions": [s.to_dict() for s in self.solutions],
            "truncated": self.truncated,
        }
        if not self.solutions:
            out["nearest"] = [n.to_dict() for n in self.nearest]
        if self.channels_note:
            out["notes"] = [self.channels_note]
        return out


# -- text a user pastes --------------------------------------------------------------------


def _scalar(values: Sequence[int]) -> Any:
    return values[0] if len(set(values)) == 1 else tuple(values)


def keras_call(spec: LayerSpec) -> str:
    """`keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", output_padding=1)`."""
    call = story.constructor(spec)
    kwargs = dict(call.kwargs)
    args = []
    if "filters" in kwargs:
        args.append(str(kwargs.pop("filters")))
    args.append(str(_scalar(kwargs.pop("kernel_size"))))
    parts = []
    for key, value in kwargs.items():
        if isinstance(value, list):
            value = _scalar(value)
        parts.append(f"{key}={json.dumps(value) if isinstance(value, str) else repr(value)}")
    return f"keras.layers.{call.class_name}(" + ", ".join(args + parts) + ")"


def command(spec: LayerSpec) -> str:
    """The `convinspect build` command for the same layer."""
    return " ".join(["convinspect build", *(shlex.quote(flag) for flag in flags(spec))])


# -- the search ----------------------------------------------------------------------------


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


def _axis_choices(
    n: int, target: int | None, recipe: Any, padding: Padding, fixed: Fixed, index: int, bounds: Bounds,
    transposed: bool, refused: bool = True,
) -> list[Axis]:  # fmt: skip
    """One axis's settings that reach `target` (any length: None); `refused` keeps those TensorFlow's
    CPU kernels refuse (Keras accepts them)."""
    kernels = [fixed.kernel[index]] if fixed.kernel else range(1, bounds.kernel + 1)
    strides = [fixed.strides[index]] if fixed.strides else range(1, bounds.stride + 1)
    dilations = [fixed.dilation[index]] if fixed.dilation else range(1, bounds.dilation + 1)
    found = []
    for k, s, d in itertools.product(kernels, strides, dilations):
        if fixed.output_padding is not None:
            pads: Sequence[int | None] = [fixed.output_padding[index]]
        else:
            pads = [None, *range(s)] if transposed else [None]
        for op in pads:
            if (op is not None and op >= s) or (
                not refused and transposed and too_short_to_map_back(padding, k, d, op)
            ):
                continue
            length = recipe.output_length(n, k, s, d, padding, op)
            if length > 0 and (target is None or length == target):
                found.append(Axis(k, s, d, op, length))
    found.sort(key=lambda a: a.score)
    return found


def _combination_score(axes: Sequence[Axis], padding: Padding) -> tuple[int, ...]:
    uniform = len({(a.kernel, a.stride, a.dilation, a.output_padding) for a in axes}) == 1
    # A kernel shorter than its stride skips input cells (or, transposed, leaves output cells with only the bias).
    gaps = any(effective_kernel(a.kernel, a.dilation) < a.stride for a in axes)
    return (
        any(a.output_padding is not None for a in axes), any(a.dilation > 1 for a in axes), gaps,
        max(a.kernel for a in axes), sum(a.kernel for a in axes), _PADDING_ORDER[padding], not uniform,
        max(a.stride for a in axes), sum(a.stride for a in axes), sum(a.output_padding or 0 for a in axes),
        sum(a.dilation for a in axes),
    )  # fmt: skip


def _combinations(per_axis: Sequence[Sequence[Axis]], padding: Padding, forbid_strided_dilation: bool,
                  ) -> Iterator[tuple[tuple[int, ...], Padding, tuple[Axis, ...]]]:  # fmt: skip
    for axes in itertools.product(*per_axis):
        ops = {a.output_padding is None for a in axes}
        if len(ops) > 1:  # output_padding is set on every axis or on none
            continue
        if forbid_strided_dilation and max(a.stride for a in axes) > 1 and max(a.dilation for a in axes) > 1:
            continue
        yield _combination_score(axes, padding), padding, axes


Candidate = tuple[tuple[int, ...], int, Padding, tuple[Axis, ...]]  # (score, order, padding, axes)


def solve(
    kind: Kind, base: Mapping[str, object], input_shape: tuple[int | None, ...], target: tuple[int | None, ...],
    fixed: Fixed, bounds: Bounds, limit: int, backend: str = REFUSING_BACKEND, runs_only: bool = False,
) -> SolveResult:  # fmt: skip
    """Every layer configuration within the bounds that Keras accepts and that gives `target`, best first
    (at most `limit`). On `backend` tensorflow, what its CPU kernels refuse ranks after what runs
    everywhere; `runs_only` leaves out what `backend` refuses."""
    dropped = runs_only and backend == REFUSING_BACKEND  # the settings that are never searched
    _check_bounds(kind, bounds)
    probe = parse_spec({**base, "kernel": 1})  # every fixed option checked once, as build checks it
    data_format = probe.data_format
    if target[0] is not None and target[0] != input_shape[0]:  # an unknown batch stays unknown
        batch = "?" if input_shape[0] is None else input_shape[0]
        raise InvalidInput(f"a conv layer keeps the batch: the input's is {batch}, the target's {target[0]} "
                           "(give ? as the target's batch for any)", "target")  # fmt: skip
    spatial_in = probe.spatial
    spatial_target = target[1:-1] if data_format is DataFormat.CHANNELS_LAST else target[2:]
    paddings = [fixed.padding] if fixed.padding is not None else sorted(kind.paddings, key=lambda p: _PADDING_ORDER[p])
    per_padding = {
        padding: [_axis_choices(n, t, kind.recipe, padding, fixed, i, bounds, kind.recipe.transposed, not dropped)
                  for i, (n, t) in enumerate(zip(spatial_in, spatial_target))]
        for padding in paddings
    }  # fmt: skip
    heap, truncated = _candidates(kind, per_padding)
    solutions = _best(heap, kind, base, target, limit, backend, runs_only)
    nearest = () if solutions else _nearest(kind, spatial_in, spatial_target, kind.recipe, per_padding, fixed, bounds,
                                            not dropped)  # fmt: skip
    note = None
    if target[data_format.channel_axis] is None and kind.family is Family.DEPTHWISE and "depth_multiplier" not in base:
        note = "the target's channels are '?': depth_multiplier = 1"
    return SolveResult(kind, input_shape, target, bounds, limit, tuple(solutions), nearest, note, truncated,
                       backend, runs_only)  # fmt: skip


def _check_bounds(kind: Kind, bounds: Bounds) -> None:
    for name, value in (("max_kernel", bounds.kernel), ("max_stride", bounds.stride),
                        ("max_dilation", bounds.dilation)):  # fmt: skip
        if value < 1:
            raise InvalidInput(f"must be at least 1; got {value}", name)
    strides = bounds.stride + (bounds.stride * (bounds.stride + 1) // 2 if kind.recipe.transposed else 0)
    space = bounds.kernel * strides * bounds.dilation
    if space > MAX_AXIS_SEARCH:
        raise InvalidInput(
            f"the bounds give {space:,} settings per axis (kernel × stride × dilation, with each stride's "
            f"output paddings for transposed kinds), over the limit of "
            f"{MAX_AXIS_SEARCH:,}; lower --max-kernel, --max-stride or --max-dilation",
            "max_kernel",
        )


def _candidates(kind: Kind, per_padding: Mapping[Padding, list[list[Axis]]]) -> tuple[list[Candidate], bool]:
    """Every combination of the axes' choices, as a heap by score; and whether the per-axis cap cut some."""
    heap: list[Candidate] = []
    counter, truncated, cap = 0, False, AXIS_CANDIDATES[kind.rank]
    for padding, per_axis in per_padding.items():
        if any(not axis for axis in per_axis):
            continue
        if kind.recipe.transposed:  # output_padding is set on every axis or on none: two searches, each capped
            modes = [[[a for a in axis if a.output_padding is None] for axis in per_axis],
                     [[a for a in axis if a.output_padding is not None] for axis in per_axis]]  # fmt: skip
        else:
            modes = [per_axis]
        combined = []
        for mode in modes:
            truncated = truncated or any(len(axis) > cap for axis in mode)
            combined.append([axis[:cap] for axis in mode])
        for score, pad, axes in itertools.chain.from_iterable(
            _combinations(mode, padding, kind.recipe.forbids_strided_dilation) for mode in combined
        ):
            counter += 1
            heapq.heappush(heap, (score, counter, pad, axes))
    return heap, truncated


def _best(
    heap: list[Candidate],
    kind: Kind,
    base: Mapping[str, object],
    target: tuple[int | None, ...],
    limit: int,
    backend: str,
    runs_only: bool,
) -> list[Solution]:
    """The best `limit` candidates Keras builds that give the target; those `backend` cannot run after
    all that it runs, or (with `runs_only`) left out."""
    solutions: list[Solution] = []
    refused: list[Solution] = []
    while heap and len(solutions) < limit:
        _, _, padding, axes = heapq.heappop(heap)
        spec = _spec(base, kind, axes, padding)
        if spec is None:
            continue
        try:
            shape = arithmetic.output_shape(spec)
        except InvalidInput:
            continue
        if any(t is not None and t != s for t, s in zip(target, shape)):
            continue
        # the one rule of both kernel sets (oneDNN's rules are the plain kernels' shared ones)
        rule = kind.recipe.cpu_rule(spec.config, kind.rank, KernelSet.ONEDNN)
        rule = rule if rule is Rule.TRANSPOSE_SAME_EVEN_KERNEL else None
        encoder = _encoder(spec, shape) if kind.recipe.transposed else None
        found = Solution(spec, shape, encoder, rule, kind.recipe.transposed and xla.aborts(spec))
        if found.fails_on(backend):
            if len(refused) < limit and not runs_only:
                refused.append(found)
            continue
        solutions.append(found)
    return (solutions + refused)[:limit]


def _spec(base: Mapping[str, object], kind: Kind, axes: Sequence[Axis], padding: Padding) -> LayerSpec | None:
    values = dict(base)
    values["kernel"] = [a.kernel for a in axes]
    values["strides"] = [a.stride for a in axes]
    values["dilation"] = [a.dilation for a in axes]
    values["padding"] = str(padding)
    if "output_padding" in kind.options:
        ops = [a.output_padding for a in axes]
        values["output_padding"] = None if ops[0] is None else ops
    try:
        return parse_spec(values)
    except InvalidInput:
        return None


def _encoder(spec: LayerSpec, shape: tuple[int | None, ...]) -> LayerSpec | None:
    """The forward conv with the same kernel, strides, padding and dilation that maps `shape` back to
    the transposed layer's input, when there is one (the encoder half of an autoencoder)."""
    c = spec.config
    rank = spec.kind.rank
    forward = {1: "conv1d", 2: "conv2d", 3: "conv3d"}[rank]
    values = {
        "layer": forward, "filters": spec.channels, "kernel": list(c.kernel_size), "strides": list(c.strides),
        "dilation": list(c.dilation_rate), "padding": str(c.padding), "data_format": str(c.data_format),
        "input": list(shape),
    }  # fmt: skip
    try:
        encoder = parse_spec(values)
        back = arithmetic.output_shape(encoder)
    except InvalidInput:
        return None
    return encoder if back == spec.input_shape or back[1:] == spec.input_shape[1:] else None


def _nearest(
    kind: Kind, spatial_in: Sequence[int], spatial_target: Sequence[int | None], recipe: Any,
    per_padding: Mapping[Padding, Sequence[Sequence[Axis]]], fixed: Fixed, bounds: Bounds, refused: bool,
) -> tuple[Nearest, ...]:  # fmt: skip
    """Per axis: the closest lengths the bounds reach, and what the target would need."""
    found = []
    names = kind.spatial_axes
    for index, (n, t) in enumerate(zip(spatial_in, spatial_target)):
        if t is None:
            continue
        reachable: set[int] = set()
        for padding in per_padding:
            reachable |= {a.length for a in _axis_choices(n, None, recipe, padding, fixed, index, bounds,
                                                          recipe.transposed, refused)}  # fmt: skip
        if t in reachable and all(per_padding[p][index] for p in per_padding):
            continue
        below = max((length for length in reachable if length < t), default=None)
        above = min((length for length in reachable if length > t), default=None)
        hint = _hint(n, t, recipe, per_padding, fixed, index, bounds, refused)
        if hint is None and not recipe.transposed and t > n:
            hint = f"a forward conv never makes an axis longer ({n} → {t}); a transposed conv can"
        found.append(Nearest(names[index], t, below, above, hint))
    if not found:  # every axis reaches its target, but no combination passes Keras' rules together
        why = ("each axis reaches its target, but not with settings Keras accepts together (strides > 1 with "
               "dilation > 1, output_padding on some axes only)")  # fmt: skip
        found.append(Nearest("all", 0, None, None, why))
    return tuple(found)


def _hint(n: int, t: int, recipe: Any, per_padding: Mapping[Padding, Any], fixed: Fixed, index: int,
          bounds: Bounds, refused: bool) -> str | None:  # fmt: skip
    """What it would take: wider bounds that reach `t` (keeping what was fixed), else which fixed
    option stands in the way."""
    wider = Bounds(bounds.kernel * 4, bounds.stride * 4, bounds.dilation * 4)
    searched = replace(fixed, kernel=None, strides=None, dilation=None)
    for relaxed, paddings, blocked in (
        (searched, list(per_padding), ""),
        (Fixed(), [Padding.VALID, Padding.SAME], " (not with the settings you fixed)"),
    ):
        for padding in paddings:
            for axis in _axis_choices(n, t, recipe, padding, relaxed, index, wider, recipe.transposed, refused):
                if recipe.forbids_strided_dilation and axis.stride > 1 and axis.dilation > 1:
                    continue  # Keras refuses the pair: a hint must be a setting it accepts
                parts = []
                if axis.kernel > bounds.kernel or (fixed.kernel and axis.kernel != fixed.kernel[index]):
                    parts.append(f"kernel {axis.kernel}")
                if axis.stride > bounds.stride or (fixed.strides and axis.stride != fixed.strides[index]):
                    parts.append(f"strides {axis.stride}")
                if axis.dilation > bounds.dilation or (fixed.dilation and axis.dilation != fixed.dilation[index]):
                    parts.append(f"dilation {axis.dilation}")
                if axis.output_padding and fixed.output_padding is None:
                    parts.append(
                        f"output_padding {axis.output_padding} (which needs strides ≥ {axis.output_padding + 1})"
                    )
                elif fixed.output_padding is not None and axis.output_padding != fixed.output_padding[index]:
                    parts.append(
                        "output_padding " + ("unset" if axis.output_padding is None else str(axis.output_padding))
                    )
                if fixed.padding is not None and padding != fixed.padding:
                    parts.append(f"padding {padding}")
                if parts:
                    return f"{t} needs " + ", ".join(parts) + f" with padding {padding}{blocked}"
    return None


# -- the command's arguments ---------------------------------------------------------------


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
