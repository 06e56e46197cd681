"""What a hostile review of `convinspect model` found, kept as regression tests."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT
from typer.testing import CliRunner

from convinspect.api import inspect_model
from convinspect.cli import app
from convinspect.engines.session import load

MNIST = ROOT / "examples" / "mnist_convnet.json"
runner = CliRunner()
keras, _, _ = load()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args])
    return result.exit_code, result.stdout, result.stderr


def edited(tmp_path: Path, name: str, change: Any) -> str:
    config = json.loads(MNIST.read_text())
    change(config["config"]["layers"])
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def _set(key: str, value: Any) -> Any:
    def change(layers: list[dict[str, Any]]) -> None:
        layers[1]["config"][key] = value  # conv1

    return change


@pytest.mark.parametrize(
    ("key", "value"),
    [("filters", -32), ("filters", 0), ("filters", True), ("filters", 32.0), ("filters", "32"), ("groups", 0),
     ("groups", -1), ("padding", "causal"), ("kernel_size", [3, -3])],
)  # fmt: skip
def test_impossible_conv_settings_are_refused_by_both_engines(tmp_path: Path, key: str, value: Any) -> None:
    path = edited(tmp_path, "bad.json", _set(key, value))
    for engine in ("analytic", "keras"):
        code, _, err = run("model", path, "-e", engine)
        assert code == 2 and err.startswith("convinspect: error: ") and err.count("\n") == 1, (engine, err)
        assert "internal error" not in err


def test_an_integer_past_pythons_digit_limit_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(MNIST.read_text().replace('"filters": 32', '"filters": 1' + "0" * 5000))
    code, _, err = run("model", str(path), "-e", "analytic")
    assert code == 2 and "more digits than Python reads" in err


def test_an_unbuilt_model_has_nothing_to_check(tmp_path: Path) -> None:
    lazy = str(ROOT / "examples" / "lazy_net.json")
    code, _, err = run("model", lazy, "-e", "analytic", "--max-params", "0")
    assert code == 2 and "no input shape" in err
    spec = tmp_path / "lazy.toml"
    spec.write_text(f'[[model]]\nsource = "{lazy}"\nmax_params = 10\n')
    result = runner.invoke(app, ["check", str(spec), "-e", "analytic", "--format", "json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["results"][0]["status"] == "invalid"
    assert run("model", lazy, "-e", "analytic", "--max-params", "1000", "--input", "?,8,8,3")[0] == 0


def test_a_layer_that_feeds_no_output_is_not_counted(tmp_path: Path) -> None:
    def orphan(layers: list[dict[str, Any]]) -> None:
        extra = copy.deepcopy(layers[7])
        extra["name"] = extra["config"]["name"] = "orphan"
        layers.append(extra)

    path = edited(tmp_path, "orphan.json", orphan)
    for engine in ("analytic", "keras", "both"):
        report = inspect_model(path, engine=engine)
        assert report.totals.params.total == 34826 and report.row("orphan") is None


def test_both_engines_agree_on_an_application() -> None:
    report = inspect_model("keras.applications.MobileNet", engine="both")
    assert report.agreed_with is not None and report.totals.params.total == 4253864


def test_snapshot_and_output_must_differ(tmp_path: Path) -> None:
    same = str(tmp_path / "o.json")
    code, _, err = run("model", str(MNIST), "-e", "analytic", "-o", same, "--snapshot", same)
    assert code == 2 and err.startswith("convinspect: error: --snapshot: is the same file as --output")
    code, _, err = run("model", str(MNIST), "-e", "analytic", "--snapshot", str(tmp_path))
    assert code == 2 and err.startswith("convinspect: error: --snapshot:")


def test_a_model_with_dict_inputs_and_outputs(tmp_path: Path) -> None:
    image, meta = keras.Input((16, 16, 3), name="img"), keras.Input((7,), name="meta")
    joined = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(image)), meta])
    model = keras.Model({"img": image, "meta": meta}, {"o1": keras.layers.Dense(2, name="o1")(joined)})
    path = tmp_path / "multi.keras"
    model.save(path)
    report = inspect_model(str(path), engine="both")
    assert report.totals.params.total == model.count_params() and report.row("o1").output_shape == (None, 2)  # type: ignore[union-attr]


def test_a_builder_raising_a_base_exception_is_one_line(tmp_path: Path) -> None:
    builder = tmp_path / "weird.py"
    builder.write_text("def f():\n    class Odd(BaseException):\n        pass\n    raise Odd('odd')\n")
    code, _, err = run("model", f"{builder}:f")
    assert code == 2 and err == f"convinspect: error: the builder '{builder}:f' raised Odd: odd\n"


def test_modules_in_the_current_folder_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "local_builders.py").write_text(
        "import keras\ndef small():\n    x = keras.Input((4,))\n    return keras.Model(x, keras.layers.Dense(2)(x))\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run("model", "local_builders:small", "--format", "json", "--import", "local_builders")
    assert code == 0, err
    assert json.loads(out)["totals"]["params"]["total"] == 10


def test_keras_load_failures_give_the_cause(tmp_path: Path) -> None:
    path = edited(tmp_path, "zero.json", _set("filters", 0))
    code, _, err = run("model", path, "-e", "keras")
    assert code == 2 and "Received filters=0" in err and "registered_name" not in err


def test_hostile_layer_names_are_inert_in_every_format(tmp_path: Path) -> None:
    evil = "c\x1b[31mRED\x1b[0m\nx|y\u202e\r\t\x07"
    text = MNIST.read_text().replace('"conv1"', json.dumps(evil))
    path = tmp_path / "evil.json"
    path.write_text(text)
    spec = tmp_path / "evil.toml"
    spec.write_text(f'[[model]]\nsource = "evil.json"\n[model.layer.{json.dumps(evil)}]\nexpect_params = 5\n')
    outputs = [run("model", str(path), "-e", "analytic", "--format", fmt)[1] for fmt in ("table", "markdown", "csv")]
    outputs += [runner.invoke(app, ["check", str(spec), "-e", "analytic", "--format", fmt]).stdout
                for fmt in ("table", "markdown", "github", "junit")]  # fmt: skip
    for out in outputs:
        assert not any(ch in out for ch in "\x1b\r\x07\u202e\t"), repr(out)
    markdown = outputs[1]
    row = next(line for line in markdown.splitlines() if "RED" in line)
    assert row.count(" | ") == 8 and "x\\|y" in row  # nine cells: the name's pipe is escaped


def test_a_shared_nested_model_numbers_its_second_call(tmp_path: Path) -> None:
    block = keras.Sequential([keras.layers.Conv2D(4, 3, padding="same", name="inner")], name="block")
    x = keras.Input((8, 8, 4))
    model = keras.Model(x, block(block(x)))
    path = tmp_path / "twice.json"
    path.write_text(model.to_json())
    report = inspect_model(str(path), engine="both")
    keys = [row.key for row in report.rows]
    assert len(keys) == len(set(keys)) and "block#1/inner" in keys
    second = report.row("block#1/inner")
    assert second is not None and second.shared and second.params.total == 0
    assert report.totals.params.total == model.count_params()


def test_an_empty_source_in_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "empty.toml"
    spec.write_text('[[model]]\nsource = ""\n')
    result = runner.invoke(app, ["check", str(spec), "-e", "analytic", "--format", "json"])
    assert "SOURCE is empty" in json.loads(result.stdout)["results"][0]["error"]
    assert os.path.exists(spec)
