"""Any terminal, any stream: odd encodings, closed or full stdout, closed stderr, odd widths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import EXAMPLES

ANALYTIC = "build --filters 8 --kernel 3 --input 1,8,8,3 --engine analytic"


def shell(command: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """`convinspect ...` run by bash, so redirections such as `>&-` are real."""
    exe = f"{sys.executable} -m convinspect"
    full_env = {**os.environ, **env}
    return subprocess.run(["bash", "-c", command.replace("convinspect", exe, 1)], capture_output=True, env=full_env,
                          timeout=300)  # fmt: skip


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
@pytest.mark.parametrize(
    ("command", "figure"),
    [
        (f"convinspect {ANALYTIC} --diagram --explain", "7,776 MACs"),
        (f"convinspect {ANALYTIC} --format markdown --name naïve→", "7,776 MACs"),
        (f"convinspect {ANALYTIC} --format plain --diagram", "macs=7776"),
        (f"convinspect check {EXAMPLES / 'drift.toml'} --engine analytic --format markdown", "7,077,888"),
        (f"convinspect check {EXAMPLES / 'drift.toml'} --engine analytic", "(8, 32, 32, 32)"),
        ("convinspect sweep --filters 8 --kernel 3 --input 1,4..6,8,1", "1,728"),
        ("convinspect build --help", "--filters"),
    ],
)
def test_an_encoding_without_unicode_gets_stand_ins_and_every_figure(encoding: str, command: str, figure: str) -> None:
    result = shell(command, PYTHONIOENCODING=encoding)
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stderr
    assert figure in result.stdout.decode(encoding)  # and every byte is in the encoding


def test_ascii_keeps_the_figures_of_the_headline_table() -> None:
    result = shell(f"convinspect {ANALYTIC} --diagram", PYTHONIOENCODING="ascii")
    text = result.stdout.decode("ascii")
    assert "input (1, 8, 8, 3)  ->  output (1, 6, 6, 8)" in text
    assert "3x3x3x8 + 8 = 224" in text
    assert "floor((n-ke)/s)+1 = floor((8-3)/1)+1 = 6" in text


def test_json_under_ascii_escapes_the_name_and_decodes_the_same() -> None:
    result = shell(f"convinspect {ANALYTIC} --format json --name naïve→", PYTHONIOENCODING="ascii")
    assert result.returncode == 0
    assert json.loads(result.stdout.decode("ascii"))["layer"]["name"] == "naïve→"


@pytest.mark.parametrize(
    ("redirect", "message"),
    [(">&-", "standard output is closed"), ("> /dev/full", "No space left on device")],
)
@pytest.mark.parametrize(
    "args", [ANALYTIC, f"{ANALYTIC} --format json", f"check {EXAMPLES / 'drift.toml'} -e analytic"]
)
def test_a_closed_or_full_stdout_is_one_line_and_exit_2(redirect: str, message: str, args: str) -> None:
    if "full" in redirect and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    result = shell(f"convinspect {args} {redirect}")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("convinspect: error: ") and message in stderr


def test_version_to_a_closed_stdout() -> None:
    result = shell("convinspect --version >&-")
    assert result.returncode == 2 and result.stderr.decode().startswith("convinspect: error: standard output")


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    result = shell(f"convinspect {ANALYTIC} --diagram | head -1; exit ${{PIPESTATUS[0]}}")
    assert result.returncode == 0 and result.stderr == b""


def test_the_keras_engine_runs_with_stderr_closed() -> None:
    result = shell("convinspect build --filters 8 --kernel 3 --input 1,8,8,3 --format json 2>&-")
    assert result.returncode == 0
    assert json.loads(result.stdout)["engine"] == "keras"


def test_a_file_report_survives_a_closed_stdout(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    result = shell(f"convinspect {ANALYTIC} --format json --output {target} >&-")
    assert result.returncode == 0 and json.loads(target.read_text())["params"]["total"] == 224


@pytest.mark.parametrize("columns", ["0", "-5", "abc"])
def test_a_nonsense_terminal_width_is_ignored(columns: str) -> None:
    result = shell(f"convinspect {ANALYTIC}", COLUMNS=columns)
    assert result.returncode == 0 and b"conv2d/kernel" in result.stdout


def test_no_command_says_so() -> None:
    result = shell("convinspect")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "convinspect: error: no command given; expected one of build, model, check, sweep, solve "
        "(see convinspect --help)\n"
    )


@pytest.mark.parametrize(
    ("args", "schema"),
    [("build -F json --bogus", "report"), ("build --format=json -f", "report"), ("check -F json", "check"),
     ("sweep -F json extra", "sweep")],
)  # fmt: skip
def test_usage_errors_are_json_too_when_json_is_asked_for(args: str, schema: str) -> None:
    result = shell(f"convinspect {args}")
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["schema"] == f"convinspect.{schema}/1" and error["error"]["exit_code"] == 2
    assert result.stderr.decode().count("\n") == 1
