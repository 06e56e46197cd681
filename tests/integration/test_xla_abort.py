"""XLA's CPU compiler aborts the process on some transposed convs (core/layer/xla.py): the rule held
against bare Keras on the JAX backend here, the Keras engine that never runs them, and solve's marks.

Found on CI by test_backends' cross-backend property (Conv2DTranspose(3, (4, 2), strides=(1, 2),
padding='same', output_padding=0) on a 2x3x5x1 input killed its JAX process with SIGABRT)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from convinspect import Forward, inspect_layer, parse_spec, run_solve
from convinspect.cli import app
from convinspect.core.commands.solve import keras_call
from convinspect.core.layer import xla
from convinspect.engines import worker as isolation
from convinspect.engines.session import installed

pytestmark = pytest.mark.skipif(not installed("jax"), reason="the JAX backend is not installed")
runner = CliRunner()

CI_CASE = {"layer": "conv2d-transpose", "input": "2,3,5,1", "kernel": "4,2", "strides": "1,2", "padding": "same",
           "output_padding": "0", "filters": 3, "use_bias": False, "activation": "hard_swish"}  # fmt: skip

# Each aborting case beside the near misses that run: the kept axis (kernel 2, stride 2, no padding) with a
# short input or output_padding 1; the other axes' kernel against their input; neutral axes; every rank.
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"input": "2,3,5,1", "kernel": "4,2", "strides": "1,2", "output_padding": "0"}, True),
    ({"input": "2,3,5,1", "kernel": "4,2", "strides": "1,2", "output_padding": "0,1"}, False),  # padded
    ({"input": "2,3,2,1", "kernel": "4,2", "strides": "1,2", "output_padding": "0"}, False),  # input of 2
    ({"input": "1,3,5,2", "kernel": "3,2", "strides": "1,2", "output_padding": "0"}, False),  # kernel = input
    ({"input": "1,2,5,2", "kernel": "3,2", "strides": "1,2", "output_padding": "0"}, True),  # kernel > input
    ({"input": "1,5,2,1", "kernel": "2,4", "strides": "2,1", "output_padding": "0"}, True),  # the other axis
    ({"input": "1,5,1,1", "kernel": "2,2", "strides": "2,3", "output_padding": "0,1"}, True),
    ({"input": "1,5,1,1", "kernel": "2,2", "strides": "2,3", "output_padding": "0,2"}, False),  # one cell, padded
    ({"input": "1,2,5,1", "kernel": "2,2", "strides": "1,2", "output_padding": "0"}, False),  # a contraction
    ({"input": "1,4,1,1", "kernel": "2,5", "strides": "2,3", "output_padding": "0,1"}, True),
    ({"input": "1,6,4", "kernel": "2", "strides": "2", "output_padding": "0"}, False),  # 1D: nothing to swap
    ({"input": "1,4,2,2,1", "kernel": "2,3,3", "strides": "2,1,1", "output_padding": "0"}, True),
    ({"input": "1,4,3,3,1", "kernel": "2,3,3", "strides": "2,1,1", "output_padding": "0"}, False),
    ({"input": "1,4,2,3,1", "kernel": "2,3,2", "strides": "2,1,1", "output_padding": "0"}, False),  # 6 = 6
    ({"input": "1,4,2,3,1", "kernel": "2,3,3", "strides": "2,1,1", "output_padding": "0"}, True),  # 9 > 6
    (
        {"input": "2,1,3,5", "kernel": "4,2", "strides": "1,2", "output_padding": "0", "data_format": "channels_first"},
        True,
    ),
    ({"input": "2,3,5,1", "kernel": "4,2", "strides": "1,2"}, False),  # output_padding unset
]


def _spec(case: dict[str, Any]) -> Any:
    rank = len(case["input"].split(",")) - 2
    layer = {1: "conv1d-transpose", 2: "conv2d-transpose", 3: "conv3d-transpose"}[rank]
    return parse_spec({"layer": layer, "filters": 2, "padding": "same", **case})


_PROBE = """
import json, sys, keras, numpy as np
for line in sys.stdin:
    call, shape = json.loads(line)
    eval(call)(np.ones(shape, "float32"))
    print("ran", flush=True)
"""


def aborted_on_jax(calls: list[tuple[str, tuple[int, ...]]]) -> list[bool]:
    """Each bare Keras call on the JAX backend, in a process restarted after each death: whether it aborted."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out: list[bool] = []
    while len(out) < len(calls):
        lines = "".join(json.dumps(c) + "\n" for c in calls[len(out) :])
        proc = subprocess.run([sys.executable, "-c", _PROBE], input=lines, capture_output=True, text=True, env=env)
        out += [False] * proc.stdout.count("ran")
        if proc.returncode == 0:
            break
        assert proc.returncode == -6, proc.stderr[-2000:]  # SIGABRT, XLA's failed check; nothing else
        out.append(True)
    return out


def test_the_rule_is_what_xla_does_here() -> None:
    specs = [_spec(case) for case, _ in CASES]
    assert [xla.aborts(s) for s in specs] == [expected for _, expected in CASES]  # the table says the rule
    observed = aborted_on_jax([(keras_call(s), s.input_shape) for s in specs])
    assert observed == [expected for _, expected in CASES]


def test_the_keras_engine_never_runs_it_and_says_why() -> None:
    flags = ["-l", "conv2d-transpose", "-i", "2,3,5,1", "-k", "4,2", "-s", "1,2", "-p", "same", "--output-padding", "0"]
    result = runner.invoke(app, ["build", *flags, "-f", "3", "--backend", "jax", "-F", "json"])
    assert result.exit_code == 0, result.stderr
    runtime = json.loads(result.stdout)["runtime"]
    assert runtime["runs"] is False and runtime["rule"] == "crash" and runtime["observed"] is False
    assert result.stderr.startswith(
        "convinspect: warning: JAX on the CPU cannot run this layer (predicted, not "
        "run): XLA's CPU compiler aborts the process on this layer (a kernel of 2"
    )
    assert "it would run with output_padding unset (or 1 on a stride-2 axis), or another backend" in result.stderr


def test_asked_to_run_it_the_worker_dies_and_the_report_says_so() -> None:
    spec = parse_spec(CI_CASE)
    report = isolation.inspect(spec, backend="jax", forward=Forward.EAGER, run_known_crashes=True)
    assert report.runtime.crashed and report.runtime.observed and report.runtime.signal == "SIGABRT"
    assert report.runtime.reason == "the jax backend crashed the process (SIGABRT)"
    assert report.output_shape == inspect_layer(spec, engine="analytic").output_shape == (2, 2, 8, 3)


def test_solve_marks_what_xla_aborts_on_and_ranks_it_last_for_jax() -> None:
    options = {"layer": "conv2d-transpose", "input": "2,3,5,1"}
    every = run_solve(options, "2,2,8,3", limit=40)
    marked = [s for s in every.solutions if s.aborts]
    assert marked and all(s.refused for s in marked)  # every one also refused by TensorFlow's CPU kernels
    data = marked[0].to_dict()
    assert data["crashes"] == {"by": "xla_cpu", "backend": "jax", "signal": "SIGABRT"}
    assert data["refused"]["runs_on"] == ["numpy"] and data["runs_everywhere"] is False
    jax = run_solve(options, "2,2,8,3", limit=40, backend="jax")
    marks = [s.aborts for s in jax.solutions]
    assert marks == sorted(marks) and True in marks
    kept = run_solve(options, "2,2,8,3", limit=40, backend="jax", runs_only=True)
    assert len(kept.solutions) == len(jax.solutions) - len(marked) and not any(s.aborts for s in kept.solutions)
    text = runner.invoke(app, ["solve", "-l", "conv2d-transpose", "-i", "2,3,5,1", "-t", "2,2,8,3", "--backend", "jax"])
    assert "XLA's CPU compiler (the JAX backend) aborts the process on it; NumPy runs it" in text.stdout
    assert text.stdout.rstrip().endswith("; what XLA's CPU compiler aborts on last")
    # the marks are what JAX does with each call as printed
    observed = aborted_on_jax([(s.to_dict()["keras"], (2, 3, 5, 1)) for s in every.solutions])
    assert observed == [s.aborts for s in every.solutions]
