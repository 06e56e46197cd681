"""--verify and --backend: the real layer's numbers against the float64 reference, on TensorFlow and JAX.

This process runs Keras on TensorFlow; JAX and NumPy runs happen in subprocesses (Keras binds
one backend per process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from paths import EXAMPLES
from typer.testing import CliRunner

from convinspect.api import inspect_layer
from convinspect.cli import app
from convinspect.core.layer import xla
from convinspect.core.layer.kinds import KINDS
from convinspect.core.layer.spec import parse_spec
from convinspect.engines import reference
from convinspect.engines.machine import this_machine
from convinspect.engines.session import installed
from convinspect.errors import ConvinspectError, InvalidInput

from kernels import Worker
from strategies import SMALL, layer_cases

runner = CliRunner()
needs_jax = pytest.mark.skipif(not installed("jax"), reason="jax is not installed (pip install 'convinspect[jax]')")

# Keras 3.15 on TensorFlow adds a channels_first bias along the last axis when that axis has
# as many cells as there are filters (keras-team/keras PR #20386's bias_add shortcut).
DEFECT = {"filters": 8, "kernel": 3, "data_format": "channels_first", "input": "1,4,10,10"}
BIAS_FINDING = "bias added on the wrong axis"

_RUN = """
import json, sys
from convinspect.api import inspect_layer
from convinspect.errors import ConvinspectError, InvalidInput
for line in iter(sys.stdin.readline, ""):
    options = json.loads(line)
    try:
        report = inspect_layer(options, backend=sys.argv[1], verify=True)
    except InvalidInput as err:
        print(json.dumps({"status": "invalid", "rule": err.rule}), flush=True)
        continue
    except Exception as err:
        print(json.dumps({"status": "error", "error": f"{type(err).__name__}: {err}"}), flush=True)
        continue
    data = report.to_dict()
    print(json.dumps({"status": "ok", "output_shape": data["output_shape"], "runs": data["runtime"]["runs"],
                      "variables": [(v["name"], v["shape"]) for v in data["variables_after"]],
                      "rule": data["runtime"].get("rule"),
                      "verify": data.get("verify"), "backend": data["versions"]["backend"]}), flush=True)
"""


def run_elsewhere(backend: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """inspect_layer(verify=True) for each case, on `backend`, in one fresh process."""
    text = "".join(json.dumps(case) + "\n" for case in cases)
    proc = subprocess.run([sys.executable, "-c", _RUN, backend], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def here(options: dict[str, Any], engine: str = "keras") -> dict[str, Any]:
    try:
        report = inspect_layer(options, engine=engine, verify=engine != "analytic")
    except InvalidInput as err:
        return {"status": "invalid", "rule": err.rule}
    except ConvinspectError as err:
        return {"status": "error", "error": err.message()}
    data = report.to_dict()
    variables = [(v["name"], v["shape"]) for v in data["variables_after"]]
    return {"status": "ok", "output_shape": data["output_shape"], "runs": data["runtime"]["runs"],
            "variables": variables, "verify": data.get("verify")}  # fmt: skip


# -- the known defect, kept as a regression case ---------------------------------------------


def test_verify_names_the_channels_first_bias_defect_on_tensorflow(workers: dict[str, Worker]) -> None:
    """The defect shows where the layer runs: oneDNN's float32 kernels (a worker with oneDNN on)."""
    report = workers["onednn"](DEFECT, verify=True, cpu_kernels="onednn")["report"]
    verify = report["verify"]
    if verify["ok"]:
        pytest.fail(
            f"Keras {report['versions']['keras']} on TensorFlow no longer adds this channels_first bias on the wrong "
            "axis: the defect is fixed upstream; turn this regression test into a plain passing case"
        )
    assert verify["finding"] == "bias added on the wrong axis: along axis 3 (size 8) instead of the channel axis 1"
    assert verify["ok"] is False and verify["reference"] == "numpy-float64" and report["runtime"]["kernels"] == "onednn"


def convinspect(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own (it sets TensorFlow's oneDNN switch before importing it)."""
    return subprocess.run([sys.executable, "-m", "convinspect", *args], capture_output=True, text=True, check=False)


@needs_jax
@pytest.mark.parametrize("backend", ["jax", "numpy"])
def test_the_same_layer_verifies_on_jax_and_numpy(backend: str) -> None:
    (result,) = run_elsewhere(backend, [DEFECT])
    assert result["backend"] == backend and result["verify"]["ok"], result


def test_a_failed_verification_exits_1_with_one_line() -> None:
    result = convinspect("build", *_flags(DEFECT), "--cpu-kernels", "onednn", "--verify", "--format", "json")
    assert result.returncode == 1
    assert result.stderr.startswith("convinspect: verify FAILED: tensorflow differs") and result.stderr.count("\n") == 1
    assert json.loads(result.stdout)["verify"]["ok"] is False


def _flags(options: dict[str, Any]) -> list[str]:
    return [part for key, value in options.items() for part in (f"--{key.replace('_', '-')}", str(value))]


# -- the reference itself --------------------------------------------------------------------


def test_the_reference_is_not_fooled_by_a_wrong_padding_split() -> None:
    options = {"filters": 3, "kernel": 4, "padding": "same", "input": "1,9,9,2"}
    report = inspect_layer(options, verify=True)
    assert report.verification is not None and report.verification.ok
    # The same layer with `same` padding split the other way (odd cell first) must not pass.
    from convinspect.core.layer.spec import parse_spec

    spec = parse_spec(options)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 9, 9, 2))
    weights = {"kernel": rng.standard_normal((4, 4, 2, 3)), "bias": rng.standard_normal(3)}
    expected, _ = reference.forward(spec, x, weights, (1, 9, 9, 3))
    shifted = np.pad(x, ((0, 0), (2, 1), (2, 1), (0, 0)))  # TensorFlow pads (1, 2); this is (2, 1)
    wrong = np.zeros((1, 9, 9, 3))
    for i in range(4):
        for j in range(4):
            wrong += shifted[:, i : i + 9, j : j + 9, :] @ weights["kernel"][i, j]
    assert not np.allclose(wrong + weights["bias"], expected)


def test_verify_over_the_budget_uses_a_probe_and_says_so() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "input": "64,256,256,8"}, verify=True, budget="1MiB")
    v = report.verification
    assert v is not None and v.ok and v.probe and v.input_shape == (1, 6, 6, 8)
    text = runner.invoke(app, ["build", "-f", "4", "-k", "3", "-i", "64,256,256,8", "--verify", "--budget", "1MiB"])
    assert "verify: tensorflow matches the float64 reference on a probe input (1, 6, 6, 8)" in " ".join(
        text.stdout.split()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verify", "-e", "analytic"], "--verify: needs the real forward pass"),
        (["--backend", "mxnet"], "--backend: unknown backend 'mxnet'; expected one of tensorflow, jax, numpy, torch"),
        (["--backend", "jax", "-e", "analytic"], "--backend: chooses the Keras engine's backend"),
        (["--backend", "all", "-e", "analytic"], "--backend: runs the Keras engine on every backend"),
    ],
)
def test_bad_verify_and_backend_options(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["build", "-f", "2", "-k", "3", "-i", "1,8,8,1", *args])
    assert result.exit_code == 2 and result.stderr.startswith(f"convinspect: error: {message}"), result.stderr


@pytest.mark.skipif(installed("torch"), reason="torch is installed here")
def test_a_backend_that_is_not_installed_names_the_package() -> None:
    script = "from convinspect.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", script, "build", "-f", "2", "-k", "3", "-i", "1,8,8,1", "--backend", "torch"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        "convinspect: error: --backend: the torch backend needs torch, which is not installed: pip install torch\n"
    )


def test_a_second_backend_in_one_process_is_refused() -> None:
    with pytest.raises(Exception, match="already loaded with the tensorflow backend"):
        inspect_layer({"filters": 2, "kernel": 3, "input": "1,8,8,1"}, backend="jax")


@needs_jax
def test_backend_all_prints_a_conformance_table() -> None:
    result = runner.invoke(app, ["build", *_flags(DEFECT), "--backend", "all", "--cpu-kernels", "onednn", "-F", "json"])
    data = json.loads(result.stdout)
    assert data["schema"] == "convinspect.conformance/1" and result.exit_code == 1
    by_name = {run["backend"]: run for run in data["backends"]}
    assert by_name["tensorflow"]["status"] == "failed" and by_name["jax"]["status"] == "ok"
    assert by_name["tensorflow"]["runs"] and by_name["jax"]["runs"]
    assert by_name["numpy"]["verify"]["ok"] and data["disagreements"] == []
    assert by_name["jax"]["output_shape"] == by_name["tensorflow"]["output_shape"] == [1, 8, 8, 8]


# -- the cross-backend property -------------------------------------------------------------


class JaxWorker:
    """One JAX process for the whole property: a JSON line in, a JSON line out, per config."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", _RUN, self.backend], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)  # fmt: skip

    def __call__(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.proc.poll() is not None:  # an earlier example killed it: the next one gets a fresh process
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(options) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the {options} run ended the worker (exit {self.proc.wait(timeout=60)})"
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        assert self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def jax_worker() -> Iterator[JaxWorker]:
    worker = JaxWorker("jax")
    yield worker
    worker.close()


@needs_jax
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=layer_cases(KINDS, SMALL))
def test_tensorflow_and_jax_agree_with_each_other_and_the_analytic_engine(case: Any, jax_worker: JaxWorker) -> None:
    options = case.options
    jax = _listed(jax_worker(options))
    tf, computed = _listed(here(options)), _listed(here(options, "analytic"))
    assert tf["status"] == jax["status"] == computed["status"], (tf, jax, computed)
    if tf["status"] == "invalid":
        assert tf["rule"] == jax["rule"] == computed["rule"]
        return
    for field in ("output_shape", "variables"):
        assert tf[field] == jax[field] == computed[field], field
    if xla.aborts(parse_spec(options)):  # never run, since XLA's CPU compiler would end the process
        assert not jax["runs"] and jax["rule"] == "crash" and jax["verify"]["ok"] is None, jax
    else:
        assert jax["runs"] and jax["verify"] is not None and jax["verify"]["ok"], jax["verify"]
    if tf["verify"] is not None and tf["verify"]["ok"] is False:  # only the known defects may fail
        leaky = options.get("dtype") == "float64" and options.get("activation") == "leaky_relu"
        known = leaky or _separable_unequal_strides(options) or _one_output_column(options, tf)
        assert known or BIAS_FINDING in tf["verify"]["finding"], tf["verify"]


def _one_output_column(options: dict[str, Any], tf: dict[str, Any]) -> bool:
    """The oneDNN AVX-512 defect of test_properties.test_tensorflow_conv_with_one_output_column: a conv of
    rank >= 2 reading one channel, strided along its last axis, writing one output column (float32 here)."""
    spec = parse_spec(options)
    if not this_machine().has("avx512f") or spec.kind.rank < 2 or spec.kind.recipe.transposed:
        return False
    columns = spec.data_format.spatial(tuple(tf["output_shape"]))[-1]
    return spec.channels == 1 and spec.config.strides[-1] > 1 and columns == 1


def _separable_unequal_strides(options: dict[str, Any]) -> bool:
    """A defect found on oneDNN (AMD EPYC, avx512): SeparableConv2D with unequal strides and a batch of
    more than one computes wrong outputs (separable-conv2d, input 2,2,2,1, kernel 1,2, strides 1,3,
    depth_multiplier 2: 2 of 4 outputs off; batch 1 is right)."""
    strides = str(options.get("strides", "1")).split(",")
    return str(options.get("layer")).startswith("separable") and len(set(strides)) > 1


def _listed(result: dict[str, Any]) -> dict[str, Any]:
    """JSON's lists for tuples, so results from here and from the worker compare equal."""
    return json.loads(json.dumps(result))  # type: ignore[no-any-return]


# -- what a hostile review found ---------------------------------------------------------------


def test_the_defect_is_caught_in_16_bit_dtypes_with_many_terms(workers: dict[str, Worker]) -> None:
    """bfloat16 runs on oneDNN only on a CPU with avx512f or avx_ne_convert; elsewhere it is skipped, and says so."""
    report = workers["onednn"]({**DEFECT, "input": "1,512,10,10", "dtype": "bfloat16"}, verify=True)["report"]
    v = report["verify"]
    if this_machine().supports("bfloat16"):
        assert v["ok"] is False and v["tolerance"] == 0.05 and BIAS_FINDING in v["finding"]
    else:
        assert (
            v["ok"] is None and v["skipped"] == "tensorflow cannot run this layer on its plain CPU kernels (nchw_cpu)"
        )


def test_the_defect_is_named_behind_an_activation(workers: dict[str, Worker]) -> None:
    report = workers["onednn"]({**DEFECT, "activation": "relu"}, verify=True)["report"]
    assert BIAS_FINDING in report["verify"]["finding"]


@needs_jax
def test_softmax_acts_on_the_last_axis_of_a_channels_first_output() -> None:
    options = {"filters": 3, "kernel": 3, "data_format": "channels_first", "input": "1,2,6,6", "activation": "softmax"}
    (result,) = run_elsewhere("jax", [options])
    assert result["verify"]["ok"] and result["verify"]["activation_checked"]


def test_tensorflow_float64_leaky_relu_uses_a_float32_slope() -> None:
    """A second, small TensorFlow finding: LeakyRelu takes its slope as a float32 attribute."""
    report = inspect_layer({"filters": 4, "kernel": 3, "dtype": "float64", "activation": "leaky_relu",
                            "input": "1,8,8,2"}, verify=True)  # fmt: skip
    v = report.verification
    assert v is not None
    if v.ok:
        pytest.fail("TensorFlow's float64 leaky_relu now matches the reference: drop this known finding")
    assert 1e-10 < v.max_rel_error < 1e-7


def test_a_layer_the_backend_cannot_run_says_verify_was_skipped(workers: dict[str, Worker]) -> None:
    report = workers["plain"](DEFECT, verify=True)["report"]
    assert report["verify"]["ok"] is None and report["runtime"]["runs"] is False
    assert report["verify"]["skipped"] == "tensorflow cannot run this layer on its plain CPU kernels (nchw_cpu)"
    result = convinspect("build", *_flags(DEFECT), "--cpu-kernels", "plain", "--verify")
    assert result.returncode == 0 and "verify skipped: tensorflow cannot run this layer" in " ".join(
        result.stdout.split()
    )
    assert "verify: tensorflow matches" not in result.stdout and " ok" not in result.stdout


def test_backend_all_shows_a_skipped_verification_as_skipped(workers: dict[str, Worker]) -> None:
    """TensorFlow's real report on its plain kernels, in the conformance table: skipped, never "ok"."""
    from convinspect.core.commands.conformance import BackendRun, Conformance, RunStatus
    from convinspect.render.conformance import conformance_plain

    report = workers["plain"](DEFECT, verify=True)["report"]
    run = BackendRun.from_report("tensorflow", RunStatus.ERROR, report, f"cannot run it: {report['runtime']['reason']}")
    result = Conformance("Conv2D", {}, [1, 4, 10, 10], (run,))
    text = conformance_plain(result)
    row = next(line for line in text.splitlines() if line.startswith("tensorflow "))
    assert row.split()[1] == "no" and row.endswith("skipped: tensorflow cannot run this layer on its plain CPU kernels "
                                                   "(nchw_cpu)")  # fmt: skip
    assert "tensorflow used its plain CPU kernels: oneDNN is off: TF_ENABLE_ONEDNN_OPTS=0" in text
    assert result.exit_code == 3  # a backend could not run it (docs/backends.md)


@pytest.mark.parametrize("extra", [["--expect-output", "9,9,9,9"], ["--explain"], ["--engine", "both"]])
def test_backend_all_refuses_single_backend_options(extra: list[str]) -> None:
    result = runner.invoke(app, ["build", "-f", "8", "-k", "3", "-i", "1,8,8,3", "--backend", "all", *extra])
    assert result.exit_code == 2 and result.stderr.startswith("convinspect: error: --backend:")


@needs_jax
def test_backend_all_on_a_layer_every_backend_rejects() -> None:
    result = runner.invoke(app, ["build", "-f", "6", "-k", "3", "-g", "4", "-i", "1,8,8,8", "--backend", "all"])
    assert result.exit_code == 2
    assert result.stderr.startswith("convinspect: error: every installed backend rejects the layer: Keras rejected")


@needs_jax
def test_model_runs_on_another_backend_and_agrees_with_the_analytic_engine() -> None:
    example = str(EXAMPLES / "mnist_convnet.json")
    script = "from convinspect.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", script, "model", example, "--backend", "numpy", "-e", "both", "-F",
                           "json"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["versions"]["backend"] == "numpy" and data["versions"]["tensorflow"] is None
    assert data["agreed_with"] == "analytic" and data["totals"]["params"]["total"] == 34826


@needs_jax
def test_an_output_whose_products_cancel_is_judged_by_what_it_adds() -> None:
    """Found by the property on CI: one output of a separable conv sums six products that cancel to about
    0.005; JAX's float32 error of 6e-9 is pure rounding, which only a scale of Σ|w·x| says (seeds 0 and 3)."""
    case = {"layer": "separable-conv1d", "input": "1,3,2", "kernel": 3, "strides": 2, "padding": "same",
            "data_format": "channels_first", "use_bias": False, "filters": 1, "dtype": "float32"}  # fmt: skip
    script = (
        "import json, sys\nfrom convinspect.api import inspect_layer\n"
        "for seed in (0, 3):\n"
        "    v = inspect_layer(json.loads(sys.argv[1]), backend='jax', verify=True, seed=seed).verification\n"
        "    print(json.dumps([v.ok, v.max_abs_error, v.max_rel_error, v.tolerance]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(case)], capture_output=True, text=True, check=True)
    for line in proc.stdout.splitlines():
        ok, max_abs, relative, limit = json.loads(line)
        assert ok and 1e-9 < max_abs < 1e-7 and relative < limit, line
