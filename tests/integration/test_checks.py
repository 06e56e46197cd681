"""Expectations on build, and `convinspect check` over spec files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from paths import EXAMPLES

from convinspect.api import run_check
from convinspect.core.checks.specfile import load_entries
from convinspect.errors import InvalidInput

from conftest import SEED_ARGS


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- build --expect-* --------------------------------------------------------------------


def test_met_expectations_pass(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--format", "json", "--expect-output", "2,16,16,64", "--expect-params", "1664",
                 "--expect-kernel", "5,5,1,64", "--expect-bias", "64", "--max-params", "2000")  # fmt: skip
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)["checks"]
    assert [c["name"] for c in checks] == ["output_shape", "params", "kernel_shape", "bias_shape", "max_params"]
    assert all(c["ok"] for c in checks)


def test_unmet_expectation_exits_1_with_a_line_per_failure(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--engine", "analytic", "--format", "json",
                 "--expect-output", "2,32,32,64", "--max-params", "1000", "--expect-bias", "64")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "convinspect: check failed: output_shape: expected (2, 32, 32, 64), actual (2, 16, 16, 64)",
        "convinspect: check failed: max_params: expected at most 1000, actual 1664",
    ]
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["output_shape"] == {
        "name": "output_shape", "expected": [2, 32, 32, 64], "actual": [2, 16, 16, 64], "ok": False
    }  # fmt: skip
    assert checks["bias_shape"]["ok"] is True


def test_passed_checks_show_in_the_table(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--engine", "analytic", "--expect-params", "1664")
    assert result.exit_code == 0
    assert "passed" in result.stdout and "checks" in result.stdout


def test_bias_expectation_on_a_layer_without_bias_fails(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--engine", "analytic", "--no-bias", "--expect-bias", "64")
    assert result.exit_code == 1
    assert "bias_shape: expected (64,), actual None" in result.stderr


def test_bad_expectation_value_is_exit_2(cli: Any) -> None:
    result = cli("build", *SEED_ARGS, "--engine", "analytic", "--expect-params", "many")
    assert result.exit_code == 2
    assert result.stderr.startswith("convinspect: error: --expect-params:")


# -- spec files --------------------------------------------------------------------------


def test_examples_pass_with_both_engines(cli: Any) -> None:
    files = [str(EXAMPLES / "seed.toml"), str(EXAMPLES / "seed.json")]
    for engine in ("analytic", "keras"):
        result = cli("check", *files, "--engine", engine, "--format", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["schema"] == "convinspect.check/1"
        assert data["summary"] == {"total": 8, "passed": 8, "failed": 0, "invalid": 0, "error": 0, "exit_code": 0}
        assert all(r["report"]["engine"] == engine for r in data["results"])


def test_chain_takes_previous_output(tmp_path: Path) -> None:
    path = write(tmp_path, "chain.toml", """
[[layer]]
filters = 8
kernel = 3
input = "1,16,16,3"

[[layer]]
layer = "conv2d-transpose"
filters = 3
kernel = 3
""")  # fmt: skip
    run = run_check([path], engine="analytic")
    assert [r.report.output_shape for r in run.results if r.report] == [(1, 14, 14, 8), (1, 16, 16, 3)]


def test_toml_and_json_line_numbers(tmp_path: Path) -> None:
    toml_text = "# c\n\n[[layer]]\nfilters = 1\nkernel = 1\ninput = '1,2,2,1'\n\n  [[ layer ]]\nfilters = 2\n"
    json_text = '{\n "layer": [\n  {"filters": 1, "input": [1, 2, 2, 1]},\n\n  {"filters": 2,\n   "kernel": 1}\n ]\n}\n'
    toml_path = write(tmp_path, "a.toml", toml_text)
    json_path = write(tmp_path, "a.json", json_text)
    assert [e.line for e in load_entries(toml_path)] == [3, 8]
    assert [e.line for e in load_entries(json_path)] == [3, 5]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("syntax.toml", "[[layer]]\nfilters = \n", "syntax.toml:2: TOML syntax error"),
        ("syntax.json", '{"layer": [\n{"filters": 1,}]}', "syntax.json:2: JSON syntax error"),
        ("empty.toml", "  \n", "the file is empty"),
        ("top.toml", "[[layers]]\nfilters = 1\n", "unknown top-level key 'layers'; did you mean 'layer'?"),
        ("none.json", '{"layer": []}', "no layers"),
        ("list.json", "[1, 2]", "expected a table/object"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_entries(write(tmp_path, name, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_entries(str(tmp_path / "nope.toml"))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_entries(str(tmp_path))  # a directory


BAD_SPEC = """
[[layer]]
name = "typo"
filters = 8
kernal = 3
input = "1,8,8,3"

[[layer]]
name = "drifted"
filters = 8
kernel = 3
input = "1,8,8,3"
expect_output = "1,8,8,8"

[[layer]]
name = "keras says no"
filters = 6
kernel = 3
groups = 4
input = "1,8,8,4"

[[layer]]
name = "wrong type"
filters = 3.5
kernel = 3
input = "1,8,8,4"

[[layer]]
name = "fine"
filters = 4
kernel = 3
input = "1,8,8,4"
"""


def test_every_entry_gets_a_verdict(tmp_path: Path) -> None:
    run = run_check([write(tmp_path, "bad.toml", BAD_SPEC)], engine="analytic")
    assert [(r.entry.label, r.status, r.entry.line) for r in run.results] == [
        ("typo", "invalid", 2), ("drifted", "failed", 8), ("keras says no", "invalid", 15),
        ("wrong type", "invalid", 22), ("fine", "passed", 28),
    ]  # fmt: skip
    errors = [r.error for r in run.results]
    assert errors[0] == "unknown key 'kernal'; did you mean 'kernel'?"
    assert errors[3] is not None and errors[3].startswith("wrong type for 'filters'")
    assert run.exit_code == 2


def test_exit_codes(cli: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.toml", "[[layer]]\nfilters = 4\nkernel = 3\ninput = '1,8,8,4'\n")
    failing = write(tmp_path, "fail.toml", "[[layer]]\nfilters = 4\nkernel = 3\ninput = '1,8,8,4'\nexpect_params = 1\n")
    assert cli("check", good, "--engine", "analytic").exit_code == 0
    assert cli("check", good, failing, "--engine", "analytic").exit_code == 1
    assert cli("check", good, failing, str(tmp_path / "missing.toml"), "--engine", "analytic").exit_code == 2


def test_junit(cli: Any, tmp_path: Path) -> None:
    result = cli("check", write(tmp_path, "bad.toml", BAD_SPEC), "--engine", "analytic", "--format", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "3")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["drifted"].find("failure") is not None
    assert cases["typo"].find("error") is not None
    assert cases["fine"].find("failure") is None and cases["fine"].find("error") is None


def test_github_annotations_point_at_the_entry_line(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", BAD_SPEC)
    result = cli("check", path, "--engine", "analytic", "--format", "github")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"::error file={path},line=2,title=convinspect%3A typo invalid::unknown key 'kernal'")
    assert lines[1].startswith(f"::error file={path},line=8,")
    assert "output_shape: expected (1, 8, 8, 8), actual (1, 6, 6, 8)" in lines[1]
    assert len(lines) == 5  # four problems and the summary


def test_markdown(cli: Any, tmp_path: Path) -> None:
    result = cli("check", write(tmp_path, "bad.toml", BAD_SPEC), "--engine", "analytic", "--format", "markdown")
    assert "| drifted |" in result.stdout and "❌ failed" in result.stdout and "⚠️ invalid" in result.stdout


def test_output_file_gets_the_report_and_the_terminal_a_summary(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "report.xml"
    result = cli("check", str(EXAMPLES / "seed.toml"), "--engine", "analytic", "-F", "junit", "--output", str(target))
    assert result.exit_code == 0
    assert ET.parse(target).getroot().get("tests") == "6"
    assert (
        result.stdout.strip() == f"6 entries in 1 file(s): 6 passed, 0 failed, 0 invalid (exit 0); written to {target}"
    )


def test_no_progress_bar_without_a_tty(cli: Any) -> None:
    result = cli("check", str(EXAMPLES / "seed.toml"), "--engine", "analytic")
    assert result.stderr == ""


def test_check_bad_format(cli: Any) -> None:
    result = cli("check", str(EXAMPLES / "seed.toml"), "--format", "yaml")
    assert result.exit_code == 2
    assert "--format: unknown value 'yaml'; expected one of table, json, junit, github, markdown" in result.stderr


def test_keras_engine_imports_tensorflow_once_per_run(tmp_path: Path) -> None:
    from convinspect.engines import session

    session.load.cache_clear()
    run_check([str(EXAMPLES / "seed.toml")], engine="keras")
    assert session.load.cache_info().misses == 1


def test_max_macs_in_a_spec_file(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path, "budget.toml", """
[[layer]]
name = "worked example"
filters = 32
kernel = 3
input = "1,28,28,1"
max_macs = 194688

[[layer]]
name = "over budget"
filters = 64
kernel = 3
max_macs = 1000000
""")  # fmt: skip
    result = cli("check", path, "--engine", "analytic", "--format", "json")
    assert result.exit_code == 1, result.output
    first, second = json.loads(result.stdout)["results"]
    assert first["status"] == "passed" and first["checks"][0]["actual"] == 194_688
    # chained: 26x26x32 in, 24x24x64 out, 3*3*32 taps each
    assert second["checks"] == [{"name": "max_macs", "expected": 1_000_000, "actual": 24 * 24 * 64 * 288, "ok": False}]


def test_check_json_keeps_one_result_per_line(tmp_path: Path) -> None:
    from convinspect.render.json import check_json, dumps_rows, report_dict

    run = run_check([str(EXAMPLES / "seed.toml")], engine="analytic")
    text = check_json(run)
    expected = run.to_dict()
    for row, result in zip(expected["results"], run.results):
        row["report"] = report_dict(result.report) if result.report else None
    assert json.loads(text) == json.loads(json.dumps(expected))
    lines = text.splitlines()
    assert sum(line.startswith('    {"file": ') for line in lines) == len(run.results)
    assert dumps_rows({"a": 1, "rows": [], "b": [2]}, "rows") == '{\n  "a": 1,\n  "rows": [],\n  "b": [2]\n}\n'
