"""Files made to break the readers: one line, exit 2, bounded memory, and a check run that goes on
(issue: trust at the edges, round two, items 11 to 13 and 20)."""

from __future__ import annotations

import json
import resource
import shutil
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from paths import ROOT

from convinspect.engines.session import load

MNIST = ROOT / "examples" / "mnist_convnet.json"


def _h5(path: Path, value: Any) -> str:
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = value
    return str(path)


VALUES = {"huge-int": 2**40, "300MiB-int": 300 * 2**20, "negative": -1, "empty": h5py.Empty("f"),
          "array": np.arange(4), "float": 2.5}  # fmt: skip


@pytest.mark.parametrize("name", list(VALUES))
def test_an_h5_model_config_that_is_not_text_is_one_line(cli: Any, tmp_path: Path, name: str) -> None:
    path = _h5(tmp_path / "m.h5", VALUES[name])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for engine in ("analytic", "keras"):
        result = cli("model", path, "-e", engine)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("convinspect: error: ") and result.stderr.count("\n") == 1
        assert "model_config" in result.stderr and "internal error" not in result.stderr
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: nothing was allocated


def test_an_h5_reference_attribute_is_one_line(cli: Any, tmp_path: Path) -> None:
    with h5py.File(tmp_path / "r.h5", "w") as handle:
        group = handle.create_group("g")
        handle.attrs["model_config"] = group.ref
    result = cli("model", str(tmp_path / "r.h5"), "-e", "analytic")
    assert result.exit_code == 2 and "model_config attribute is a" in result.stderr


def test_a_bad_model_file_costs_one_check_entry_and_the_json_stays_one_document(cli: Any, tmp_path: Path) -> None:
    _h5(tmp_path / "bad.h5", 2**40)
    shutil.copy(MNIST, tmp_path / "good.json")
    spec = tmp_path / "spec.toml"
    spec.write_text('[[model]]\nsource = "bad.h5"\n\n[[model]]\nsource = "good.json"\nexpect_params = 34826\n')
    result = cli("check", str(spec), "-e", "analytic", "-F", "json")
    data = json.loads(result.stdout)  # one document
    assert [r["status"] for r in data["results"]] == ["invalid", "passed"] and result.exit_code == 2


def test_a_snapshot_with_a_huge_integer_is_one_line(cli: Any, tmp_path: Path) -> None:
    lock = tmp_path / "lock.json"
    assert cli("model", str(MNIST), "-e", "analytic", "--snapshot", str(lock)).exit_code == 0
    text = lock.read_text()
    lock.write_text(text.replace('"params": 320', '"params": 1' + "0" * 5000, 1))
    result = cli("model", str(MNIST), "-e", "analytic", "--against", str(lock))
    assert result.exit_code == 2 and "more digits than Python reads" in result.stderr, result.stderr


def test_a_non_utf8_config_in_an_archive_names_the_member(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", b'{"class_name": "\xff"}')
    result = cli("model", str(path), "-e", "analytic")
    assert result.exit_code == 2 and "its config.json is not UTF-8 text (byte 16 is 0xff)" in result.stderr


def test_weights_load_whatever_the_archive_is_named(cli: Any, tmp_path: Path) -> None:
    keras, _, _ = load()
    x = keras.Input((6, 6, 1))
    model = keras.Model(x, keras.layers.Conv2D(2, 3)(x))
    model.save(tmp_path / "t.keras")
    shutil.copy(tmp_path / "t.keras", tmp_path / "t.bin")
    for name in ("t.keras", "t.bin"):
        result = cli("model", str(tmp_path / name), "--load-weights")
        assert result.exit_code == 0, (name, result.stderr)
