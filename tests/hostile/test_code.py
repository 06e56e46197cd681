"""Code runs only from an explicit builder, --import or --unsafe: never from the current folder
because a file names a module or a child process starts there (issue: trust at the edges, round two)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from paths import ROOT

SCRIPT = Path(sys.executable).with_name("convinspect")  # the console script, as users run it
PLANTED = "from pathlib import Path\nPath(__file__).with_name('ran').write_text('planted code ran')\n"


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_a_module_a_model_file_names_is_never_imported_from_the_current_folder(tmp_path: Path) -> None:
    config = json.loads((ROOT / "examples" / "mnist_convnet.json").read_text())
    config["config"]["layers"][1]["module"] = "keras_hub.layers"  # conv1
    (tmp_path / "m.json").write_text(json.dumps(config))
    (tmp_path / "keras_hub.py").write_text(PLANTED)
    # `python -m` puts the current folder first on sys.path: the case to guard
    proc = subprocess.run([sys.executable, "-m", "convinspect", "model", "m.json", "--engine", "keras"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert proc.returncode == 2 and proc.stderr.startswith("convinspect: error: "), proc.stderr
    # Named with --import, the same folder's module is the user's choice, and runs.
    proc = subprocess.run([str(SCRIPT), "model", "m.json", "--engine", "keras", "--import", "keras_hub"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert (tmp_path / "ran").exists(), proc.stderr


def test_backend_all_children_import_nothing_from_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "typer.py").write_text(PLANTED)
    proc = subprocess.run([str(SCRIPT), "build", "-f", "2", "-k", "3", "-i", "1,6,6,1", "--backend", "all",
                           "-F", "json"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert not (tmp_path / "ran").exists(), proc.stderr
    runs = {run["backend"]: run["status"] for run in json.loads(proc.stdout)["backends"]}
    assert runs["tensorflow"] == "ok", (runs, proc.stderr)


def test_python_m_imports_nothing_from_the_current_folder(tmp_path: Path) -> None:
    for name in ("typer", "rich", "numpy", "h5py"):
        (tmp_path / f"{name}.py").write_text(PLANTED)
    proc = subprocess.run([sys.executable, "-m", "convinspect", "model", str(ROOT / "examples" / "mnist_convnet.json"),
                           "--engine", "analytic"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert not (tmp_path / "ran").exists() and proc.returncode == 0, proc.stderr
