"""Builders as hostile users write them (issue: trust at the edges, round two, items 17 to 19)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BUILDERS = {
    "loud.py": "import os, keras\ndef make():\n    os.system('echo from descriptor 1')\n    print('from print')\n"
               "    x = keras.Input((4,))\n    return keras.Model(x, keras.layers.Dense(3)(x))\n",
    "tower.py": "import keras\nclass Tower(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
                "        self.c = keras.layers.Conv2D(4, 3)\n    def call(self, x):\n        return self.c(x)\n"
                "def make():\n    m = Tower()\n    m(keras.ops.zeros((1, 8, 8, 3)))\n    return m\n",
    "own.py": "import keras\ndef make():\n    x = keras.Input((4,))\n    m = keras.Model(x, keras.layers.Dense(3)(x))\n"
              "    m.add_weight(shape=(2, 4), name='scale')\n    return m\n",
    "interrupt.py": "def make():\n    raise KeyboardInterrupt\n",
}  # fmt: skip


def _model(tmp_path: Path, builder: str, *args: str) -> subprocess.CompletedProcess[str]:
    for name, text in BUILDERS.items():
        (tmp_path / name).write_text(text)
    return subprocess.run([sys.executable, "-m", "convinspect", "model", f"{builder}:make", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip


def test_a_builder_writing_to_descriptor_1_leaves_stdout_one_json_document(tmp_path: Path) -> None:
    result = _model(tmp_path, "loud.py", "-F", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"]["total"] == 15


def test_a_subclassed_model_is_traced_and_named_as_such(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tower.py").write_text(BUILDERS["tower.py"])
    result = cli("model", "tower.py:make", "-F", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"]["class"] == "Tower"
    conv = next(row for row in data["layers"] if row["class"] == "Conv2D")
    assert conv["output_shape"] == [None, 6, 6, 4] and conv["params"]["total"] == 3 * 3 * 3 * 4 + 4


def test_a_models_own_variable_is_a_row_and_the_totals_equal_keras(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "own.py").write_text(BUILDERS["own.py"])
    result = cli("model", "own.py:make", "-F", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["params"]["total"] == 23  # Keras' summary(): Dense 15 + the model's own 2×4
    (own,) = [row for row in data["layers"] if row["name"] == "(own variables)"]
    assert own["variables"] == [{"name": "scale", "shape": [2, 4], "dtype": "float32", "trainable": True}]


def test_a_builder_raising_keyboard_interrupt_exits_130(tmp_path: Path) -> None:
    result = _model(tmp_path, "interrupt.py")
    assert result.returncode == 130 and "Traceback" not in result.stderr
