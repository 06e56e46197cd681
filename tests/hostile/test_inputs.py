"""No file that is an input is ever overwritten, and a termination is never taken for the user's
code failing (issue: trust at the edges, round two, items 3 to 6)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from paths import ROOT

MNIST = ROOT / "examples" / "mnist_convnet.json"


def _model(tmp_path: Path) -> str:
    shutil.copy(MNIST, tmp_path / "m.json")
    return str(tmp_path / "m.json")


def _locked(cli: Any, tmp_path: Path) -> tuple[str, Path, bytes]:
    """A model, a snapshot of it, and the snapshot's bytes."""
    model = _model(tmp_path)
    lock = tmp_path / "lock.json"
    assert cli("model", model, "-e", "analytic", "--snapshot", str(lock)).exit_code == 0
    return model, lock, lock.read_bytes()


def test_against_and_output_the_same_file_is_refused(cli: Any, tmp_path: Path) -> None:
    model, lock, before = _locked(cli, tmp_path)
    result = cli("model", model, "-e", "analytic", "--against", str(lock), "--output", str(lock))
    assert result.exit_code == 2 and "--output: " in result.stderr and "is also an input file" in result.stderr
    assert lock.read_bytes() == before


def test_snapshot_over_its_own_baseline_is_refused(cli: Any, tmp_path: Path) -> None:
    model, lock, before = _locked(cli, tmp_path)
    result = cli("model", model, "-e", "analytic", "--snapshot", str(lock), "--against", str(lock))
    assert result.exit_code == 2 and result.stderr.startswith("convinspect: error: --snapshot: is the --against")
    assert lock.read_bytes() == before


def test_builder_and_imported_module_are_never_overwritten(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib.py").write_text("X = 1\n")
    (tmp_path / "mk.py").write_text("import keras\ndef make():\n    x = keras.Input((4,))\n"
                                    "    return keras.Model(x, keras.layers.Dense(2)(x))\n")  # fmt: skip
    for args in (["--output", "mk.py"], ["--snapshot", "lib.py"], ["--output", "lib.py"], ["--snapshot", "mk.py"]):
        result = cli("model", "mk.py:make", "--import", "lib.py", *args)
        assert result.exit_code == 2 and "is also an input file" in result.stderr, (args, result.stderr)
    result = cli("model", "mk.py:make", "--import", "lib", "--output", "lib.py")  # a module name, resolved here
    assert result.exit_code == 2 and "is also an input file" in result.stderr
    assert (tmp_path / "lib.py").read_text() == "X = 1\n" and "def make" in (tmp_path / "mk.py").read_text()


def test_check_never_overwrites_a_model_source(cli: Any, tmp_path: Path) -> None:
    _model(tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text('[[model]]\nsource = "m.json"\nexpect_params = 34826\n')
    before = (tmp_path / "m.json").read_bytes()
    result = cli("check", str(spec), "-e", "analytic", "--output", str(tmp_path / "m.json"))
    assert result.exit_code == 2 and "is also an input file" in result.stderr
    assert (tmp_path / "m.json").read_bytes() == before


def test_sigterm_during_a_builder_kills_the_run_and_leaves_the_output_alone(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\nfrom pathlib import Path\n"
        "def make():\n    Path(__file__).with_name('started').write_text('yes')\n    time.sleep(60)\n"
    )
    (tmp_path / "spec.toml").write_text('[[model]]\nsource = "slow.py:make"\n')
    out = tmp_path / "out.json"
    out.write_text("the previous report\n")
    proc = subprocess.Popen([sys.executable, "-m", "convinspect", "check", "spec.toml", "-F", "json", "--output",
                             "out.json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    assert out.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_variables_larger_than_this_machine_are_refused_before_keras_allocates_them() -> None:
    from typer.testing import CliRunner

    from convinspect.cli import app

    result = CliRunner().invoke(app, ["build", "-f", "99999999999", "-k", "3", "-i", "1,8,8,3"])
    assert result.exit_code == 2, result.output
    assert "more than this machine's" in result.output and "--engine analytic" in result.output
