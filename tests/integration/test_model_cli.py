"""`convinspect model` at the command line: formats, CI expectations, snapshots and every bad SOURCE."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from paths import ROOT
from typer.testing import CliRunner

from convinspect.cli import app
from convinspect.engines.session import load

MNIST = str(ROOT / "examples" / "mnist_convnet.json")
LAZY = str(ROOT / "examples" / "lazy_net.json")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["model", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_report_follows_the_schema() -> None:
    code, out, _ = run(MNIST, "--engine", "analytic", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "convinspect.model/1"
    assert data["model"] == {"name": "mnist_convnet", "class": "Functional"}
    assert data["totals"]["params"] == {"trainable": 34826, "non_trainable": 0, "total": 34826}
    assert data["totals"]["flops"] == 2 * data["totals"]["macs"] + data["totals"]["bias_adds"]
    conv2 = next(layer for layer in data["layers"] if layer["name"] == "conv2")
    assert conv2["output_shape"] == [None, 11, 11, 64] and conv2["inbound"] == ["pool1"]
    assert conv2["variables"][0] == {"name": "kernel", "shape": [3, 3, 32, 64], "dtype": "float32", "trainable": True}
    assert conv2["receptive_field"]["axes"][0] == {"axis": 1, "size": 8, "jump": 2, "start": 0}
    assert {"source", "engine", "input_shape", "variables_before", "versions", "per_example"} <= set(data)


def test_keras_and_both_engines_agree_on_the_example() -> None:
    code, out, _ = run(MNIST, "--engine", "both", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["engine"] == "keras" and data["agreed_with"] == "analytic"
    assert data["versions"]["tensorflow"] is not None


def test_expectations_pass_and_fail_with_exit_codes() -> None:
    assert run(MNIST, "-e", "analytic", "--expect-params", "34826", "--max-macs", "3000000")[0] == 0
    code, out, err = run(MNIST, "-e", "analytic", "--max-params", "30000")
    assert (
        code == 1
        and "check failed: max_params" in err
        and "max_params: expected at most 30000, actual 34826: FAILED" in out
    )


def test_snapshot_then_against_lists_every_change(tmp_path: Path) -> None:
    lock = tmp_path / "shapes.json"
    assert run(MNIST, "-e", "analytic", "--snapshot", str(lock))[0] == 0
    assert json.loads(lock.read_text())["layers"]["conv2"]["output_shape"] == [None, 11, 11, 64]
    assert run(MNIST, "-e", "analytic", "--against", str(lock))[0] == 0
    changed = json.loads(Path(MNIST).read_text())
    layers = changed["config"]["layers"]
    layers[3]["config"]["filters"] = 32  # conv2
    layers[-1]["name"] = layers[-1]["config"]["name"] = "head"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(changed).replace('"classifier"', '"head"'))
    code, out, err = run(str(edited), "-e", "analytic", "--against", str(lock), "--format", "json")
    changes = json.loads(out)["snapshot"]["changes"]
    assert code == 1 and "change(s) against" in err
    assert {"layer": "conv2", "change": "changed", "field": "output_shape", "old": [None, 11, 11, 64],
            "new": [None, 11, 11, 32]} in changes  # fmt: skip
    assert {(c["layer"], c["change"]) for c in changes} >= {("head", "added"), ("classifier", "removed")}
    _, table, _ = run(str(edited), "-e", "analytic", "--against", str(lock))
    assert "changed conv2 params: 18496 -> 9248" in table


def test_a_lazy_model_tells_its_build_story() -> None:
    code, out, _ = run(LAZY, "-e", "analytic")
    assert code == 0 and "0 (unbuilt)" in out and "Give --input SHAPE" in " ".join(out.split())
    code, out, _ = run(LAZY, "-e", "keras", "--input", "?,32,32,3")
    text = " ".join(out.split())
    assert code == 0 and "Before it was built: 0 variables" in text and "4 variables in 2 layers" in text


def test_layer_shows_the_build_report_of_one_conv_layer() -> None:
    code, out, _ = run(MNIST, "-e", "analytic", "--layer", "conv2", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "convinspect.report/1" and data["input_shape"] == [None, 13, 13, 32]
    assert run(MNIST, "-e", "analytic", "--layer", "pool1")[0] == 2
    code, _, err = run(MNIST, "-e", "analytic", "--layer", "conv9")
    assert code == 2 and "did you mean 'conv2'" in err


def test_depth_folds_nested_models(tmp_path: Path) -> None:
    keras, _, _ = load()
    inner = keras.Sequential([keras.layers.Conv2D(4, 3, name="deep")], name="block")
    x = keras.Input((8, 8, 1))
    path = tmp_path / "nested.json"
    path.write_text(keras.Model(x, inner(x)).to_json())
    _, full, _ = run(str(path), "-e", "analytic", "--format", "csv")
    _, folded, _ = run(str(path), "-e", "analytic", "--format", "csv", "--depth", "0")
    assert "block/deep" in full and "block/deep" not in folded and "block," in folded


def test_csv_and_markdown_have_one_line_per_layer() -> None:
    _, csv_text, _ = run(MNIST, "-e", "analytic", "--format", "csv")
    lines = csv_text.splitlines()
    assert lines[0].startswith("path,class,call,output_shape") and len(lines) == 9
    assert lines[2].startswith("conv1,Conv2D,0,?×26×26×32,320,0,194688,")
    _, markdown, _ = run(MNIST, "-e", "analytic", "--format", "markdown")
    assert "| `conv1` | `Conv2D` | `?×26×26×32` | 320 |" in markdown


# -- bad SOURCE: one line, exit 2, JSON error object, nothing run ----------------------------


def _bad_sources(tmp_path: Path) -> dict[str, list[str]]:
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("notes.txt", "hello")
    config = json.loads(Path(MNIST).read_text())
    config["config"]["layers"][1]["class_name"] = "FancyConv"
    (tmp_path / "unknown.json").write_text(json.dumps(config))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "builders.py").write_text("def boom():\n    raise RuntimeError('no')\ndef number():\n    return 4\n")
    b = str(tmp_path / "builders.py")
    return {
        "missing file": [str(tmp_path / "nothing.keras")],
        "corrupt archive": [str(tmp_path / "corrupt.keras")],
        "zip that is not a Keras archive": [str(tmp_path / "other.zip")],
        "unknown class (analytic)": [str(tmp_path / "unknown.json"), "-e", "analytic"],
        "unknown class (keras)": [str(tmp_path / "unknown.json")],
        "JSON that is not a model": [str(tmp_path / "list.json")],
        "builder that raises": [f"{b}:boom"],
        "builder returning a number": [f"{b}:number"],
        "builder with the analytic engine": [f"{b}:boom", "-e", "analytic"],
        "input of the wrong rank": [MNIST, "--input", "1,28,28", "-e", "analytic"],
        "input of the wrong rank (keras)": [MNIST, "--input", "1,28,28"],
        "unknown application": ["keras.applications.ResNet49"],
        "folder": [str(tmp_path)],
    }


def test_every_bad_source_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for what, args in _bad_sources(tmp_path).items():
        code, out, err = run(*args, "--format", "json")
        assert code == 2, (what, err)
        assert err.count("\n") == 1 and err.startswith("convinspect: error: "), (what, err)
        assert "Traceback" not in err
        error = json.loads(out)
        assert error["schema"] == "convinspect.model/1" and error["error"]["exit_code"] == 2, what


def test_safe_mode_refuses_a_lambda_and_the_analytic_engine_runs_nothing(tmp_path: Path) -> None:
    keras, _, _ = load()
    marker = tmp_path / "ran"
    x = keras.Input((4,))
    y = keras.layers.Lambda(lambda t: t * 2, name="double")(x)
    path = tmp_path / "lambda.keras"
    keras.Model(x, y).save(path)
    code, _, err = run(str(path))
    assert code == 2 and "safe mode" in err and "--unsafe" in err
    assert run(str(path), "--unsafe")[0] == 0
    code, _, err = run(str(path), "-e", "analytic")
    assert code == 2 and "'double' is a 'Lambda'" in err and "use --engine keras" in err
    script = (
        "import sys\nfrom convinspect.api import inspect_model\n"
        f"inspect_model({MNIST!r}, engine='analytic')\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'\n"
    )
    assert subprocess.run([sys.executable, "-c", script], capture_output=True).returncode == 0
    assert not marker.exists()


def test_load_weights_reports_a_mismatch(tmp_path: Path) -> None:
    keras, _, _ = load()
    x = keras.Input((6,))
    model = keras.Model(x, keras.layers.Dense(3, name="d")(x))
    path = tmp_path / "m.keras"
    model.save(path)
    assert run(str(path), "--load-weights")[0] == 0
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        files = {name: archive.read(name) for name in archive.namelist()}
    config["config"]["layers"][1]["config"]["units"] = 4
    files["config.json"] = json.dumps(config).encode()
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    code, _, err = run(str(broken), "--load-weights")
    assert code == 2 and "stored weights do not match" in err
    code, _, err = run(MNIST, "--load-weights")
    assert code == 2 and "holds no weights" in err


def test_a_model_table_in_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "models.toml"
    (tmp_path / "mnist.json").write_text(Path(MNIST).read_text())
    spec.write_text(
        '[[model]]\nsource = "mnist.json"\nexpect_params = 34826\n\n'
        '[model.layer.conv2]\nexpect_output = "?,11,11,64"\nexpect_kernel = "3,3,32,64"\n\n'
        '[[model]]\nname = "drifted"\nsource = "mnist.json"\n[model.layer.classifier]\nexpect_params = 1\n'
    )
    result = runner.invoke(app, ["check", str(spec), "-e", "analytic", "--format", "json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [r["status"] for r in data["results"]] == ["passed", "failed"]
    assert [r["line"] for r in data["results"]] == [1, 9]
    assert data["results"][0]["report"]["schema"] == "convinspect.model/1"
    github = runner.invoke(app, ["check", str(spec), "-e", "analytic", "--format", "github"]).stdout
    assert "line=9" in github and "classifier: params: expected 1, actual 16010" in github


@pytest.mark.parametrize("bad", ["[[model]]\nsource = 3\n", '[[model]]\nsource = "m.json"\nfilters = 3\n'])
def test_a_bad_model_table_is_invalid(tmp_path: Path, bad: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(bad)
    result = runner.invoke(app, ["check", str(spec), "-e", "analytic"])
    assert result.exit_code == 2


def test_a_layer_limit_in_a_spec_file_reads_at_most(tmp_path: Path) -> None:
    """A model row's limit is named `conv2: max_macs`; it is a limit by its type, not by its name's prefix."""
    spec = tmp_path / "limits.toml"
    spec.write_text(f"[[model]]\nsource = {json.dumps(MNIST)}\n\n[model.layer.conv2]\nmax_macs = 1000\n")
    result = runner.invoke(app, ["check", str(spec), "--engine", "analytic"])
    assert result.exit_code == 1, result.stdout
    assert "conv2: max_macs: expected at most 1000, actual 2230272" in " ".join(result.stdout.split()), result.stdout
