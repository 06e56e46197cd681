"""Hand-checked cost, memory and geometry figures, from the analytic engine (no TensorFlow)."""

from __future__ import annotations

import pytest

from convinspect import inspect_layer
from convinspect.core.layer.geometry import axis_geometry
from convinspect.core.layer.report import Report


def analytic(**values: object) -> Report:
    return inspect_layer(values, engine="analytic")


def test_worked_example_cost() -> None:
    """Conv2D(32, 3x3, valid, bias) on 1x28x28x1: the README's worked example."""
    report = analytic(filters=32, kernel=3, input="1,28,28,1")
    cost = report.measures.cost
    assert report.params.total == 320
    assert cost.macs == 194_688  # 26*26*32 outputs x 3*3*1 taps
    assert cost.bias_adds == 21_632  # one per output element
    assert cost.flops == 411_008  # 2*MACs + bias adds
    assert cost.mult_adds == 216_320  # torchinfo's "mult-adds": MACs + bias adds
    assert cost.to_dict()["parts"] == [{"name": "conv", "macs": 194_688, "bias_adds": 21_632, "flops": 411_008}]


def test_worked_example_memory() -> None:
    memory = analytic(filters=32, kernel=3, input="1,28,28,1").measures.memory
    assert (memory.weights, memory.input, memory.output) == (1280, 3136, 86_528)
    assert memory.total == 90_944


@pytest.mark.parametrize(
    ("values", "macs", "bias_adds"),
    [
        # grouped: 8x8 outputs x 8 filters, each reads 3x3 x (4/2) inputs
        ({"filters": 8, "kernel": 3, "groups": 2, "input": "1,10,10,4"}, 8 * 8 * 8 * 9 * 2, 8 * 8 * 8),
        # depthwise, multiplier 2: 2 examples x 6x6 x 6 channels, each 3x3 taps
        ({"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 2, "input": "2,8,8,3"},
         2 * 36 * 6 * 9, 2 * 36 * 6),
        # transposed: every input element scatters 3x3 x 16
        ({"layer": "conv2d-transpose", "filters": 16, "kernel": 3, "strides": 2, "padding": "same",
          "input": "2,15,15,3"}, 2 * 15 * 15 * 3 * 9 * 16, 2 * 30 * 30 * 16),
        # causal conv1d, stride 2: 5 outputs x 4 filters x 3 taps x 3 channels, 2 examples
        ({"layer": "conv1d", "filters": 4, "kernel": 3, "strides": 2, "padding": "causal", "input": "2,10,3"},
         2 * 5 * 4 * 3 * 3, 2 * 5 * 4),
        ({"layer": "conv3d", "filters": 3, "kernel": 2, "input": "1,4,4,4,2"}, 27 * 3 * 8 * 2, 27 * 3),
        # depthwise conv1d: 2 examples x 4 outputs ((12-3)//3+1) x 5*2 channels, 3 taps each
        ({"layer": "depthwise-conv1d", "kernel": 3, "strides": 3, "depth_multiplier": 2, "input": "2,12,5"},
         2 * 4 * 10 * 3, 2 * 4 * 10),
        # separable conv1d: depthwise 10 outputs x 3*2 channels x 3 taps + pointwise 10 x 4 filters x 6
        ({"layer": "separable-conv1d", "filters": 4, "kernel": 3, "depth_multiplier": 2, "input": "1,12,3"},
         10 * 6 * 3 + 10 * 4 * 6, 10 * 4),
        # conv3d transposed: 1*2*2*2 inputs x 2 channels scatter 2*2*2 x 5 filters; output 4x4x4x5
        ({"layer": "conv3d-transpose", "filters": 5, "kernel": 2, "strides": 2, "input": "1,2,2,2,2"},
         8 * 2 * 8 * 5, 64 * 5),
        ({"layer": "conv1d-transpose", "filters": 2, "kernel": 4, "strides": 1, "input": "3,6,1"},
         3 * 6 * 1 * 4 * 2, 3 * 9 * 2),
        ({"filters": 8, "kernel": 3, "use_bias": False, "input": "1,10,10,4"}, 8 * 8 * 8 * 9 * 4, 0),
        # channels_first reads channels from axis 1
        ({"filters": 8, "kernel": 3, "data_format": "channels_first", "input": "1,4,10,10"}, 8 * 8 * 8 * 9 * 4,
         8 * 8 * 8),
    ],
)  # fmt: skip
def test_cost_by_kind(values: dict[str, object], macs: int, bias_adds: int) -> None:
    cost = analytic(**values).measures.cost
    assert (cost.macs, cost.bias_adds, cost.flops) == (macs, bias_adds, 2 * macs + bias_adds)


def test_separable_cost_has_two_parts() -> None:
    report = analytic(layer="separable-conv2d", filters=16, kernel=3, strides=2, padding="same",
                      depth_multiplier=2, input="2,15,15,3")  # fmt: skip
    depthwise, pointwise = report.measures.cost.parts
    assert (depthwise.name, depthwise.macs, depthwise.bias_adds) == ("depthwise", 2 * 64 * 6 * 9, 0)
    assert (pointwise.name, pointwise.macs, pointwise.bias_adds) == ("pointwise", 2 * 64 * 16 * 6, 2 * 64 * 16)
    assert report.measures.cost.macs == 6912 + 12_288


def test_unknown_batch_counts_one_example() -> None:
    report = analytic(filters=32, kernel=3, input="?,28,28,1")
    assert report.measures.cost.macs == 194_688
    assert report.measures.cost.to_dict()["per_example"] is True
    assert report.measures.memory.to_dict() | {"batch": 1, "per_example": True} == report.measures.memory.to_dict()


@pytest.mark.parametrize(
    ("dtype", "weights", "input_bytes", "output_bytes", "compute"),
    [
        ("float32", 1280, 3136, 86_528, "float32"),
        ("mixed_float16", 1280, 1568, 43_264, "float16"),  # float32 variables, float16 activations
        ("mixed_bfloat16", 1280, 1568, 43_264, "bfloat16"),
        ("float16", 640, 1568, 43_264, "float16"),
        ("float64", 2560, 6272, 173_056, "float64"),
    ],
)
def test_memory_by_dtype(dtype: str, weights: int, input_bytes: int, output_bytes: int, compute: str) -> None:
    memory = analytic(filters=32, kernel=3, dtype=dtype, input="1,28,28,1").measures.memory
    assert (memory.weights, memory.input, memory.output) == (weights, input_bytes, output_bytes)
    assert memory.compute_dtype == compute
    assert memory.total == weights + input_bytes + output_bytes


# (n, k, s, d, padding) -> (output, pad before, pad after, unread trailing)
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((28, 3, 1, 1, "valid"), (26, 0, 0, 0)),
        ((10, 4, 1, 1, "same"), (10, 1, 2, 0)),  # total 3: the odd pixel goes after
        ((7, 3, 2, 1, "same"), (4, 1, 1, 0)),
        ((8, 3, 2, 1, "same"), (4, 0, 1, 0)),
        ((10, 3, 4, 1, "valid"), (2, 0, 0, 3)),  # windows 0-2 and 4-6: 7, 8, 9 never read
        ((10, 1, 4, 1, "same"), (3, 0, 0, 1)),  # taps 0, 4, 8: 9 never read
        ((10, 3, 1, 2, "causal"), (10, 4, 0, 0)),  # all d*(k-1) = 4 before
        ((10, 3, 2, 1, "causal"), (5, 2, 0, 1)),
    ],
)
def test_forward_geometry(args: tuple[int, int, int, int, str], expected: tuple[int, int, int, int]) -> None:
    n, k, s, d, padding = args
    out = expected[0]
    g = axis_geometry("width", n, out, k, s, d, padding)
    assert (g.output, g.pad_before, g.pad_after, g.unread_trailing) == expected
    assert (g.effective_kernel, g.receptive_field, g.jump) == (d * (k - 1) + 1, d * (k - 1) + 1, s)


# (n, k, s, padding, output_padding, out) -> (scatter, crop before, crop after, extra after)
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((15, 3, 2, "same", None, 30), (31, 0, 1, 0)),
        ((5, 4, 2, "same", 1, 9), (12, 1, 2, 0)),
        ((4, 3, 2, "valid", 1, 10), (9, 0, 0, 1)),  # output_padding adds a cell no input reaches
        ((4, 1, 3, "valid", None, 12), (10, 0, 0, 2)),  # stride > kernel: n*s, 2 bias-only cells
        ((4, 5, 2, "valid", None, 11), (11, 0, 0, 0)),
    ],
)
def test_transposed_geometry(args: tuple[int, int, int, str, int | None, int], expected: tuple[int, ...]) -> None:
    n, k, s, padding, op, out = args
    g = axis_geometry("width", n, out, k, s, 1, padding, transposed=True, output_padding=op)
    assert (g.scatter_length, g.crop_before, g.crop_after, g.extra_after) == expected
    assert g.scatter_length - g.crop_before - g.crop_after + g.extra_after == out


def test_transposed_receptive_field_and_jump() -> None:
    g = axis_geometry("width", 15, 30, 3, 2, 1, "same", transposed=True)
    assert (g.receptive_field, g.jump) == (2, 0.5)


def test_geometry_follows_the_report_axes() -> None:
    report = analytic(layer="conv3d", filters=2, kernel="3,2,1", strides="1,2,3", input="1,9,9,9,1")
    axes = [(g.axis, g.kernel, g.stride, g.output) for g in report.measures.geometry]
    assert axes == [("depth", 3, 1, 7), ("height", 2, 2, 4), ("width", 1, 3, 3)]


def test_causal_geometry_in_report() -> None:
    report = analytic(layer="conv1d", filters=4, kernel=3, strides=2, padding="causal", input="2,10,3")
    assert report.to_dict()["geometry"] == [
        {"axis": "width", "input": 10, "kernel": 3, "dilation": 1, "effective_kernel": 3, "stride": 2,
         "padding": "causal", "output": 5, "pad_before": 2, "pad_after": 0, "unread_trailing": 1,
         "receptive_field": 3, "jump": 2},
    ]  # fmt: skip


def test_max_macs_expectation(cli: object) -> None:
    args = ("build", "-e", "analytic", "-f", "32", "-k", "3", "-i", "1,28,28,1")
    ok = cli(*args, "--max-macs", "194688")  # type: ignore[operator]
    assert ok.exit_code == 0, ok.output
    over = cli(*args, "--max-macs", "194687")  # type: ignore[operator]
    assert over.exit_code == 1, over.output
    assert "max_macs: expected at most 194687, actual 194688" in over.stderr
    bad = cli(*args, "--max-macs", "lots")  # type: ignore[operator]
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "--max-macs" in bad.stderr
