"""`convinspect sweep`: input ranges, rejected shapes with reasons, formats and limits."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from convinspect.api import run_sweep
from convinspect.core.layer.spec import parse_shape_ranges
from convinspect.errors import InvalidInput


def test_ranges_inclusive_with_steps() -> None:
    assert parse_shape_ranges("1,220..232:4,220..222,3") == ((1,), (220, 224, 228, 232), (220, 221, 222), (3,))
    assert parse_shape_ranges("?,8,8,1..3") == ((None,), (8,), (8,), (1, 2, 3))
    assert parse_shape_ranges("2x5..7x1") == ((2,), (5, 6, 7), (1,))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1,5..2,3", "a range needs 1 <= a <= b"),
        ("1,0..3,3", "a range needs 1 <= a <= b"),
        ("1,1..3:0,3", "a range needs 1 <= a <= b and a step >= 1"),
        ("1,a..b,3", "a range is a..b or a..b:step"),
        ("1,2..4,x", "dimension 3 is 'x', not an integer"),
        ("1,1..1000,1..1000,3", "1 × 1,000 × 1,000 × 1 = 1,000,000 combinations, over the limit of 100,000"),
    ],
)
def test_bad_ranges(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_shape_ranges(raw)
    assert message in info.value.message()
    assert info.value.message().startswith("--input: ")


def test_huge_ranges_are_counted_not_listed() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_shape_ranges("1,1..1000000000000000,4..9223372036854775807:4611686018427387904,3")
    assert "1 × 1,000,000,000,000,000 × 2 × 1 = 2,000,000,000,000,000 combinations" in info.value.message()


def test_sweep_marks_rejected_shapes_with_the_reason() -> None:
    sweep = run_sweep({"filters": 64, "kernel": 7, "strides": 2, "input": "1,5..9,224..228:2,3"})
    assert sweep.summary().to_dict() == {"total": 15, "accepted": 9, "rejected": 6,
                               "macs_min": 1 * 109 * 64 * 147, "macs_max": 2 * 111 * 64 * 147}  # fmt: skip
    first, last = sweep.rows[0], sweep.rows[-1]
    assert first.to_dict() == {
        "input_shape": [1, 5, 224, 3], "status": "rejected", "output_shape": None, "params": None, "macs": None,
        "flops": None,
        "reason": "output height would be 0, and Keras rejects zero or negative sizes "
                  "(input height 5, effective kernel 7, padding valid)",
        "runs": None, "runtime_rule": None,
    }  # fmt: skip
    # (9-7)//2+1 = 2 rows, (228-7)//2+1 = 111 columns, 64 filters, 7*7*3 taps each
    assert (last.output_shape, last.params, last.cost and last.cost.macs) == ((1, 2, 111, 64), 9472, 2 * 111 * 64 * 147)


def test_sweep_rows_match_real_keras_layers() -> None:
    """Each analytic row against a real SeparableConv2D (shape, parameters) and the MACs counted by hand."""
    import keras
    import numpy as np

    values = {"layer": "separable-conv2d", "filters": 8, "kernel": 3, "depth_multiplier": 2, "strides": 2,
              "padding": "same"}  # fmt: skip
    sweep = run_sweep({**values, "input": "2,7..9,10,3"})
    assert len(sweep.rows) == 3
    for row in sweep.rows:
        layer = keras.layers.SeparableConv2D(8, 3, strides=2, padding="same", depth_multiplier=2)
        output = layer(np.zeros(row.input_shape, "float32"))
        assert row.output_shape == tuple(output.shape) and row.params == layer.count_params()
        batch, height, width, _ = output.shape
        taps = batch * height * width * 3 * 2  # each output cell: 3 channels × depth_multiplier 2
        assert row.cost is not None and row.cost.macs == taps * 3 * 3 + taps * 8  # depthwise 3×3, pointwise to 8


def test_keras_sweep_agrees_with_analytic() -> None:
    pytest.importorskip("tensorflow")
    values: dict[str, Any] = {"layer": "conv1d-transpose", "filters": 2, "kernel": 4, "strides": 2,
                              "padding": "same", "output_padding": 0, "input": "1,3..5,2"}  # fmt: skip
    analytic = run_sweep(values, engine="analytic")
    keras = run_sweep(values, engine="keras")
    assert [r.status for r in keras.rows] == [r.status for r in analytic.rows] == ["ok"] * 3  # valid for Keras
    assert [r.runs for r in keras.rows] == [r.runs for r in analytic.rows] == [False] * 3  # refused by TensorFlow
    mixed = {"layer": "conv1d", "filters": 2, "kernel": 3, "strides": 2, "input": "1,2..6,2"}

    def figures(engine: str) -> list[dict[str, Any]]:  # each engine words its reasons its own way
        return [r.to_dict() | {"reason": None} for r in run_sweep(mixed, engine=engine).rows]

    assert figures("keras") == figures("analytic")
    assert [r["status"] for r in figures("keras")] == ["rejected", "ok", "ok", "ok", "ok"]


def test_bad_layer_options_fail_before_sweeping() -> None:
    with pytest.raises(InvalidInput) as info:
        run_sweep({"filters": 0, "kernel": 3, "input": "1,5..9,5,3"})
    assert info.value.message().startswith("--filters: ")
    with pytest.raises(InvalidInput) as info:
        run_sweep({"filters": 2, "kernel": 3})
    assert info.value.message().startswith("--input: is required")


def test_sweep_cli_formats(cli: Any) -> None:
    args = ("sweep", "-f", "4", "-k", "3", "-s", "2", "-i", "1,2..4,6,1")
    table = cli(*args)
    assert table.exit_code == 0, table.output
    assert "(1, 2, 6, 1)" in table.stdout and "rejected: output height would be 0" in table.stdout
    assert "3 input shapes: 2 accepted, 1 rejected" in table.stdout
    rows = list(csv.DictReader(io.StringIO(cli(*args, "-F", "csv").stdout)))
    assert rows[1] == {"batch": "1", "height": "3", "width": "6", "channels": "1", "output_shape": "1x1x2x4",
                       "params": "40", "macs": "72", "flops": "152", "status": "ok", "reason": "",
                       "runs": "true"}  # fmt: skip
    data = json.loads(cli(*args, "-F", "json").stdout)
    assert data["schema"] == "convinspect.sweep/1"
    assert data["axes"] == ["batch", "height", "width", "channels"]
    assert data["summary"] == {"total": 3, "accepted": 2, "rejected": 1, "macs_min": 72, "macs_max": 72}


def test_sweep_cli_refuses_too_many_combinations(cli: Any) -> None:
    result = cli("sweep", "-f", "4", "-k", "3", "-i", "1..100,1..100,1..100,1", "-F", "json")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "1,000,000 combinations, over the limit of 100,000" in result.stderr
    assert json.loads(result.stdout)["error"]["option"] == "input"


def test_sweep_cli_output_file(cli: Any, tmp_path: Any) -> None:
    target = tmp_path / "sweep.csv"
    result = cli("sweep", "-f", "4", "-k", "3", "-i", "1,3..5,5,1", "-F", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "3 input shapes: 3 accepted, 0 rejected" in result.stdout and str(target) in result.stdout
    assert target.read_text().startswith("batch,height,width,channels,")
