"""The runtime rules on CPUs this suite does not run on: recorded /proc/cpuinfo entries (tests/cpus/).

Each expected verdict is written out from TensorFlow 2.21's policy as docs/conventions.md states
it ("Which CPU kernels run a layer", "Known crashes"), not computed by the code under test. The
whole analytic engine runs (the command line, JSON), with the CPU read through the one function
that reads it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from convinspect.core.layer.runtime import choose_kernels
from convinspect.engines import machine

from cpus import NAMES, facts, recorded

DTYPES = ("float32", "bfloat16", "float16", "float64")

# name: (oneDNN on by default, kernels per dtype by default, kernels per dtype with TF_ENABLE_ONEDNN_OPTS=1)
POLICY: dict[str, tuple[bool, tuple[str, ...], tuple[str, ...]]] = {
    # no avx512_vnni/avx512_bf16/avx_vnni/amx: off; with it on, no avx512f: 16-bit stays plain
    "amd_epyc_avx2": (False, ("plain",) * 4, ("onednn", "plain", "plain", "plain")),
    # Zen 4: avx512_vnni and avx512_bf16 turn it on; avx512f takes bfloat16; no avx512_fp16, no AMX
    "amd_epyc_avx512": (True, ("onednn", "onednn", "plain", "plain"), ("onednn", "onednn", "plain", "plain")),
    # avx512_vnni: on; avx512f takes bfloat16; no avx512_fp16: float16 plain
    "intel_avx512": (True, ("onednn", "onednn", "plain", "plain"), ("onednn", "onednn", "plain", "plain")),
    # avx512bw + avx512_fp16: float16 too; float64 never
    "sapphire_rapids": (True, ("onednn", "onednn", "onednn", "plain"), ("onednn", "onednn", "onednn", "plain")),
    # aarch64: on only on a Neoverse V1; oneDNN's 16-bit paths are x86 ones
    "graviton3_neoverse_v1": (True, ("onednn", "plain", "plain", "plain"), ("onednn", "plain", "plain", "plain")),
    "graviton2_neoverse_n1": (False, ("plain",) * 4, ("onednn", "plain", "plain", "plain")),
    # no AVX at all: none of the features, so off
    "no_avx": (False, ("plain",) * 4, ("onednn", "plain", "plain", "plain")),
}

# One layer per rule, and its verdict on each CPU by default: "runs" or the rule.
CRASHING = ["-l", "conv3d-transpose", "-f", "64", "-k", "6", "-p", "same", "-d", "3,3,1", "--dtype", "bfloat16",
            "-i", "2,3,1,2,3"]  # fmt: skip
LAYERS: list[tuple[list[str], dict[str, str]]] = [
    (["-l", "conv1d", "-f", "2", "-k", "2", "--data-format", "channels_first", "--dtype", "float16", "-i", "1,3,4"],
     {"amd_epyc_avx2": "nchw_cpu", "amd_epyc_avx512": "nchw_cpu", "intel_avx512": "nchw_cpu", "sapphire_rapids": "runs",
      "graviton3_neoverse_v1": "nchw_cpu", "graviton2_neoverse_n1": "nchw_cpu", "no_avx": "nchw_cpu"}),
    (["-f", "4", "-k", "3", "--data-format", "channels_first", "-i", "1,3,8,8"],
     {"amd_epyc_avx2": "nchw_cpu", "amd_epyc_avx512": "runs", "intel_avx512": "runs", "sapphire_rapids": "runs",
      "graviton3_neoverse_v1": "runs", "graviton2_neoverse_n1": "nchw_cpu", "no_avx": "nchw_cpu"}),
    (["-l", "depthwise-conv2d", "-k", "1", "-s", "1,3", "--dtype", "bfloat16", "-i", "2,6,8,3"],
     {"amd_epyc_avx2": "unequal_strides", "amd_epyc_avx512": "runs", "intel_avx512": "runs", "sapphire_rapids": "runs",
      "graviton3_neoverse_v1": "unequal_strides", "graviton2_neoverse_n1": "unequal_strides",
      "no_avx": "unequal_strides"}),
    (["-l", "conv1d-transpose", "-f", "1", "-k", "2", "-p", "same", "--output-padding", "0", "-i", "1,4,1"],
     dict.fromkeys(POLICY, "transpose_same_even_kernel")),
    (CRASHING,  # the crash reported on a Xeon with AMX: predicted where oneDNN takes bfloat16 on AMX only
     {"amd_epyc_avx2": "transpose_dilation_cpu", "amd_epyc_avx512": "runs", "intel_avx512": "runs",
      "sapphire_rapids": "crash",
      "graviton3_neoverse_v1": "transpose_dilation_cpu", "graviton2_neoverse_n1": "transpose_dilation_cpu",
      "no_avx": "transpose_dilation_cpu"}),
]  # fmt: skip


@pytest.fixture
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Become the recorded machine `name`, with TF_ENABLE_ONEDNN_OPTS as given (None: unset)."""

    def become(name: str, env: str | None = None) -> machine.Machine:
        monkeypatch.setattr(machine, "cpu_facts", lambda: facts(name))
        monkeypatch.setattr(machine, "_USER_ENV", [])
        if env is None:
            monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        else:
            monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", env)
        return machine.this_machine()

    return become


def test_every_recorded_cpu_has_its_policy() -> None:
    assert sorted(POLICY) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_decision_on_a_recorded_cpu(name: str, on_cpu: Any) -> None:
    default_on, default, forced = POLICY[name]
    here = on_cpu(name)
    assert here.flags is not None and (here.arch == "aarch64") == name.startswith("graviton")
    assert [str(choose_kernels(here, d).kernels) for d in DTYPES] == list(default)
    assert choose_kernels(here, "float32").onednn is default_on
    recorded(f"oneDNN {'on' if default_on else 'off'} by default")
    for dtype, kernels in zip(DTYPES, default):
        recorded(f"{kernels} {dtype}")
    forced_here = on_cpu(name, "1")
    assert [str(choose_kernels(forced_here, d).kernels) for d in DTYPES] == list(forced)
    assert all(str(choose_kernels(on_cpu(name, "0"), d).kernels) == "plain" for d in DTYPES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("args", "verdicts"), LAYERS, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in
                                                             enumerate(LAYERS)])  # fmt: skip
def test_the_analytic_verdict_on_a_recorded_cpu(
    name: str, args: list[str], verdicts: dict[str, str], on_cpu: Any, cli: Any
) -> None:
    on_cpu(name)
    result = cli("build", "-e", "analytic", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    runtime = json.loads(result.stdout)["runtime"]
    assert (runtime.get("rule") or "runs") == verdicts[name], runtime
    assert runtime["runs"] is (verdicts[name] == "runs")
    if verdicts[name] == "crash":
        recorded("known crash: Conv3DTranspose bfloat16 dilated on oneDNN with AMX")
        assert "crashes on this layer here" in runtime["reason"]
        assert result.stderr.startswith("convinspect: warning: TensorFlow on the CPU cannot run this layer")
        failed = cli("build", "-e", "analytic", *args, "--expect-runs", "--format", "json")
        assert failed.exit_code == 1 and "check failed" in failed.stderr


def test_pinned_kernels_give_one_verdict_on_every_cpu(on_cpu: Any, cli: Any) -> None:
    """What a fleet of mixed runners needs: --cpu-kernels plain is the same machine everywhere."""
    seen = set()
    for name in NAMES:
        on_cpu(name)
        result = cli("build", "-e", "analytic", *LAYERS[0][0], "--cpu-kernels", "plain", "--format", "json")
        seen.add(json.loads(result.stdout)["runtime"]["rule"])
    assert seen == {"nchw_cpu"}


def test_the_keras_engine_never_runs_a_known_crash(on_cpu: Any) -> None:
    """On a CPU where the rules know the kernel kills the process, even the in-process engine (the Python
    API) builds the layer symbolically and reports the prediction: the program that called it lives."""
    from convinspect import inspect_layer
    from convinspect.engines import session as engine

    engine.load()  # with this process's own setting (conftest.py turns oneDNN on)
    on_cpu("sapphire_rapids")
    if not engine.onednn_switch():
        pytest.skip("this process's TensorFlow runs with oneDNN off")
    options = {"layer": "conv3d-transpose", "filters": 64, "kernel": 6, "padding": "same", "dilation": "3,3,1",
               "dtype": "bfloat16", "input": "2,3,1,2,3"}  # fmt: skip
    report = inspect_layer(options, engine="keras", verify=True)
    runtime = report.runtime
    assert (runtime.runs, runtime.rule, runtime.observed, runtime.signal) == (False, "crash", False, None)
    assert report.output_shape == (2, 3, 1, 2, 64) and report.variables_after[0].shape == (6, 6, 6, 64, 3)
    assert report.verification is not None and report.verification.skipped is not None
