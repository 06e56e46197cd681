"""The command line as a user meets it: output, exit codes, errors, quiet and fast paths."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from convinspect.cli import app

from conftest import SEED_ARGS


def test_seed_example_json(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "convinspect.report/1"
    assert data["engine"] == "keras"
    assert data["forward"] == "eager"
    assert data["layer"]["class"] == "Conv2D"
    assert data["input_shape"] == [2, 32, 32, 1]
    assert data["output_shape"] == [2, 16, 16, 64]
    assert data["variables_before"] == []
    assert [(v["name"], v["path"], v["shape"], v["params"], v["bytes"]) for v in data["variables_after"]] == [
        ("kernel", "conv2d/kernel", [5, 5, 1, 64], 1600, 6400),
        ("bias", "conv2d/bias", [64], 64, 256),
    ]
    assert data["params"] == {"trainable": 1664, "non_trainable": 0, "total": 1664, "bytes": 6656}
    assert set(data["versions"]) == {"convinspect", "keras", "tensorflow", "backend", "backend_version"}
    assert result.stderr == ""


def test_seed_example_table(cli: Any) -> None:
    result = cli("build", *SEED_ARGS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "trainable_variables = []" in out
    assert "conv2d/kernel" in out and "(5, 5, 1, 64)" in out
    assert "5×5×1×64 + 64 = 1,664" in out
    assert "(2, 16, 16, 64)" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "\x1b[" not in out  # no colour codes without a TTY


def test_plain_is_stable_text(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--format", "plain", "--engine", "analytic")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:5] == [
        "layer: Conv2D name=conv2d",
        "engine: analytic forward=none",
        "config: filters=64 kernel_size=5,5 strides=2,2 padding=same dilation_rate=1,1 groups=1 "
        "data_format=channels_last activation=linear use_bias=true dtype=float32",
        "input_shape: 2,32,32,1",
        "output_shape: 2,16,16,64",
    ]
    assert "params: trainable=1664 non_trainable=0 total=1664 bytes=6656" in result.stdout


def test_markdown_has_tables(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--format", "markdown", "--engine", "analytic")
    assert result.exit_code == 0
    assert "| `conv2d/kernel` | `(5, 5, 1, 64)` | float32 | yes | 1,600 | 6.25 KiB |" in result.stdout


def test_no_bias_flag(cli: Any) -> None:
    result = cli("build", "-f", "4", "-k", "3", "--no-bias", "--input", "1,8,8,3", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [v["name"] for v in json.loads(result.stdout)["variables_after"]] == ["kernel"]


def test_unknown_batch_is_null_in_json(cli: Any) -> None:
    result = cli("build", "-f", "4", "-k", "3", "--input", "?,8,8,3", "--format", "json")
    data = json.loads(result.stdout)
    assert data["input_shape"] == [None, 8, 8, 3]
    assert data["output_shape"] == [None, 6, 6, 4]
    assert data["forward"] == "symbolic"


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("convinspect ")


BAD_INPUTS = [
    (["--input", "2,32,x,1"], "--input: dimension 3 is 'x'"),
    (["--input", ""], "--input: expected a shape"),
    (["--input", "2,-32,32,1"], "--input: dimension 2 must be positive"),
    (["--input", "2,0,32,1"], "--input: dimension 2 must be positive"),
    (["--input", "2,32,32"], "--input: conv2d takes a rank-4 input"),
    (["--input", "2,32,32,99999999999999999999"], "over the int64 limit"),
    (["--input", "4294967296,4294967296,2,2"], "over the int64 limit"),
    (["--filters", "0"], "--filters: values must be positive"),
    (["--kernel", "-3"], "--kernel: values must be positive"),
    (["--strides", "0"], "--strides: values must be positive"),
    (["--dilation", "0"], "--dilation: values must be positive"),
    (["--kernel", "3,3,3"], "--kernel: conv2d takes 1 or 2 integers"),
    (["--padding", "full"], "--padding: unknown value 'full'"),
    (["--layer", "conv4d"], "--layer: unknown layer 'conv4d'"),
    (["--activation", "rellu"], "--activation: unknown activation 'rellu'"),
    (["--dtype", "int8"], "--dtype: unknown value 'int8'"),
    (["--data-format", "NHWC"], "--data-format: unknown value 'NHWC'"),
    (["--padding", "causal"], "--padding: Keras allows causal padding on conv1d only"),
    (["--strides", "2", "--dilation", "2"], "`strides > 1` not supported in conjunction with `dilation_rate > 1`"),
    (["--groups", "3"], "number of filters must be evenly divisible by the number of groups"),
    (["--groups", "2", "--input", "2,32,32,3"], "input channels must be evenly divisible"),
    (["--kernel", "40"], "zero or negative"),
    (["--layer", "conv2d-transpose", "--strides", "2", "--output-padding", "2"], "strictly less than `strides`"),
    (["--layer", "depthwise-conv2d", "--groups", "2"], "--groups: does not apply to depthwise-conv2d"),
    (["--layer", "depthwise-conv2d", "--filters", "4"], "--filters: does not apply to depthwise-conv2d"),
    (["--forward", "lazy"], "--forward: unknown value 'lazy'"),
    (["--engine", "torch"], "--engine: unknown value 'torch'"),
    (["--budget", "lots"], "--budget: expected a size"),
    (["--seed", "-1"], "--seed: values must be >= 0"),
    (["--format", "xml"], "--format: unknown value 'xml'"),
    (["--filterz", "3"], "No such option: --filterz"),
]


def _bad(args: list[str]) -> list[str]:
    base = {"--filters": "4", "--kernel": "3", "--input": "2,32,32,4"}
    given = set(args[::2])
    if "--layer" in given and "depthwise" in args[args.index("--layer") + 1]:
        base.pop("--filters")
    merged = [item for key, value in base.items() if key not in given for item in (key, value)]
    return ["build", *merged, *args]


BAD_CASES = [
    pytest.param(args, message, engine, id=f"{engine}: {' '.join(args)}")
    for args, message in BAD_INPUTS
    for engine in ("keras", "analytic")
    if "--engine" not in args or engine == "keras"
]


@pytest.mark.parametrize(("args", "message", "engine"), BAD_CASES)
def test_bad_input_is_one_line_exit_2(cli: Any, args: list[str], message: str, engine: str) -> None:
    full = _bad(args)
    if "--engine" not in args:
        full += ["--engine", engine]
    result = cli(*full)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convinspect: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_json_errors_are_json_on_stdout(cli: Any) -> None:
    result = cli("build", "-f", "0", "-k", "3", "--input", "1,8,8,1", "--format", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["schema"] == "convinspect.report/1"
    assert data["error"]["type"] == "InvalidInput"
    assert data["error"]["option"] == "filters"
    assert "--filters" in data["error"]["message"]
    assert result.stderr.startswith("convinspect: error: --filters")


def test_missing_value_is_a_usage_error(cli: Any) -> None:
    result = cli("build", "--filters")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "requires an argument" in result.stderr


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "convinspect", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def test_help_and_version_never_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convinspect.cli import app\n"
        "for args in (['--help'], ['build', '--help'], ['--version']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_keras_engine_is_quiet() -> None:
    """No TensorFlow, absl or oneDNN lines, even with no TF_CPP_* set by the caller."""
    result = _run("build", *SEED_ARGS, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["params"]["total"] == 1664


def test_huge_input_goes_symbolic_without_allocating() -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = _run("build", "--filters", "256", "--kernel", "3", "--input", "64,4096,4096,3", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["forward"] == "symbolic"
    assert data["output_shape"] == [64, 4094, 4094, 256]
    peak_kib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    assert peak_kib < 2 * 2**20  # well under 2 GiB: the 12 GiB input was never made


def test_both_engines_exit_0_when_they_agree(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--engine", "both", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "analytic engine agrees" in json.loads(result.stdout)["notes"][-1]


def test_engines_disagreeing_is_exit_3_naming_the_fields(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from convinspect.engines import analytic

    real = analytic.inspect
    monkeypatch.setattr(
        analytic, "inspect", lambda spec, **kw: dataclasses.replace(real(spec, **kw), output_shape=(2, 15, 16, 64))
    )
    result = cli("build", *SEED_ARGS, "--engine", "both", "--format", "json")
    assert result.exit_code == 3
    assert "engines disagree on 1 field(s): output_shape[1]: keras 16, analytic 15" in result.stderr
    assert json.loads(result.stdout)["error"]["type"] == "BackendError"


def test_missing_tensorflow_is_exit_3() -> None:
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # as if it were not installed\n"
        "sys.argv = ['convinspect', 'build', '-f', '4', '-k', '3', '--input', '1,8,8,1']\n"
        "from convinspect.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("convinspect: error: TensorFlow/Keras is not available")
    assert "Traceback" not in result.stderr
    analytic = subprocess.run(
        [sys.executable, "-c", code.replace("'1,8,8,1']", "'1,8,8,1', '--engine', 'analytic']")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert analytic.returncode == 0, analytic.stderr


@pytest.mark.parametrize("command", ["build", "sweep", "check"])
def test_help_groups_options_in_panels_with_metavars(cli: Any, command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    panels = {"build": ("Layer", "Input", "Engines and forward pass", "Output", "CI expectations"),
              "sweep": ("Layer", "Input", "Engines and forward pass", "Output"),
              "check": ("Engines and forward pass", "Output")}[command]  # fmt: skip
    for panel in panels:
        assert f"╭─ {panel} " in result.output, panel
    assert "SIZE" in result.output and "<str>" not in result.output and " TEXT " not in result.output
    if command != "check":
        assert "INT[,INT...]" in result.output and "SHAPE" in result.output and "[default: 1]" in result.output


def test_python_api_leaves_stderr_alone() -> None:
    """A program that uses the API keeps its own stderr: file descriptor 2 is never redirected."""
    code = (
        "import os, sys\n"
        "from convinspect import inspect_layer\n"
        "before = os.fstat(2)\n"
        "inspect_layer({'filters': 4, 'kernel': 3, 'input': '1,8,8,1'})\n"
        "after = os.fstat(2)\n"
        "sys.stderr.write('still mine\\n')\n"
        "assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.endswith("still mine\n")
