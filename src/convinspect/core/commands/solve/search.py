"""The search: each axis on its own, then the axes combined best first, each combination judged by
the same rules as `build`; the nearest reachable sizes when nothing fits."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from convinspect.core.commands.solve.results import (
    REFUSING_BACKEND,
    Axis,
    Bounds,
    Fixed,
    Nearest,
    Solution,
    SolveResult,
)
from convinspect.core.layer import arithmetic, xla
from convinspect.core.layer.families import Family, too_short_to_map_back
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.kinds import Kind
from convinspect.core.layer.runtime import KernelSet, Rule
from convinspect.core.layer.spec import LayerSpec, parse_spec
from convinspect.core.vocab.choices import DataFormat, Padding
from convinspect.errors import InvalidInput

MAX_AXIS_SEARCH = 10_000  # settings tried per axis: kernel × dilation × (strides, each with its output paddings)
# Per axis, the best candidates combined: a 3D search stays within 30³ combinations however many
# settings reach an axis's target (a size-1 axis with `same` padding is reached by every setting).
AXIS_CANDIDATES = {1: 10_000, 2: 150, 3: 30}
_PADDING_ORDER = {Padding.SAME: 0, Padding.VALID: 1, Padding.CAUSAL: 2}


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
