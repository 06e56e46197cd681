"""--explain: the lazy-build story, observed on real Keras layers (or computed, and said so)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convinspect import inspect_layer

keras = pytest.importorskip("keras")

SEED = {"filters": 64, "kernel": 5, "strides": 2, "padding": "same", "input": "2,32,32,1"}


def steps(report: Any) -> dict[str, Any]:
    return {step.key: step for step in report.story}


def test_construct_step_quotes_keras_own_message() -> None:
    layer = keras.layers.Conv2D(64, 5, strides=2, padding="same", name="conv2d")
    with pytest.raises(ValueError) as raised:
        layer.count_params()
    construct = steps(inspect_layer(SEED, explain=True))["construct"]
    assert construct.observed
    assert construct.to_dict()["built"] is False
    assert construct.to_dict()["trainable_variables"] == []
    assert construct.to_dict()["count_params_error"] == f"ValueError: {' '.join(str(raised.value).split())}"
    assert construct.to_dict()["call"] == {"class": "Conv2D", "kwargs": {"filters": 64, "kernel_size": [5, 5],
                                                                    "strides": [2, 2], "padding": "same"}}  # fmt: skip


def test_first_call_runs_build_with_the_input_shape() -> None:
    report = inspect_layer(SEED, explain=True)
    first = steps(report)["first_call"]
    assert first.to_dict()["build_input_shape"] == [2, 32, 32, 1]
    assert (first.to_dict()["channel_axis"], first.to_dict()["input_channels"]) == (-1, 1)
    assert first.to_dict()["built"] is True
    kernel, bias = first.to_dict()["variables"]
    assert kernel == {"path": "conv2d/kernel", "shape": [5, 5, 1, 64], "dims": [
        {"size": 5, "axis": "kh"}, {"size": 5, "axis": "kw"}, {"size": 1, "axis": "in/groups"},
        {"size": 64, "axis": "filters"}]}  # fmt: skip
    assert bias["dims"] == [{"size": 64, "axis": "filters"}]


def test_explicit_build_and_keras_input_also_create_the_weights() -> None:
    report = inspect_layer({"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 2, "input": "?,9,9,3"},
                           explain=True)  # fmt: skip
    s = steps(report)
    shapes = [list(v.shape) for v in report.variables_after]
    assert s["explicit_build"].to_dict()["built"] is True
    assert [v["shape"] for v in s["explicit_build"].to_dict()["variables"]] == shapes == [[3, 3, 3, 2], [6]]
    symbolic = s["symbolic_input"].to_dict()
    assert symbolic["input"] == {"shape": [9, 9, 3], "batch_size": None}
    assert symbolic["output_type"] == "KerasTensor"
    assert symbolic["output_shape"] == [None, 7, 7, 6]
    assert [v["shape"] for v in symbolic["variables"]] == shapes


def test_channels_first_reads_channels_from_axis_1() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "data_format": "channels_first", "input": "1,3,8,8"},
                           explain=True)  # fmt: skip
    first = steps(report)["first_call"]
    assert (first.to_dict()["channel_axis"], first.to_dict()["input_channels"]) == (1, 3)


def test_analytic_story_says_what_needs_keras() -> None:
    report = inspect_layer(SEED, engine="analytic", explain=True)
    s = steps(report)
    assert not any(step.observed for step in report.story)
    assert s["construct"].needs_keras == ("built", "trainable_variables", "count_params_error")
    assert s["construct"].to_dict()["count_params_error"] is None
    assert s["first_call"].to_dict()["variables"] == steps(inspect_layer(SEED, explain=True))["first_call"].to_dict()[
        "variables"]  # fmt: skip


def test_explain_in_every_format(cli: Any) -> None:
    args = ("build", "-f", "8", "-k", "3", "-i", "1,6,6,2", "--explain")
    table = cli(*args)
    assert table.exit_code == 0, table.output
    assert "layer.count_params() raises ValueError: You tried to call `count_params`" in " ".join(table.stdout.split())
    assert "keras.Input(shape=(6, 6, 2), batch_size=1)" in " ".join(table.stdout.split())
    plain = cli(*args, "-F", "plain").stdout
    assert "explain: 2. First call: y = layer(x), x a dummy array of shape (1, 6, 6, 2)" in plain
    assert "explain: Keras runs build(input_shape=(1, 6, 6, 2)) once, before computing y" in plain
    assert "explain: creates conv2d/kernel (3, 3, 2, 8): 3 ← kernel_size[0], 3 ← kernel_size[1], " \
           "2 ← input channels 2 ÷ groups 1, 8 ← filters" in plain  # fmt: skip
    markdown = cli(*args, "-F", "markdown").stdout
    assert "   - layer.built → False" in markdown
    data = json.loads(cli(*args, "-F", "json").stdout)
    assert [step["step"] for step in data["explain"]] == ["construct", "first_call", "explicit_build", "symbolic_input"]
    assert "explain" not in json.loads(cli(*args[:-1], "-F", "json").stdout)
    analytic = cli(*args, "-e", "analytic")
    assert analytic.exit_code == 0 and "(needs Keras)" in analytic.stdout
