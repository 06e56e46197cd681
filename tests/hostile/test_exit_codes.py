"""Exit codes and messages scripts can trust, spec files as people write them, and the API's boundary.

Every bad input is one line on stderr and exit 2, never "internal error" (exit 3);
one bad spec file never hides the others' results.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from paths import EXAMPLES

from convinspect import InvalidInput, inspect_layer, run_check, run_sweep
from convinspect.core.checks.execution import Inspector, check_entry
from convinspect.core.checks.specfile import load_entries

LAYER = ("--filters", "8", "--kernel", "3", "--input", "1,8,8,3", "--engine", "analytic")


def one_line_exit_2(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("convinspect: error: "), result.stderr
    assert "internal error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--budget", "9" * 400), "over the int64 limit"),
        (("--budget", "1.5B"), "whole number"),
        (("--seed", "4294967296"), "over the limit 4,294,967,295"),
        (("--filters", "9" * 5000), "over the int64 limit"),
        (("--name", ""), "must not be empty or blank"),
        (("--name", " "), "must not be empty or blank"),
        (("--activation", ""), "activation name"),
    ],
)
def test_bad_numbers_and_empty_names_are_exit_2(cli: Any, args: tuple[str, ...], needle: str) -> None:
    values = dict(zip(LAYER[::2], LAYER[1::2]))
    values.update(dict(zip(args[::2], args[1::2])))
    one_line_exit_2(cli("build", *[x for pair in values.items() for x in pair]), needle)


@pytest.mark.parametrize("value", ["３２", "٣", "+3", "1_000", "\u00a03", "0x10", "1e3", "3.0"])
def test_numbers_are_ascii_digits_only(cli: Any, value: str) -> None:
    one_line_exit_2(cli("build", "--filters", value, *LAYER[2:]), "is not an integer (decimal digits 0-9 only)")


def test_an_echoed_value_is_cut_short(cli: Any) -> None:
    result = cli("build", "--filters", "x" * 100_000, *LAYER[2:])
    one_line_exit_2(result)
    assert len(result.stderr) < 300


@pytest.mark.parametrize("bound", ["9223372036854775808", "9" * 30, "9" * 5000])
def test_sweep_bounds_past_int64_are_exit_2(cli: Any, bound: str) -> None:
    one_line_exit_2(cli("sweep", "-f", "8", "-k", "3", "-i", f"1,1..{bound},8,3"), "int64")


def test_expect_kernel_on_a_layer_without_one_is_a_usage_error(cli: Any) -> None:
    result = cli("build", "-l", "separable-conv2d", *LAYER, "--expect-kernel", "3,3,3,1")
    one_line_exit_2(result, "--expect-kernel: SeparableConv2D has no variable named kernel")


def test_an_unknown_keras_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "from convinspect.cli import main; main()"
    args = ["build", "-f", "8", "-k", "3", "-i", "1,8,8,3"]
    env = {"KERAS_BACKEND": "mxnet", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert out.stderr == (
        "convinspect: error: KERAS_BACKEND is set to 'mxnet'; expected one of tensorflow, jax, numpy, torch\n"
    )


def test_keras_backend_from_the_environment_is_used() -> None:
    code = "from convinspect.cli import main; main()"
    args = ["build", "-f", "8", "-k", "3", "-i", "1,8,8,3", "--format", "json"]
    env = {"KERAS_BACKEND": "numpy", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["versions"]["backend"] == "numpy" and data["runtime"]["backend"] == "numpy"


# -- spec files ----------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


GOOD = 'filters = 8\nkernel = 3\ninput = "1,8,8,3"\n'


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("deep.json", '{"layer": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("deep.toml", "layer = " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("digits.json", '{"layer": [{"filters": ' + "9" * 5000 + "}]}", "cannot read"),
        ("twice.json", '{"layer": [{"filters": 8, "filters": 16}]}', "given twice"),
        ("twice-top.json", '{"layer": [], "layer": []}', "given twice"),
    ],
)
def test_a_hostile_file_is_invalid_and_the_others_still_run(tmp_path: Path, name: str, text: str, message: str) -> None:
    good = write(tmp_path, "good.toml", "[[layer]]\n" + GOOD)
    run = run_check([good, write(tmp_path, name, text)], engine="analytic")
    assert [r.status for r in run.results] == ["passed", "invalid"]
    assert message in (run.results[1].error or "")
    assert run.exit_code == 2


def test_a_byte_order_mark_is_not_part_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.toml", b"\xef\xbb\xbf[[layer]]\n" + GOOD.encode())
    assert [r.status for r in run_check([path], engine="analytic").results] == ["passed"]


def test_check_reads_standard_input() -> None:
    code = "from convinspect.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "check", "-", "--engine", "analytic", "--format", "json"],
        input="[[layer]]\n" + GOOD, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"][0]["file"] == "-"


def test_inline_toml_entries_get_their_own_lines(tmp_path: Path) -> None:
    text = (
        "# inline entries\n"
        "layer = [\n"
        '  {filters = 8, kernel = 3, input = "1,8,8,3", name = "a [x] {y} # z"},  # one\n'
        "\n"
        '  {filters = 4, kernel = 1},\n'
        "  'not a table',\n"
        "]\n"
    )  # fmt: skip
    assert [e.line for e in load_entries(write(tmp_path, "inline.toml", text))] == [3, 5, 6]


def test_json_entries_of_any_kind_get_their_own_lines(tmp_path: Path) -> None:
    text = '{\n  "other": [1, {"a": 2}],\n  "layer": [\n    {"filters": 8},\n    42,\n\n    "x", [1]\n  ]\n}\n'
    path = write(tmp_path, "kinds.json", text)
    with pytest.raises(InvalidInput):  # an unknown top-level key is refused ...
        load_entries(path)
    text = text.replace('  "other": [1, {"a": 2}],\n', "")
    assert [e.line for e in load_entries(write(tmp_path, "kinds2.json", text))] == [3, 4, 6, 6]


def test_a_chained_entry_after_an_invalid_one_names_it(tmp_path: Path) -> None:
    text = "[[layer]]\n" + GOOD + 'name = "stem"\ngroups = 5\n\n[[layer]]\nfilters = 4\nkernel = 1\n'
    results = run_check([write(tmp_path, "chain.toml", text)], engine="analytic").results
    assert [r.status for r in results] == ["invalid", "invalid"]
    assert "the entry before it (#1 'stem', line 1) is invalid" in (results[1].error or "")


def test_a_backend_failure_is_an_error_not_an_invalid_spec(tmp_path: Path) -> None:
    from convinspect import BackendError, inspect_model

    def broken(*_: object, **__: object) -> object:
        raise BackendError("TensorFlow failed during the eager forward pass: boom")

    entry = load_entries(write(tmp_path, "one.toml", "[[layer]]\n" + GOOD))[0]
    result = check_entry(entry, None, Inspector(layer=broken, model=inspect_model, release=lambda: None))
    assert result.status == "error"
    from convinspect.core.checks.checkrun import CheckRun
    from convinspect.render.checks import check_junit

    run = CheckRun((result,))
    assert run.exit_code == 3 and run.summary()["error"] == 1
    assert 'type="BackendError"' in check_junit(run)


# -- the Python API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inspect_layer(None), "expected a LayerSpec or a mapping"),  # type: ignore[arg-type]
        (lambda: inspect_layer({"filters": 8, "kernel": 3, "input": "1,8,8,3"}, seed=-1), "--seed"),
        (lambda: inspect_layer({"filters": 8, "kernel": 3, "input": "1,8,8,3"}, forward="bogus"), "--forward"),
        (
            lambda: inspect_layer({"filters": 8, "kernel": 3, "input": "1,8,8,3"}, engine="analytic", forward="bogus"),
            "--forward",
        ),
        (lambda: run_sweep(None), "expected a mapping"),  # type: ignore[arg-type]
    ],
)
def test_the_api_validates_its_arguments_like_the_cli(call: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


def test_the_api_accepts_numpy_integers_and_size_strings() -> None:
    np = pytest.importorskip("numpy")
    report = inspect_layer({"filters": np.int64(8), "kernel": np.int32(3), "input": [np.int64(1), 8, 8, 3]},
                           engine="analytic", budget="1GiB")  # fmt: skip
    assert report.params.total == 224
    assert math.prod(report.output_shape) == 288  # type: ignore[arg-type]


def test_a_report_is_read_only() -> None:
    report = inspect_layer({"filters": 8, "kernel": 3, "input": "1,8,8,3"}, engine="analytic")
    with pytest.raises(TypeError):
        report.versions["keras"] = "2.0"  # type: ignore[index]
    with pytest.raises(TypeError):
        report.measures.layouts[0].torch_module["groups"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        report.name = "other"  # type: ignore[misc]


def test_run_check_takes_one_path_as_well(tmp_path: Path) -> None:
    path = write(tmp_path, "one.toml", "[[layer]]\n" + GOOD)
    assert run_check(path, engine="analytic").summary()["passed"] == 1


def test_both_engines_pass_an_option_error_through_as_exit_2(cli: Any) -> None:
    result = cli("build", "-f", "8", "-k", "3", "-i", "1,8,8,3", "-e", "both", "--forward", "eager", "--budget", "1")
    one_line_exit_2(result, "--forward: an eager forward pass would allocate")


def test_a_name_with_undecodable_bytes_is_refused_by_every_engine(cli: Any) -> None:
    for engine in ("analytic", "keras", "both"):
        one_line_exit_2(cli("build", "-f", "8", "-k", "3", "-i", "1,8,8,3", "-e", engine, "--name", "bad\udcffbyte"),
                        "--name: a layer name must be valid Unicode text")  # fmt: skip


def test_a_parameter_total_past_int64_is_refused(cli: Any) -> None:
    one_line_exit_2(cli("build", "-f", str(2**62), "-k", "1", "-i", "1,1,1,1", "-e", "analytic"),
                    "the layer's parameters would hold")  # fmt: skip


def test_every_public_name_resolves() -> None:
    import convinspect

    assert all(getattr(convinspect, name) is not None for name in convinspect.__all__)


def test_a_spec_on_stdin_that_is_not_utf8_is_invalid_and_the_other_files_still_run() -> None:
    code = "from convinspect.entry import main; main()"
    good = str(EXAMPLES / "drift.toml")
    out = subprocess.run([sys.executable, "-c", code, "check", good, "-", "-e", "analytic", "--format", "json"],
                         input=b"[[layer]]\nname = '\xe9'\n", capture_output=True, timeout=120)  # fmt: skip
    data = json.loads(out.stdout)
    assert out.returncode == 2 and [r["status"] for r in data["results"]] == ["failed", "passed", "invalid"]
    assert "not UTF-8 text (byte" in data["results"][2]["error"]


def test_an_endless_spec_stream_is_cut_off(tmp_path: Path) -> None:
    endless = tmp_path / "zero.toml"
    endless.symlink_to("/dev/zero")
    (result,) = run_check([str(endless)], engine="analytic").results
    assert result.status == "invalid" and "larger than 256 MiB" in (result.error or "")


@pytest.mark.parametrize("columns", ["99999999999999999999", "100000"])
def test_a_huge_terminal_width_is_ignored(columns: str) -> None:
    code = "from convinspect.entry import main; main()"
    args = ["build", "-f", "4", "-k", "3", "-i", "1,8,8,3", "-e", "analytic"]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "COLUMNS": columns})  # fmt: skip
    assert out.returncode == 0 and len(out.stdout) < 5000
    assert all(line == line.rstrip() for line in out.stdout.splitlines())  # no padding in a pipe


def test_the_runtime_warning_reaches_stderr_when_the_body_cannot_carry_it(cli: Any, tmp_path: Path) -> None:
    # Pinned to the plain kernels: on a CPU whose oneDNN takes float16 (avx512_fp16) the layer runs.
    args = ["build", "-l", "conv1d", "-e", "analytic", "--dtype", "float16", "--data-format", "channels_first",
            "-k", "2", "-f", "2", "-i", "1,3,4", "--cpu-kernels", "plain"]  # fmt: skip
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0 and result.stderr.startswith("convinspect: warning: TensorFlow on the CPU cannot run")
    assert any(note.startswith("warning:") for note in json.loads(result.stdout)["notes"])
    to_file = cli(*args, "-o", str(tmp_path / "w.txt"))
    assert "does not run on the CPU (nchw_cpu)" in to_file.stdout and to_file.stderr.count("\n") == 1


def test_dash_output_is_standard_output(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("build", *LAYER, "--format", "json", "-o", "-")
    assert result.exit_code == 0 and json.loads(result.stdout)["params"]["total"] == 224
    assert list(tmp_path.iterdir()) == []


def test_an_entry_chained_on_a_failed_environment_is_an_error_too(tmp_path: Path) -> None:
    from convinspect.core.checks.checkrun import EntryResult
    from convinspect.core.checks.execution import chained_input
    from convinspect.errors import BackendError

    entry = load_entries(write(tmp_path, "one.toml", "[[layer]]\n" + GOOD))[0]
    with pytest.raises(BackendError, match="could not be run"):
        chained_input(EntryResult(entry, "error", error="TensorFlow failed"))


def test_a_backtick_in_a_file_name_keeps_the_markdown_cell(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "p|q`r.toml", "[[layer]]\n" + GOOD)
    row = cli("check", path, "-e", "analytic", "--format", "markdown").stdout.splitlines()[-1]
    assert f"``{path.replace('|', chr(92) + '|')}:1``" in row
