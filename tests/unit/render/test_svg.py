"""`build --format svg`: the figure shows exactly the cells the geometry says, for small layers and
for 200 random ones, stays small for huge ones, and escapes every name it places."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from convinspect.core.layer.geometry import AxisGeometry, figure_axes, parse_cell
from convinspect.core.layer.kinds import KINDS
from convinspect.core.layer.report import Report
from convinspect.core.layer.spec import parse_spec
from convinspect.engines import analytic
from convinspect.errors import InvalidInput
from convinspect.render.layer.svg import MAX_CELLS, chosen_cells, report_svg

from strategies import SMALL, valid_options

SVG = "{http://www.w3.org/2000/svg}"


def _report(**options: Any) -> Report:
    return analytic.inspect(parse_spec(options))


def _cells(svg: str) -> Counter[str]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return Counter(e.get("data-cell") for e in root.iter() if e.get("data-cell"))  # type: ignore[misc]


def _expected_forward(axes: list[AxisGeometry], at: tuple[int, ...]) -> Counter[str]:
    n = math.prod(g.input for g in axes)
    padded = math.prod(g.pad_before + g.input + g.pad_after for g in axes)
    read = math.prod(sum(map(g.touched, range(g.input))) for g in axes)  # a cell is read when its row and column are
    taps = math.prod(g.kernel for g in axes)
    span = math.prod(g.effective_kernel for g in axes)
    counts = Counter({"pad": padded - n, "unread": n - read, "in": read, "tap": taps, "gap": span - taps,
                      "out": math.prod(g.output for g in axes) - 1, "at": 1, "window": 1,
                      "step": 1 if at[-1] + 1 < axes[-1].output else 0})  # fmt: skip
    return +counts


def _expected_transposed(axes: list[AxisGeometry]) -> Counter[str]:
    out = math.prod(g.output for g in axes)
    scatter = math.prod(g.crop_before + g.output + g.crop_after for g in axes)
    plain = math.prod(sum(map(g.touched, range(g.output))) for g in axes)  # written by some input cell
    counts = Counter({"in": math.prod(g.input for g in axes) - 1, "at": 1, "crop": scatter - out,
                      "extra": out - plain, "out": plain, "tap": math.prod(g.kernel for g in axes)})  # fmt: skip
    return +counts


def _figure_counts(report: Report, at: tuple[int, ...]) -> Counter[str]:
    counts = _cells(report_svg(report, at))
    return +Counter({k: v for k, v in counts.items() if "channel" not in k and k != "more"})


@pytest.mark.parametrize(
    ("options", "at", "expected"),
    [
        # 6×7 input, 3×3 kernel, stride 2, same: padding 0+1 rows, 1+1 columns; output 3×4
        ({"filters": 4, "kernel": 3, "strides": 2, "padding": "same", "input": "1,6,7,2"}, (0, 0),
         {"pad": 9 * 7 - 42, "in": 42, "tap": 9, "out": 11, "at": 1, "window": 1, "step": 1}),
        # 10 wide, kernel 3, stride 4, valid: outputs read 0-2 and 4-6; cell 3 and the last 3 never read
        ({"layer": "conv1d", "filters": 2, "kernel": 3, "strides": 4, "input": "1,10,1"}, (1,),
         {"in": 6, "unread": 4, "tap": 3, "out": 1, "at": 1, "window": 1}),
        # dilation 2 on a 3-tap kernel: a window of 5 cells, 2 of them gaps, per axis
        ({"filters": 1, "kernel": 3, "dilation": 2, "input": "1,7,7,1"}, (1, 1),
         {"in": 49, "tap": 9, "gap": 25 - 9, "out": 8, "at": 1, "window": 1, "step": 1}),
        # transposed, stride 2, output_padding 1: a 9×11 scatter, extended by one row and column
        ({"layer": "conv2d-transpose", "filters": 3, "kernel": 3, "strides": 2, "output_padding": 1,
          "input": "1,4,5,2"}, (0, 0),
         {"in": 19, "at": 1, "out": 9 * 11, "extra": 10 * 12 - 9 * 11, "tap": 9}),
        # transposed, same: the scatter of 3·2+... is cropped to the output
        ({"layer": "conv2d-transpose", "filters": 1, "kernel": 4, "strides": 2, "padding": "same",
          "input": "1,3,3,1"}, (1, 2),
         {"in": 8, "at": 1, "out": 36, "crop": 8 * 8 - 36, "tap": 16}),
    ],
)  # fmt: skip
def test_small_figures_hold_the_cells_of_their_geometry(
    options: dict[str, Any], at: tuple[int, ...], expected: dict[str, int]
) -> None:
    assert _figure_counts(_report(**options), at) == Counter(expected)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=valid_options(KINDS, SMALL))
def test_the_picture_agrees_with_the_numbers_for_random_layers(options: dict[str, Any]) -> None:
    report = analytic.inspect(parse_spec(options))
    axes = list(figure_axes(report.measures.geometry))
    at = chosen_cells(report.measures.geometry)[-1]
    counts = _cells(report_svg(report, at))
    cut = any(max(g.pad_before + g.input + g.pad_after, g.output, g.crop_before + g.output + g.crop_after)
              > MAX_CELLS for g in axes)  # fmt: skip
    assert ("more" in counts) == cut
    assert sum(counts.values()) < 4000  # a figure never holds thousands of cells
    if not cut:
        transposed = axes[0].transposed
        expected = _expected_transposed(axes) if transposed else _expected_forward(axes, at)
        assert _figure_counts(report, at) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # kernel 2, stride 5 on 11 cells: outputs read 0-1 and 5-6; 2-4 and 7-10 are never read
        ({"filters": 2, "kernel": 2, "strides": 5, "input": "1,11,11,3"}, {"in": 16, "unread": 121 - 16}),
        # transposed kernel 2, stride 4 on 3 cells: 12 outputs, 6 written per axis, the rest bias only
        ({"layer": "conv2d-transpose", "filters": 2, "kernel": 2, "strides": 4, "input": "1,3,3,3"},
         {"out": 36, "extra": 144 - 36}),
    ],
)  # fmt: skip
def test_a_stride_longer_than_the_kernel_marks_the_cells_it_jumps_over(
    options: dict[str, Any], expected: dict[str, int]
) -> None:
    counts = _figure_counts(_report(**options), (0, 0))
    assert {k: counts[k] for k in expected} == expected
    assert "between" in report_svg(_report(**options), (0, 0))


def test_one_cell_that_is_both_first_and_far_is_drawn_once() -> None:
    report = _report(filters=2, kernel=3, padding="same", strides=2, input="1,1,1,3")
    assert chosen_cells(report.measures.geometry) == [(0, 0)]


def test_a_huge_layer_is_drawn_with_an_ellipsis() -> None:
    svg = report_svg(_report(filters=8, kernel=3, strides=2, padding="same", input="1,4096,4096,3"))
    counts = _cells(svg)
    assert counts["more"] >= 4 and sum(counts.values()) < 3000 and len(svg) < 400_000


def test_groups_and_depth_multipliers_are_channel_blocks() -> None:
    groups = _cells(report_svg(_report(filters=8, kernel=3, groups=4, input="1,9,9,8")))
    assert groups["in-channel-block"] == groups["out-channel-block"] == 4
    depthwise = _cells(report_svg(_report(layer="depthwise-conv2d", kernel=3, depth_multiplier=2, input="1,8,8,3")))
    assert depthwise["in-channel-block"] == 3
    plain = _cells(report_svg(_report(filters=8, kernel=3, input="1,9,9,8")))
    assert "in-channel-block" not in plain


def test_the_default_cells_are_the_first_and_the_first_reaching_the_far_padding() -> None:
    report = _report(filters=4, kernel=3, strides=2, padding="same", input="1,6,7,2")
    assert chosen_cells(report.measures.geometry) == [(0, 0), (2, 3)]
    assert chosen_cells(_report(filters=4, kernel=3, input="1,6,7,2").measures.geometry) == [
        (0, 0)
    ]  # valid: no padding at all


def test_the_caption_is_the_formula_with_this_layer_s_numbers() -> None:
    svg = report_svg(_report(filters=4, kernel=3, strides=2, padding="same", input="1,6,7,2"))
    assert "height: ⌈n/s⌉ = ⌈6/2⌉ = 3, padding 0 before and 1 after (the odd cell goes after)" in svg
    assert "width: ⌈n/s⌉ = ⌈7/2⌉ = 4, padding 1 on each side" in svg


@pytest.mark.parametrize("name", ["<script>alert(1)", "a&b\"c'd", "line\nbreak\x1b[31m"])
def test_names_are_escaped(name: str) -> None:
    svg = report_svg(_report(filters=2, kernel=3, input="1,5,5,1", name=name))
    ET.fromstring(svg)
    assert "<script" not in svg and "\x1b" not in svg and "\n" not in svg.rstrip("\n")
    assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg) is None  # no external URL


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("3,0", "--at: an output cell, 2 index(es) in 0..2 (height), 0..3 (width); got '3,0'"),
        ("0", "--at: an output cell, 2 index(es) in 0..2 (height), 0..3 (width); got '0'"),
        ("a,b", "--at: an output cell, 2 index(es) in 0..2 (height), 0..3 (width); got 'a,b'"),
        ("-1,0", "--at: an output cell, 2 index(es) in 0..2 (height), 0..3 (width); got '-1,0'"),
    ],
)
def test_at_outside_the_output_is_one_line_with_the_valid_range(raw: str, message: str) -> None:
    report = _report(filters=4, kernel=3, strides=2, padding="same", input="1,6,7,2")
    with pytest.raises(InvalidInput) as caught:
        parse_cell(raw, report.measures.geometry)
    assert caught.value.message() == message
    assert parse_cell("2, 3", report.measures.geometry) == (2, 3)
