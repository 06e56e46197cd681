"""Hypothesis strategies: random conv layer configs across all ten kinds."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from convinspect.core.kinds import KINDS, Kind


def _per_axis(kind: Kind, values: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    return st.one_of(values.map(str), st.lists(values, min_size=kind.rank, max_size=kind.rank).map(
        lambda v: ",".join(map(str, v))
    ))  # fmt: skip


@st.composite
def layer_options(draw: st.DrawFn, kinds: tuple[Kind, ...] = KINDS) -> dict[str, Any]:
    """Options for parse_spec: mostly valid, often past an edge Keras guards."""
    kind = draw(st.sampled_from(kinds))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    channels = draw(st.integers(1, 6))
    spatial = draw(st.lists(st.integers(1, 9), min_size=kind.rank, max_size=kind.rank))
    batch = draw(st.sampled_from(["1", "2", "?"]))
    dims = [*spatial, channels] if data_format == "channels_last" else [channels, *spatial]
    options: dict[str, Any] = {
        "layer": kind.key,
        "input": ",".join([batch, *map(str, dims)]),
        "kernel": draw(_per_axis(kind, st.integers(1, 4))),
        "strides": draw(_per_axis(kind, st.integers(1, 3))),
        "dilation": draw(_per_axis(kind, st.integers(1, 2))),
        "padding": draw(st.sampled_from(kind.paddings)),
        "data_format": data_format,
        "use_bias": draw(st.booleans()),
    }
    if "filters" in kind.options:
        options["filters"] = draw(st.integers(1, 6))
    if "groups" in kind.options:
        options["groups"] = draw(st.sampled_from([1, 1, 2, 3]))
    if "depth_multiplier" in kind.options:
        options["depth_multiplier"] = draw(st.integers(1, 3))
    if "output_padding" in kind.options:
        options["output_padding"] = draw(st.one_of(st.none(), _per_axis(kind, st.integers(0, 2))))
    return options
