"""Valid vs runs: a layer Keras accepts that TensorFlow's CPU kernels refuse is valid (exit 0) with a
warning, in every engine and format, whatever the forward mode; `--expect-runs` makes it a failed check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convinspect import InvalidInput, inspect_layer, parse_spec, run_check

# One layer per rule of core/runtime.py, and a neighbour of each that runs.
RULES: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"filters": 6, "kernel": "1,5", "data_format": "channels_first", "dtype": "float16", "input": "2,4,6,7"},
     "nchw_cpu", {"dtype": "float32"}),
    ({"layer": "conv1d", "filters": 4, "kernel": 3, "data_format": "channels_first", "dtype": "float64",
      "input": "1,3,9"}, "nchw_cpu", {"groups": 1, "data_format": "channels_last", "input": "1,9,3"}),
    ({"layer": "depthwise-conv2d", "kernel": 1, "strides": "1,3", "dtype": "float64", "input": "2,6,8,3"},
     "unequal_strides", {"strides": "2,2"}),
    ({"layer": "separable-conv2d", "filters": 4, "kernel": 2, "strides": "2,1", "dtype": "mixed_float16",
      "input": "1,6,6,2"}, "unequal_strides", {"dtype": "mixed_bfloat16"}),
    ({"layer": "conv2d-transpose", "filters": 3, "kernel": 3, "data_format": "channels_first", "dtype": "float16",
      "input": "1,2,4,4"}, "transpose_nchw_cpu", {"dtype": "bfloat16"}),
    ({"layer": "conv3d-transpose", "filters": 2, "kernel": 2, "dilation": 2, "dtype": "float64",
      "input": "1,3,3,3,2"}, "transpose_dilation_cpu", {"dilation": 1}),
    ({"layer": "conv1d-transpose", "filters": 1, "kernel": 2, "padding": "same", "output_padding": 0,
      "input": "1,4,1"}, "transpose_same_even_kernel", {"output_padding": None}),
]  # fmt: skip


@pytest.mark.parametrize(("options", "rule", "fix"), RULES, ids=[f"{r[1]}-{i}" for i, r in enumerate(RULES)])
def test_each_rule_is_observed_by_keras_and_predicted_without_it(
    options: dict[str, Any], rule: str, fix: dict[str, Any]
) -> None:
    observed = inspect_layer(options, engine="keras")
    predicted = inspect_layer(options, engine="analytic")
    assert (observed.runtime.runs, observed.runtime.rule, observed.runtime.observed) == (False, rule, True)
    assert (predicted.runtime.runs, predicted.runtime.rule, predicted.runtime.observed) == (False, rule, False)
    assert observed.output_shape == predicted.output_shape  # valid: Keras' shapes are still reported
    assert inspect_layer(options, engine="both").agreed_with == "analytic"
    fixed = {k: v for k, v in {**options, **fix}.items() if v is not None}
    assert inspect_layer(fixed, engine="keras").runtime.runs
    assert inspect_layer(fixed, engine="analytic").runtime.runs


@pytest.mark.parametrize("forward", ["eager", "symbolic"])
def test_the_forward_mode_does_not_decide_the_verdict(forward: str) -> None:
    options, rule, _ = RULES[0]
    report = inspect_layer(options, forward=forward)
    assert (report.forward.mode, report.runtime.runs, report.runtime.rule) == (forward, False, rule)  # type: ignore[union-attr]


def test_an_input_over_the_budget_is_probed_on_a_small_one() -> None:
    report = inspect_layer({**RULES[0][0], "input": "64,4,4096,4096"})
    assert report.forward.mode == "symbolic" and report.forward.reason == "over_budget"  # type: ignore[union-attr]
    assert (report.runtime.runs, report.runtime.rule, report.runtime.observed) == (False, "nchw_cpu", True)


def test_an_unknown_batch_is_probed_too() -> None:
    report = inspect_layer({**RULES[0][0], "input": "?,4,6,7"})
    assert (report.forward.mode, report.runtime.observed, report.runtime.runs) == ("symbolic", True, False)  # type: ignore[union-attr]


def test_valid_but_not_runnable_exits_0_with_one_warning_line(cli: Any) -> None:
    args = ["build", "--filters", "6", "--kernel", "1,5", "--data-format", "channels_first", "--dtype", "float16",
            "--input", "2,4,6,7"]  # fmt: skip
    result = cli(*args, "--format", "plain")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "channels_last" in warnings[0] and "NHWC" in warnings[0]
    table = cli(*args)
    assert table.exit_code == 0 and table.stdout.count("warning:") == 1
    data = json.loads(cli(*args, "--format", "json").stdout)
    assert data["runtime"] == {
        "backend": "tensorflow", "device": "CPU", "runs": False, "rule": "nchw_cpu",
        "reason": "The Conv2D op currently only supports the NHWC tensor format on the CPU. "
                  "The op was given the format: NCHW [Op:Conv2D]",
        "observed": True,
    }  # fmt: skip
    failed = cli(*args, "--engine", "analytic", "--expect-runs")
    assert failed.exit_code == 1
    assert failed.stderr == "convinspect: check failed: runs: expected True, actual False\n"


def test_a_runnable_layer_reports_runs(cli: Any) -> None:
    data = json.loads(cli("build", "-f", "4", "-k", "3", "-i", "1,6,6,2", "--format", "json").stdout)
    assert data["runtime"] == {"backend": "tensorflow", "device": "CPU", "runs": True, "observed": True}


def test_expect_runs_in_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "runs.toml"
    spec.write_text(
        '[[layer]]\nfilters = 6\nkernel = "1,5"\ndata_format = "channels_first"\ndtype = "float16"\n'
        'input = "2,4,6,7"\nexpect_runs = true\n\n'
        '[[layer]]\nfilters = 6\nkernel = 3\ninput = "2,6,6,4"\nexpect_runs = true\n'
    )
    for engine in ("analytic", "keras"):
        run = run_check([str(spec)], engine=engine)
        assert [r.status for r in run.results] == ["failed", "passed"] and run.exit_code == 1


DTYPES = ["float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"]


@st.composite
def runtime_options(draw: st.DrawFn) -> dict[str, Any]:
    """Valid-looking configs over every kind, dtype and data format, with the features the rules test."""
    kind = draw(st.sampled_from([
        "conv1d", "conv2d", "conv3d", "depthwise-conv1d", "depthwise-conv2d", "separable-conv1d",
        "separable-conv2d", "conv1d-transpose", "conv2d-transpose", "conv3d-transpose",
    ]))  # fmt: skip
    rank = int(kind.split("conv")[1][0])
    channels = draw(st.integers(1, 4))
    channels_first = draw(st.booleans())
    spatial = draw(st.lists(st.integers(2, 7), min_size=rank, max_size=rank))
    dims = [channels, *spatial] if channels_first else [*spatial, channels]
    strided = draw(st.booleans())
    per_axis = st.lists(st.integers(1, 2), min_size=rank, max_size=rank).map(lambda v: ",".join(map(str, v)))
    options: dict[str, Any] = {
        "layer": kind,
        "input": ",".join(map(str, [1, *dims])),
        "kernel": draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank).map(lambda v: ",".join(map(str, v)))),
        "strides": draw(per_axis) if strided else "1",
        "dilation": "1" if strided and not kind.startswith(("depthwise", "separable")) else draw(per_axis),
        "padding": draw(st.sampled_from(["valid", "same"])),
        "data_format": "channels_first" if channels_first else "channels_last",
        "dtype": draw(st.sampled_from(DTYPES)),
    }
    if not kind.startswith("depthwise"):
        options["filters"] = draw(st.integers(1, 4))
    if kind.startswith("conv") and "transpose" not in kind:
        options["groups"] = draw(
            st.sampled_from([g for g in (1, 2) if channels % g == 0 and options["filters"] % g == 0])
        )
    if "transpose" in kind and strided:
        options["output_padding"] = draw(st.one_of(st.none(), st.just("0"), st.just("1")))
    return options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runtime_options())
def test_predicted_runs_equals_the_real_eager_call(options: dict[str, Any]) -> None:
    try:
        spec = parse_spec({k: v for k, v in options.items() if v is not None})
        observed = inspect_layer(spec, engine="keras", forward="eager")
    except InvalidInput:
        assume(False)
        return
    predicted = inspect_layer(spec, engine="analytic")
    assert (predicted.runtime.runs, predicted.runtime.rule) == (observed.runtime.runs, observed.runtime.rule), (
        options, observed.runtime.reason)  # fmt: skip
