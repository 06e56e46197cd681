"""Valid vs runs, on both of TensorFlow's CPU kernel sets, whatever CPU runs the suite.

A layer Keras accepts that TensorFlow's CPU kernels refuse is valid (exit 0) with a warning, in
every engine and format; `--expect-runs` makes it a failed check. Which kernels run it is
TensorFlow's decision (core/layer/runtime.py): each kernel set is exercised for real in a worker
process of its own (tests/support/kernels.py), and the decision itself is tested on machines of
every kind described as data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from paths import EXAMPLES

from convinspect import InvalidInput, inspect_layer, parse_spec, run_check
from convinspect.core.layer.runtime import CpuKernels, KernelSet, Machine, choose_kernels, env_switch
from convinspect.engines.machine import parse_cpuinfo, this_machine

from cpus import observed as seen
from kernels import SETTINGS, Worker

# -- the decision, on machines described as data -----------------------------------------------

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})  # an AMD EPYC of the older kind
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"}  # a newer EPYC or Xeon
SAPPHIRE = AVX512 | {"avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"}
LINUX = Machine("linux", "x86_64", AVX2)


def kernels_for(machine: Machine, dtype: str = "float32", requested: str = "auto") -> KernelSet:
    return choose_kernels(machine, dtype, CpuKernels(requested)).kernels


@pytest.mark.parametrize(
    ("machine", "dtype", "expected"),
    [
        (LINUX, "float32", "plain"),  # no AVX-512 VNNI/BF16, AVX-VNNI or AMX: oneDNN stays off
        (dataclasses.replace(LINUX, flags=AVX2 | {"avx_vnni"}), "float32", "onednn"),
        (dataclasses.replace(LINUX, flags=AVX512), "float32", "onednn"),
        (dataclasses.replace(LINUX, flags=AVX512), "bfloat16", "onednn"),  # avx512f
        (dataclasses.replace(LINUX, flags=AVX512), "float16", "plain"),  # no avx512_fp16
        (dataclasses.replace(LINUX, flags=SAPPHIRE), "float16", "onednn"),
        (dataclasses.replace(LINUX, flags=SAPPHIRE), "float64", "plain"),  # never on oneDNN
        (dataclasses.replace(LINUX, env="1"), "float32", "onednn"),
        (dataclasses.replace(LINUX, env="TRUE"), "float32", "onednn"),  # TensorFlow lowers the case
        (dataclasses.replace(LINUX, env="1"), "bfloat16", "plain"),  # on, but the CPU lacks avx512f
        (dataclasses.replace(LINUX, flags=AVX2 | {"avx_ne_convert"}, env="1"), "float16", "onednn"),
        (dataclasses.replace(LINUX, flags=AVX512, env="0"), "float32", "plain"),
        (dataclasses.replace(LINUX, flags=AVX512, env="false"), "float32", "plain"),
        (dataclasses.replace(LINUX, flags=AVX512, env="yes"), "float32", "onednn"),  # ignored: the CPU decides
        (dataclasses.replace(LINUX, env="yes"), "float32", "plain"),
        (dataclasses.replace(LINUX, flags=None), "float32", "plain"),  # unknown features: assumed none
        (Machine("darwin", "arm64", None, env="1"), "float32", "plain"),  # macOS builds have no oneDNN
        (Machine("windows", "amd64", None), "float32", "onednn"),
        (Machine("windows", "amd64", None), "bfloat16", "plain"),  # unknown features: assumed to lack avx512f
        (Machine("linux", "aarch64", frozenset({"fp", "asimd"}), neoverse_v1=True), "float32", "onednn"),
        (Machine("linux", "aarch64", frozenset({"fp", "asimd"})), "float32", "plain"),
        (Machine("linux", "aarch64", frozenset({"fp", "asimd"}), neoverse_v1=True), "bfloat16", "plain"),
    ],
)
def test_tensorflows_decision_per_platform_env_cpu_and_dtype(machine: Machine, dtype: str, expected: str) -> None:
    choice = choose_kernels(machine, dtype)
    assert str(choice.kernels) == expected, choice.because
    assert choice.because  # always says why


def test_the_reasons_name_the_machine_fact_that_decided() -> None:
    assert choose_kernels(LINUX, "float32").because == (
        "oneDNN is off: TF_ENABLE_ONEDNN_OPTS unset and the CPU has none of avx512_vnni, avx512_bf16, avx_vnni, "
        "amx_tile, amx_int8, amx_bf16"
    )
    on = choose_kernels(dataclasses.replace(LINUX, flags=AVX512), "float64")
    assert on.because == (
        "oneDNN is on (TF_ENABLE_ONEDNN_OPTS unset and the CPU has avx512_vnni, avx512_bf16) but never takes float64"
    )
    lacks = choose_kernels(dataclasses.replace(LINUX, env="1"), "bfloat16").because
    assert lacks.endswith("takes bfloat16 only on a CPU with avx512f or avx_ne_convert; the CPU lacks them")
    assert "is not 0, 1, true or false" in choose_kernels(dataclasses.replace(LINUX, env="on"), "float32").because
    assert "macOS" in choose_kernels(Machine("darwin", "arm64", None), "float32").because


def test_an_explicit_request_is_another_machines_setting() -> None:
    sapphire = dataclasses.replace(LINUX, flags=SAPPHIRE)
    for dtype in ("float32", "bfloat16", "float16"):
        assert kernels_for(LINUX, dtype, "onednn") is KernelSet.ONEDNN  # predicted for a CPU that takes it
        assert kernels_for(sapphire, dtype, "plain") is KernelSet.PLAIN
    assert kernels_for(LINUX, "float64", "onednn") is KernelSet.PLAIN
    assert choose_kernels(LINUX, "float32", CpuKernels.PLAIN).because == "oneDNN is off: --cpu-kernels plain"


def test_env_switch_reads_the_variable_as_tensorflow_does() -> None:
    assert [env_switch(v) for v in (None, "0", "false", "FALSE", "1", "true", "True", "", "2", "yes")] == [
        None, False, False, False, True, True, True, None, None, None,
    ]  # fmt: skip


def test_cpuinfo_is_read_for_the_first_processor() -> None:
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 AVX512F\n\nprocessor\t: 1\nflags\t: sse\n"
    assert parse_cpuinfo(x86) == (frozenset({"fpu", "avx2", "avx512f"}), "AMD EPYC", False)
    arm = "processor\t: 0\nFeatures\t: fp asimd sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n"
    assert parse_cpuinfo(arm) == (frozenset({"fp", "asimd", "sve"}), None, True)
    assert parse_cpuinfo("") == (None, None, False)


def test_this_machine_is_read_without_tensorflow() -> None:
    script = (
        "import sys, time; t = time.perf_counter(); from convinspect.engines.machine import this_machine; "
        "m = this_machine(); print(time.perf_counter() - t, 'tensorflow' in sys.modules, m.system)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False", out
    if sys.platform.startswith("linux"):
        assert this_machine().flags is not None


# -- TensorFlow's own flag, in a process per setting ------------------------------------------------


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_the_prediction_equals_tensorflows_own_onednn_flag(setting: str, workers: dict[str, Worker]) -> None:
    """The analytic decision for this machine with the worker's environment is what TensorFlow did."""
    machine = dataclasses.replace(this_machine(), env=SETTINGS[setting])
    predicted = choose_kernels(machine, "float32")
    assert workers[setting].onednn == predicted.onednn, predicted.because
    if setting == "default":
        seen(f"oneDNN {'on' if predicted.onednn else 'off'} by default")
    report = workers[setting]({"filters": 2, "kernel": 3, "input": "1,5,5,1"}, engine="both")["report"]
    assert report["runtime"]["onednn"] == predicted.onednn and report["runtime"]["because"] == predicted.because


# -- each rule, observed on the kernel set that has it ------------------------------------------------

# One layer per rule, with the kernel sets that refuse it, and a neighbour of each that runs.
RULES: list[tuple[dict[str, Any], str, tuple[str, ...], dict[str, Any]]] = [
    ({"filters": 6, "kernel": "1,5", "data_format": "channels_first", "dtype": "float16", "input": "2,4,6,7"},
     "nchw_cpu", ("plain",), {"data_format": "channels_last", "input": "2,6,7,4"}),
    ({"layer": "conv1d", "filters": 4, "kernel": 3, "data_format": "channels_first", "input": "1,3,9"},
     "nchw_cpu", ("plain",), {"groups": 1, "data_format": "channels_last", "input": "1,9,3"}),
    ({"layer": "depthwise-conv2d", "kernel": 1, "strides": "1,3", "dtype": "float64", "input": "2,6,8,3"},
     "unequal_strides", ("plain",), {"strides": "2,2"}),
    ({"layer": "separable-conv2d", "filters": 4, "kernel": 2, "strides": "2,1", "dtype": "mixed_bfloat16",
      "input": "1,6,6,2"}, "unequal_strides", ("plain",), {"strides": "1"}),
    ({"layer": "conv2d-transpose", "filters": 3, "kernel": 3, "data_format": "channels_first", "input": "1,2,4,4"},
     "transpose_nchw_cpu", ("plain",), {"data_format": "channels_last", "input": "1,4,4,2"}),
    ({"layer": "conv3d-transpose", "filters": 2, "kernel": 2, "dilation": 2, "dtype": "float64",
      "input": "1,3,3,3,2"}, "transpose_dilation_cpu", ("plain",), {"dilation": 1}),
    ({"layer": "conv1d-transpose", "filters": 1, "kernel": 2, "padding": "same", "output_padding": 0,
      "input": "1,4,1"}, "transpose_same_even_kernel", ("plain", "onednn"), {"output_padding": None}),
]  # fmt: skip
IDS = [f"{r[1]}-{i}" for i, r in enumerate(RULES)]


def _runtime(answer: dict[str, Any]) -> dict[str, Any]:
    assert "report" in answer, answer
    return answer["report"]["runtime"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("options", "rule", "refused_by", "fix"), RULES, ids=IDS)
def test_each_rule_is_observed_by_keras_and_predicted_without_it(
    options: dict[str, Any], rule: str, refused_by: tuple[str, ...], fix: dict[str, Any], workers: dict[str, Worker]
) -> None:
    observed = _runtime(workers["plain"](options, engine="keras"))
    predicted = inspect_layer(options, engine="analytic", cpu_kernels="plain").runtime
    assert (observed["runs"], observed["rule"], observed["observed"], observed["kernels"]) == (
        False, rule, True, "plain")  # fmt: skip
    assert (predicted.runs, predicted.rule, predicted.observed) == (False, rule, False)
    assert _runtime(workers["plain"](options, engine="both"))["runs"] is False  # the engines agree
    fixed = {k: v for k, v in {**options, **fix}.items() if v is not None}
    assert _runtime(workers["plain"](fixed, engine="keras"))["runs"]
    assert inspect_layer(fixed, engine="analytic", cpu_kernels="plain").runtime.runs
    # On oneDNN, in float32, only the rules of both kernel sets remain.
    on_onednn = {**options, "dtype": "float32"}
    runs = _runtime(workers["onednn"](on_onednn, engine="both"))
    assert (runs["kernels"], runs["runs"], runs.get("rule")) == (
        ("onednn", False, rule) if "onednn" in refused_by else ("onednn", True, None))  # fmt: skip


@pytest.mark.parametrize("forward", ["eager", "symbolic"])
def test_the_forward_mode_does_not_decide_the_verdict(forward: str, workers: dict[str, Worker]) -> None:
    options, rule, _, _ = RULES[0]
    report = workers["plain"](options, forward=forward)["report"]
    assert (report["forward"], report["runtime"]["runs"], report["runtime"]["rule"]) == (forward, False, rule)


def test_an_input_over_the_budget_is_probed_on_a_small_one(workers: dict[str, Worker]) -> None:
    report = workers["plain"]({**RULES[0][0], "input": "64,4,4096,4096"})["report"]
    assert report["forward"] == "symbolic" and report["forward_choice"]["reason"] == "over_budget"
    assert (report["runtime"]["runs"], report["runtime"]["rule"], report["runtime"]["observed"]) == (
        False, "nchw_cpu", True)  # fmt: skip


def test_an_unknown_batch_is_probed_too(workers: dict[str, Worker]) -> None:
    report = workers["plain"]({**RULES[0][0], "input": "?,4,6,7"})["report"]
    assert (report["forward"], report["runtime"]["observed"], report["runtime"]["runs"]) == ("symbolic", True, False)


ARGS = ["build", "--filters", "6", "--kernel", "1,5", "--data-format", "channels_first", "--input", "2,4,6,7"]


def test_valid_but_not_runnable_exits_0_with_one_warning_line(cli: Any, workers: dict[str, Worker]) -> None:
    args = [*ARGS, "--engine", "analytic", "--cpu-kernels", "plain"]
    result = cli(*args, "--format", "plain")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: TensorFlow on the CPU cannot run this layer on its plain kernels (predicted by the analytic engine; "
        "oneDNN is off: --cpu-kernels plain): TensorFlow's plain CPU Conv1D/Conv2D kernels take channels_last (NHWC) "
        "only; it would run with channels_last, groups > 1, oneDNN (TF_ENABLE_ONEDNN_OPTS=1), or a GPU"
    ]
    assert "kernels=plain onednn=false because=oneDNN is off: --cpu-kernels plain" in result.stdout
    table = cli(*args)
    assert table.exit_code == 0 and table.stdout.count("warning:") == 1
    data = workers["plain"]({"filters": 6, "kernel": "1,5", "data_format": "channels_first", "input": "2,4,6,7"})
    assert data["report"]["runtime"] == {
        "backend": "tensorflow", "device": "CPU", "runs": False, "rule": "nchw_cpu",
        "reason": "The Conv2D op currently only supports the NHWC tensor format on the CPU. "
                  "The op was given the format: NCHW [Op:Conv2D]",
        "observed": True, "kernels": "plain", "onednn": False, "because": "oneDNN is off: TF_ENABLE_ONEDNN_OPTS=0",
    }  # fmt: skip
    failed = cli(*args, "--expect-runs")
    assert failed.exit_code == 1
    assert failed.stderr == "convinspect: check failed: runs: expected True, actual False\n"
    assert cli(*ARGS, "--engine", "analytic", "--cpu-kernels", "onednn", "--expect-runs").exit_code == 0


def test_a_runnable_layer_reports_runs_and_its_kernels(cli: Any) -> None:
    data = json.loads(cli("build", "-f", "4", "-k", "3", "-i", "1,6,6,2", "--format", "json").stdout)
    expected = choose_kernels(this_machine(), "float32")
    assert data["runtime"] == {"backend": "tensorflow", "device": "CPU", "runs": True, "observed": True,
                               "kernels": str(expected.kernels), "onednn": expected.onednn,
                               "because": expected.because}  # fmt: skip


def test_expect_runs_and_cpu_kernels_in_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "runs.toml"
    spec.write_text(
        '[[layer]]\nfilters = 6\nkernel = "1,5"\ndata_format = "channels_first"\n'
        'input = "2,4,6,7"\nexpect_runs = true\ncpu_kernels = "plain"\n\n'
        '[[layer]]\nfilters = 6\nkernel = 3\ninput = "2,6,6,4"\nexpect_runs = true\ncpu_kernels = "plain"\n\n'
        '[[layer]]\nfilters = 6\nkernel = "1,5"\ndata_format = "channels_first"\n'
        'input = "2,4,6,7"\nexpect_runs = true\ncpu_kernels = "onednn"\n\n'
        '[[layer]]\nfilters = 6\nkernel = 3\ninput = "2,6,6,4"\ncpu_kernels = "gpu"\n'
    )
    run = run_check([str(spec)], engine="analytic")
    assert [r.status for r in run.results] == ["failed", "passed", "passed", "invalid"] and run.exit_code == 2
    assert run.results[3].error is not None and run.results[3].error.startswith("cpu_kernels: unknown value 'gpu'")
    # The Keras engine on the plain kernels, as a CI runner without oneDNN runs it
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.run([sys.executable, "-m", "convinspect", "check", str(spec), "-F", "json"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    statuses = [r["status"] for r in json.loads(proc.stdout)["results"]]
    assert statuses[:2] == ["failed", "passed"] and statuses[3] == "invalid", proc.stderr
    # oneDNN asked in a run whose TensorFlow runs without it: a worker started with it on judges the entry
    third = json.loads(proc.stdout)["results"][2]
    assert statuses[2] == "passed" and third["report"]["runtime"]["kernels"] == "onednn", third
    assert third["report"]["runtime"]["because"] == "oneDNN is on (--cpu-kernels onednn) and takes float32 on every CPU"


def test_the_keras_engine_refuses_what_it_cannot_honour(workers: dict[str, Worker], cli: Any) -> None:
    options = {"filters": 2, "kernel": 3, "input": "1,5,5,1"}
    error = workers["plain"](options, cpu_kernels="onednn")["error"]
    assert (error["option"], error["exit_code"]) == ("cpu_kernels", 2)
    assert "already loaded in this process with oneDNN off" in error["message"]
    assert _runtime(workers["plain"](options, cpu_kernels="plain"))["because"] == "oneDNN is off: --cpu-kernels plain"
    half = workers["onednn"]({**options, "dtype": "float16"}, cpu_kernels="onednn")
    if this_machine().supports("float16"):
        assert _runtime(half)["kernels"] == "onednn"
    else:  # this CPU cannot take float16 on oneDNN: the request cannot be honoured here
        assert half["error"]["option"] == "cpu_kernels" and "cannot run float16 on oneDNN" in half["error"]["message"]
    bad = cli("build", "-f", "2", "-k", "3", "-i", "1,5,5,1", "--cpu-kernels", "gpu")
    assert (bad.exit_code, bad.stderr) == (
        2, "convinspect: error: --cpu-kernels: unknown value 'gpu'; expected one of auto, onednn, plain\n")  # fmt: skip
    jax = subprocess.run([sys.executable, "-m", "convinspect", "build", "-f", "2", "-k", "3", "-i", "1,5,5,1",
                          "--backend", "jax", "--cpu-kernels", "plain"], capture_output=True, text=True)  # fmt: skip
    assert jax.returncode == 2 and "--cpu-kernels: chooses TensorFlow's CPU kernels; the jax backend has none" in (
        jax.stderr)  # fmt: skip


def test_sweep_says_which_kernels_it_judged_for(cli: Any) -> None:
    args = ["sweep", "-f", "4", "-k", "3", "--data-format", "channels_first", "-i", "1,3,5..6,8"]
    table = cli(*args, "--cpu-kernels", "plain").stdout
    assert "ok, does not run (nchw_cpu)" in table
    assert table.rstrip().endswith("does not run: judged for TensorFlow's plain CPU kernels (oneDNN is off: "
                                   "--cpu-kernels plain)")  # fmt: skip
    data = json.loads(cli(*args, "--cpu-kernels", "onednn", "-F", "json").stdout)
    assert data["runtime"]["kernels"] == "onednn" and all(row["runs"] for row in data["rows"])


# -- the property: every kind, dtype and format, on both kernel sets --------------------------------

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
        "padding": draw(st.sampled_from(["valid", "same", "causal"] if kind == "conv1d" else ["valid", "same"])),
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
    return {k: v for k, v in options.items() if v is not None}


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(options=runtime_options(), setting=st.sampled_from(["plain", "onednn"]))
def test_predicted_runs_equals_the_real_eager_call_on_both_kernel_sets(
    options: dict[str, Any], setting: str, workers: dict[str, Worker]
) -> None:
    """In a process with oneDNN off, then on: `--engine both` agrees (the analytic engine reading the same
    machine facts as TensorFlow), and the prediction for the kernel set that ran equals the eager call."""
    try:
        spec = parse_spec(options)
    except InvalidInput:
        assume(False)
        return
    answer = workers[setting](options, engine="both", forward="eager")
    if "error" in answer:
        assert answer["error"]["exit_code"] == 2 and answer["error"]["rule"] is not None, answer  # Keras rejects it
        assume(False)
    observed = answer["report"]["runtime"]
    predicted = inspect_layer(spec, engine="analytic", cpu_kernels=observed["kernels"]).runtime
    assert (predicted.runs, predicted.rule) == (observed["runs"], observed.get("rule")), (options, observed)
    seen(f"{observed['kernels']} {spec.compute_dtype}")
    event(f"{setting}: {observed['kernels']} kernels, {observed.get('rule') or 'runs'}")


# -- whole models: each conv layer judged on the kernels of its dtype ------------------------------


def _channels_first_model(tmp_path: Path) -> str:
    import keras

    x = keras.Input((3, 16, 16))
    y = keras.layers.Conv2D(8, 3, data_format="channels_first", name="c1")(x)
    y = keras.layers.Conv2D(8, 3, data_format="channels_first", name="c2")(y)
    y = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(y)
    path = tmp_path / "cf.json"
    path.write_text(keras.Model(x, keras.layers.Dense(2, name="out")(y)).to_json())
    return str(path)


def test_a_model_names_the_conv_layers_the_kernels_would_refuse(tmp_path: Path, cli: Any) -> None:
    path = _channels_first_model(tmp_path)
    failed = cli("model", path, "--engine", "analytic", "--cpu-kernels", "plain", "--expect-runs")
    assert failed.exit_code == 1, failed.output
    text = " ".join(failed.stdout.split())
    assert (
        "warning: TensorFlow on the CPU would not run 2 of 2 conv layer calls (predicted from their "
        "configuration): c1, c2 (nchw_cpu, on its plain kernels: oneDNN is off: --cpu-kernels plain" in text
    )
    assert failed.stderr == "convinspect: check failed: runs: expected True, actual False\n"
    data = json.loads(cli("model", path, "-e", "analytic", "--cpu-kernels", "plain", "-F", "json").stdout)
    assert data["runtime"]["runs"] is False
    assert [r["layer"] for r in data["runtime"]["refused"]] == ["c1", "c2"]
    assert data["runtime"]["kernels"]["float32"]["kernels"] == "plain"
    ok = cli("model", path, "--engine", "analytic", "--cpu-kernels", "onednn", "--expect-runs")
    assert ok.exit_code == 0 and "would not run" not in ok.stdout
    # The Keras engine judges with TensorFlow's own flag, and both engines agree on this machine.
    both = json.loads(cli("model", path, "--engine", "both", "-F", "json").stdout)
    analytic = json.loads(cli("model", path, "--engine", "analytic", "-F", "json").stdout)
    assert both["runtime"] == analytic["runtime"]


def test_a_model_entry_in_a_spec_file_takes_expect_runs_and_cpu_kernels(tmp_path: Path) -> None:
    path = _channels_first_model(tmp_path)
    spec = tmp_path / "m.toml"
    spec.write_text(f'[[model]]\nsource = "{path}"\nexpect_runs = true\ncpu_kernels = "plain"\n\n'
                    f'[[model]]\nsource = "{path}"\nexpect_runs = true\ncpu_kernels = "onednn"\n')  # fmt: skip
    run = run_check([str(spec)], engine="analytic")
    assert [r.status for r in run.results] == ["failed", "passed"]


# -- what a hostile review of --cpu-kernels found ------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"} | (env or {})
    return subprocess.run([sys.executable, "-m", "convinspect", *args], capture_output=True, text=True, env=full,
                          timeout=300, check=False)  # fmt: skip


def test_an_earlier_entrys_kernels_never_decide_a_later_entrys(tmp_path: Path) -> None:
    """Each request runs in a worker whose TensorFlow was started with its own kernels (engines/worker.py)."""
    spec = tmp_path / "order.toml"
    layer = 'filters = 8\nkernel = 3\ninput = "1,3,8,8"\ndata_format = "channels_first"\n'
    spec.write_text(f'[[layer]]\n{layer}cpu_kernels = "plain"\n\n[[layer]]\n{layer}expect_runs = true\n')
    results = json.loads(_cli("check", str(spec), "-F", "json").stdout)["results"]
    assert results[0]["status"] == "failed" or results[0]["report"]["runtime"]["kernels"] == "plain"
    second = results[1]
    if choose_kernels(dataclasses.replace(this_machine(), env=None), "float32").onednn:
        assert second["status"] == "passed" and second["report"]["runtime"]["kernels"] == "onednn", second
    else:  # this machine's own kernels are the plain ones: the entry is judged on them, and says why
        assert second["report"]["runtime"]["because"].startswith("oneDNN is off: TF_ENABLE_ONEDNN_OPTS unset")


def test_model_layer_takes_expect_runs_and_plain(cli: Any, tmp_path: Path) -> None:
    path = _channels_first_model(tmp_path)
    args = ["model", path, "-e", "analytic", "--layer", "c1", "--cpu-kernels", "plain"]
    failed = cli(*args, "--expect-runs", "-F", "json")
    assert failed.exit_code == 1 and "check failed: runs: expected True, actual False" in failed.stderr
    assert "convinspect: warning: TensorFlow on the CPU cannot run this layer" in failed.stderr
    assert cli(*args, "-F", "plain").stdout.startswith("layer: Conv2D name=c1")
    assert cli("model", path, "-e", "analytic", "-F", "plain").exit_code == 2


def test_expect_runs_on_a_model_of_another_backend_is_refused() -> None:
    result = _cli("model", str(EXAMPLES / "mnist_convnet.json"), "--backend", "numpy",
                  "--expect-runs")  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("convinspect: error: --expect-runs: judges TensorFlow")


def test_a_request_the_tensorflow_child_cannot_honour_is_one_line_for_backend_all(cli: Any) -> None:
    if this_machine().supports("float16"):
        pytest.skip("this CPU runs float16 on oneDNN: the request can be honoured")
    result = cli("build", "-f", "8", "-k", "3", "-i", "1,8,8,3", "--dtype", "float16", "--backend", "all",
                 "--cpu-kernels", "onednn")  # fmt: skip
    assert result.exit_code == 2 and result.stderr.startswith("convinspect: error: tensorflow: --cpu-kernels: ")
    assert result.stderr.count("\n") == 1


def test_a_sweep_refuses_a_request_the_process_cannot_honour(cli: Any) -> None:
    args = ["sweep", "-f", "8", "-k", "3", "-i", "1,3,7..8,8", "-e", "keras", "--dtype", "float16",
            "--cpu-kernels", "onednn"]  # fmt: skip
    result = cli(*args)
    honoured = this_machine().supports("float16")  # a worker is started with oneDNN on for the request
    assert result.exit_code == (0 if honoured else 2), result.output
    if not honoured:
        assert result.stderr.startswith("convinspect: error: --cpu-kernels: ") and "rejected" not in result.stdout


def test_check_reports_say_a_verification_was_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "ver.toml"
    spec.write_text('[[layer]]\nfilters = 8\nkernel = 3\ninput = "1,3,8,8"\ndata_format = "channels_first"\n'
                    'verify = true\n')  # fmt: skip
    junit = _cli("check", str(spec), "-F", "junit", "--cpu-kernels", "plain").stdout
    assert 'skipped="1"' in junit and "verify skipped: tensorflow cannot run this layer" in junit
    table = " ".join(_cli("check", str(spec), "--cpu-kernels", "plain", env={"COLUMNS": "200"}).stdout.split())
    assert "cannot run this layer on its plain kernels" in table and "verify skipped" in table


def test_cpu_kernels_in_a_spec_file_must_be_a_string(tmp_path: Path) -> None:
    spec = tmp_path / "t.toml"
    spec.write_text('[[layer]]\nfilters = 8\nkernel = 3\ninput = "1,8,8,3"\ncpu_kernels = ["plain"]\n')
    (result,) = run_check([str(spec)], engine="analytic").results
    assert (
        result.status == "invalid"
        and result.error == "cpu_kernels: expected a string: auto, onednn or plain; got ['plain']"
    )
