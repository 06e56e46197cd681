"""No crash loses a report: a forward pass that kills its process is a result (issue 29).

The crash is planted (tests/planted/): a Conv2D with 13 filters calls os.kill(getpid(), SIGSEGV)
in its forward pass, as TensorFlow's oneDNN kernel does on some CPUs. Every command that runs a
real forward pass runs it in a worker process (engines/worker.py); the parent owns the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paths
import pytest

from convinspect.engines import worker

PLANTED = str(paths.PLANTED)
CRASHING = ["-f", "13", "-k", "3", "-i", "1,8,8,2"]  # planted_crash.CRASHING_FILTERS
LINE = "CPU kernel crashed the process (SIGSEGV) in the forward pass of Conv2D '"


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Workers (and child processes) started from here on carry the planted crash."""
    worker.close_all()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([PLANTED, *filter(None, [os.environ.get("PYTHONPATH")])]))
    yield dict(os.environ)
    worker.close_all()


def run(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convinspect", *args], capture_output=True, text=True, env=env,
                          input=stdin, check=False, timeout=600)  # fmt: skip


def test_build_prints_its_report_with_the_forward_pass_marked_as_crashed(planted: dict[str, str], cli: Any) -> None:
    result = cli("build", *CRASHING, "--format", "json")
    assert result.exit_code == 3, result.stderr
    data = json.loads(result.stdout)
    runtime = data["runtime"]
    assert (runtime["runs"], runtime["rule"], runtime["signal"], runtime["observed"]) == (False, "crash", "SIGSEGV",
                                                                                          True)  # fmt: skip
    assert data["output_shape"] == [1, 6, 6, 13] and data["params"]["total"] == 247  # every other fact is Keras'
    assert LINE in result.stderr and result.stderr.count("\n") == 1
    table = cli("build", *CRASHING)
    assert table.exit_code == 3 and LINE in " ".join(table.stdout.split()) and table.stderr == ""
    ok = cli("build", "-f", "12", "-k", "3", "-i", "1,8,8,2", "--format", "json")  # the next layer runs
    assert ok.exit_code == 0 and json.loads(ok.stdout)["runtime"]["runs"] is True


def test_verify_and_explain_survive_the_crash(planted: dict[str, str], cli: Any) -> None:
    result = cli("build", *CRASHING, "--verify", "--explain", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 3 and data["verify"]["skipped"].endswith("(crash)")
    assert [step["step"] for step in data["explain"]][:2] == ["construct", "first_call"]


def test_a_check_of_900_entries_with_one_crash_returns_900_results(planted: dict[str, str], tmp_path: Path) -> None:
    entries = [f'[[layer]]\nname = "l{i}"\nfilters = {13 if i == 107 else 4}\nkernel = 3\ninput = "1,8,8,2"\n'
               for i in range(900)]  # fmt: skip
    spec = tmp_path / "many.toml"
    spec.write_text("\n".join(entries))
    result = run("check", str(spec), "--engine", "keras", "--format", "json", env=planted)
    data = json.loads(result.stdout)
    assert result.returncode == 3, result.stderr
    assert len(data["results"]) == 900 and data["summary"] == {
        "total": 900, "passed": 899, "failed": 0, "invalid": 0, "error": 1, "exit_code": 3}  # fmt: skip
    crashed = data["results"][107]
    assert crashed["status"] == "error" and LINE in crashed["error"] and crashed["report"]["runtime"]["rule"] == "crash"
    assert all(r["status"] == "passed" for i, r in enumerate(data["results"]) if i != 107)


def test_junit_and_github_record_the_crashed_entry(planted: dict[str, str], tmp_path: Path, cli: Any) -> None:
    spec = tmp_path / "two.toml"
    spec.write_text('[[layer]]\nname = "boom"\nfilters = 13\nkernel = 3\ninput = "1,8,8,2"\n\n'
                    '[[layer]]\nname = "fine"\nfilters = 4\nkernel = 3\n')  # fmt: skip
    junit = cli("check", str(spec), "--format", "junit")
    assert junit.exit_code == 3
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("errors")) == ("2", "1")
    error = suite.find("testcase/error")
    assert error is not None and LINE in (error.get("message") or "")
    github = cli("check", str(spec), "--format", "github")
    assert github.exit_code == 3 and any(line.startswith("::error file=") and "SIGSEGV" in line
                                         for line in github.stdout.splitlines())  # fmt: skip
    table = cli("check", str(spec))
    assert table.exit_code == 3 and "1 error" in table.stdout.splitlines()[-1]


def test_a_sweep_keeps_every_row(planted: dict[str, str], cli: Any) -> None:
    result = cli("sweep", "-e", "keras", "-f", "13", "-k", "3", "-i", "1,8..9,8,2", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 3 and [r["runtime_rule"] for r in data["rows"]] == ["crash", "crash"]
    assert all(LINE in r["error"] for r in data["rows"]) and result.stderr.count("\n") == 1


def test_model_layer_survives_the_crash(planted: dict[str, str], tmp_path: Path, cli: Any) -> None:
    import keras

    x = keras.Input((8, 8, 2))
    model = keras.Model(x, keras.layers.Conv2D(13, 3, name="conv")(x))
    path = str(tmp_path / "m.keras")
    model.save(path)
    result = cli("model", path, "--layer", "conv", "--format", "json")
    assert result.exit_code == 3 and json.loads(result.stdout)["runtime"]["signal"] == "SIGSEGV"


def test_backend_all_reports_the_crashed_backend(planted: dict[str, str]) -> None:
    result = run("build", *CRASHING, "--backend", "all", "--format", "json", env=planted)
    runs = {run["backend"]: run for run in json.loads(result.stdout)["backends"]}
    assert result.returncode == 3 and runs["tensorflow"]["status"] == "error"
    assert "crashed the process (SIGSEGV)" in runs["tensorflow"]["error"]


def test_a_worker_that_dies_every_time_is_one_error_line(monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    """Even the symbolic rerun dies (a broken environment): exit 3, one line, no traceback."""
    worker.close_all()
    monkeypatch.setattr(worker, "SERVE", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)")
    result = cli("build", "-f", "4", "-k", "3", "-i", "1,8,8,2")
    worker.close_all()
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.startswith("convinspect: error: the Keras engine's worker process died (SIGABRT) even without")
    assert result.stderr.count("\n") == 1


def test_a_worker_that_cannot_start_is_one_error_line_not_a_crash(monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    worker.close_all()
    monkeypatch.setattr(worker, "SERVE", "import sys; sys.stderr.write('no module named keras\\n'); sys.exit(4)")
    result = cli("build", "-f", "4", "-k", "3", "-i", "1,8,8,2", "--format", "json")
    worker.close_all()
    assert result.exit_code == 3 and json.loads(result.stdout)["error"]["message"] == (
        "the Keras engine's worker process exited with status 4: no module named keras"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """A command killed outright (SIGKILL: no atexit) leaves no worker behind."""
    import signal
    import time

    parent = subprocess.Popen([sys.executable, "-m", "convinspect", "build", "-f", "4", "-k", "3", "-i", "1,8,8,2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    children: list[str] = []
    for _ in range(200):  # the worker starts as soon as the command needs it
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        if children:
            break
        time.sleep(0.05)
    assert children, "no worker started"
    time.sleep(0.5)  # let the worker reach its serving loop
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        if not all(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in children):
            break
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in children)


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_a_program_asks_for_isolation_with_a_block(planted: dict[str, str]) -> None:
    import convinspect

    with convinspect.isolated():
        report = convinspect.inspect_layer({"filters": 13, "kernel": 3, "input": "1,8,8,2"})
        with convinspect.isolated(False):
            assert not convinspect.api._ISOLATED[0]
        assert convinspect.api._ISOLATED[0]
    assert not convinspect.api._ISOLATED[0]  # the program's own process again
    assert report.runtime.crashed and report.runtime.observed and report.runtime.signal == "SIGSEGV"
    assert report.params.total == 247 and report.output_shape == (1, 6, 6, 13)
