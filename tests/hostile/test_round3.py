"""What the third hostile round found, each kept as a case: Keras 2 files with nested models or recorded
TensorFlow calls, terminals and files that are not what they seem, names that carry Markdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT
from tfkeras import needs_tf_keras, save_with_tf_keras


def convinspect(*args: str, stdin: Any = None, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    code = "from convinspect.entry import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, check=False)  # fmt: skip


NESTED = {
    "functional": "inner_in = k.Input((8, 8, 3)); inner = k.Model(inner_in, k.layers.Conv2D(4, 3)(inner_in), "
    "name='inner')\ni = k.Input((8, 8, 3)); model = k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(inner(i))))",
    "sequential": "inner = k.Sequential([k.layers.Conv2D(4, 3)], name='inner')\ni = k.Input((8, 8, 3))\n"
    "model = k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(inner(i))))",
    "siamese": "inner_in = k.Input((8, 8, 3)); inner = k.Model(inner_in, k.layers.Conv2D(4, 3)(inner_in), "
    "name='enc/oder')\na, b = k.Input((8, 8, 3), name='a'), k.Input((8, 8, 3), name='b')\n"
    "model = k.Model([a, b], k.layers.Conv2D(2, 1)(k.layers.Concatenate()([inner(a), inner(b)])))",
}


@needs_tf_keras
@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_a_keras_2_model_with_a_nested_model_is_read_by_both_engines(tmp_path: Path, body: str) -> None:
    """tf_keras numbers a nested model's calls from 1 in its callers' nodes; read as saved, both engines refused."""
    expected = save_with_tf_keras(tmp_path, body)["params"]
    for name in ("m.h5", "m.json", "m.keras"):
        result = convinspect("model", str(tmp_path / name), "--engine", "both", "--format", "json")
        assert result.returncode == 0, (name, result.stderr)
        data = json.loads(result.stdout)
        assert data["agreed_with"] == "analytic" and data["totals"]["params"]["total"] == expected, name


@needs_tf_keras
def test_keras_2_random_layers_and_rnns_translate(tmp_path: Path) -> None:
    body = ("model = k.Sequential([k.Input((16, 16, 3)), k.Sequential([k.layers.RandomFlip('horizontal')]), "
            "k.layers.Conv2D(4, 3), k.layers.Reshape((14 * 14, 4)), k.layers.Bidirectional(k.layers.LSTM(3)), "
            "k.layers.GRU(2, time_major=False) if False else k.layers.Dense(2)])")  # fmt: skip
    expected = save_with_tf_keras(tmp_path, body)["params"]
    result = convinspect("model", str(tmp_path / "m.h5"), "--engine", "both", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"]["total"] == expected


@needs_tf_keras
def test_a_recorded_tensorflow_call_is_one_line_in_both_engines(tmp_path: Path) -> None:
    body = ("import tensorflow as tf\na = k.Input((16, 16, 3)); x = k.layers.Conv2D(4, 3, name='c1')(a)\n"
            "model = k.Model(a, k.layers.Conv2D(4, 3)(tf.nn.relu(x * 2.0)))")  # fmt: skip
    save_with_tf_keras(tmp_path, body)
    for engine in ("analytic", "keras"):
        result = convinspect("model", str(tmp_path / "m.h5"), "--engine", engine)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("convinspect: error: layer 'tf.math.multiply' is a TFOpLambda: a TensorFlow")


@pytest.mark.parametrize("args", [["build", "--help"], ["--help"], ["model", "--help"]])
def test_help_on_a_full_disk_is_one_line_and_a_reader_that_stops_is_not_an_error(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        result = convinspect(*args, stdout=full)
    assert result.returncode == 2
    assert result.stderr == "convinspect: error: cannot write to standard output: No space left on device\n"
    code = "from convinspect.entry import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)  # `| head -c 10`
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0 and proc.stderr.read() == b""


LAYER = ["build", "-e", "analytic", "-f", "4", "-k", "3", "-i", "1,8,8,3"]


def test_output_to_dev_stdout_on_a_pipe_writes_to_the_pipe() -> None:
    result = convinspect(*LAYER, "--format", "json", "--output", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.split("\n}\n")[0] + "\n}")["params"]["total"] == 112


def test_check_refuses_to_write_over_the_spec_it_reads_on_standard_input(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text((ROOT / "examples" / "drift.toml").read_text())
    before = spec.read_text()
    with open(spec) as stdin:
        result = convinspect("check", "-", "-e", "analytic", "--output", str(spec), stdin=stdin)
    assert result.returncode == 2 and spec.read_text() == before
    assert result.stderr == f"convinspect: error: --output: {spec} is also an input file; the report would replace it\n"
    link = tmp_path / "link.toml"
    os.symlink(spec, link)
    with open(spec) as stdin:
        assert convinspect("check", "-", "-e", "analytic", "--output", str(link), stdin=stdin).returncode == 2
    assert spec.read_text() == before


def test_check_markdown_shows_names_and_details_as_typed(tmp_path: Path) -> None:
    name = "<img src=x onerror=alert(1)> *b* `c` _d_"
    spec = tmp_path / "md.json"
    spec.write_text(json.dumps({"layer": [{"name": name, "filters": 4, "kernel": 3, "input": "1,8,8,3"},
                                          {"name": "|x|", "filters": 4, "kernel": 3, "input": "1,8,8,3",
                                           "expect_output": "1,8,8,4"}]}))  # fmt: skip
    result = convinspect("check", str(spec), "-e", "analytic", "--format", "markdown")
    rows = result.stdout.splitlines()[-2:]
    assert rows[0].startswith(r"| \<img src=x onerror=alert(1)> \*b\* `c` \_d\_ | ")
    assert rows[1].startswith(r"| \|x\| | ") and r"output_shape: expected (1, 8, 8, 4)" in rows[1]
    assert all(row.count(" | ") == 7 for row in rows)  # eight cells, none split by a name's '|'


_COLLIDE = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
for twice, name in ((True, "a"), (False, "b")):
    a = keras.Input((8, 8, 3)); c = keras.layers.Conv2D(3, 3, padding="same", name="c")
    y = c(c(a)) if twice else c(a)
    keras.Model(a, keras.layers.Conv2D(5, 1, name="c#1")(y)).save(os.path.join(sys.argv[1], name + ".keras"))
"""


def test_a_layer_named_like_a_shared_layers_second_call_has_a_key_of_its_own(tmp_path: Path) -> None:
    """A layer named `c#1` beside a layer `c` called twice: the keys are c, c#1 (the second call), c##1."""
    subprocess.run([sys.executable, "-c", _COLLIDE, str(tmp_path)], check=True, capture_output=True)
    lock = tmp_path / "lock.json"
    assert convinspect("model", str(tmp_path / "a.keras"), "-e", "analytic", "--snapshot", str(lock)).returncode == 0
    assert list(json.loads(lock.read_text())["layers"]) == ["input_layer", "c", "c#1", "c##1"]
    result = convinspect("model", str(tmp_path / "b.keras"), "-e", "analytic", "--against", str(lock))
    assert result.returncode == 1 and "removed c#1 (Conv2D)" in result.stdout
    spec = tmp_path / "spec.toml"
    for name, verdict in (("c#1", "names two rows: 'c#1' and 'c##1'"), ("c##1", "1 passed")):
        spec.write_text(f'[[model]]\nsource = "a.keras"\n[model.layer."{name}"]\nexpect_output = "?,8,8,5"\n')
        assert verdict in " ".join(convinspect("check", str(spec), "-e", "analytic").stdout.split()), name


@pytest.mark.parametrize("columns", ["20", "30", "79"])
def test_a_narrow_terminal_never_cuts_a_figure(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    model = convinspect("model", str(ROOT / "examples" / "mnist_convnet.json"), "-e", "analytic")
    layer = convinspect("build", "-e", "analytic", "-f", "4", "-k", "1", "-i", "1,8,8,3")
    for result in (model, layer):
        assert result.returncode == 0 and "…" not in result.stdout, result.stdout
    assert "34,826" in model.stdout and "2,440,960" in model.stdout


_CUSTOM = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[1])
import keras, mylayers
a = keras.Input((8, 8, 3))
keras.Model(a, mylayers.Twice()(keras.layers.Conv2D(4, 3)(a))).save(os.path.join(sys.argv[1], "custom.keras"))
"""
_MODULE = """
import keras

@keras.saving.register_keras_serializable(package="mine")
class Twice(keras.layers.Layer):
    def call(self, x):
        return x * 2
"""


def test_a_custom_class_no_import_registered_is_a_short_line_naming_its_module(tmp_path: Path) -> None:
    (tmp_path / "mylayers.py").write_text(_MODULE)
    subprocess.run([sys.executable, "-c", _CUSTOM, str(tmp_path)], check=True, capture_output=True)
    result = convinspect("model", str(tmp_path / "custom.keras"))
    assert result.returncode == 2 and len(result.stderr) < 200, result.stderr
    assert result.stderr == ("convinspect: error: Keras cannot build the model: Could not locate class 'Twice'; "
                             "give --import with the module that registers it (--import mylayers)\n")  # fmt: skip


_LINKED = """
import os, sys, shutil
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import h5py, keras
folder = sys.argv[1]
a = keras.Input((8, 8, 3))
keras.Model(a, keras.layers.Conv2D(4, 3, name="conv")(a)).save(os.path.join(folder, "plain.h5"))
shutil.copy(os.path.join(folder, "plain.h5"), os.path.join(folder, "soft.h5"))
with h5py.File(os.path.join(folder, "soft.h5"), "a") as f:
    f.move("model_weights/conv", "model_weights/conv_real")
    f["model_weights/conv"] = h5py.SoftLink("/model_weights/conv_real")
shutil.copy(os.path.join(folder, "plain.h5"), os.path.join(folder, "external.h5"))
with h5py.File(os.path.join(folder, "external.h5"), "a") as f:
    del f["model_weights"]
    f["model_weights"] = h5py.ExternalLink("/nonexistent/weights.h5", "/model_weights")
"""


def test_weights_behind_an_hdf5_link_are_refused_as_links_not_as_a_mismatch(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", _LINKED, str(tmp_path)], check=True, capture_output=True)
    assert convinspect("model", str(tmp_path / "plain.h5"), "--load-weights").returncode == 0
    for name, kind, path in (("soft.h5", "a soft link", "model_weights/conv"),
                             ("external.h5", "an external link", "model_weights")):  # fmt: skip
        result = convinspect("model", str(tmp_path / name), "--load-weights")
        assert result.returncode == 2
        assert result.stderr.startswith(f"convinspect: error: --load-weights: '{tmp_path / name}' stores its weights "
                                        f"through {kind} ('{path}'), which Keras does not follow")  # fmt: skip
