"""The analytic engine refuses what Keras refuses, in every layer it sizes: int64 limits and Keras'
own argument checks (issue: trust at the edges, round two, item 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT

MNIST = ROOT / "examples" / "mnist_convnet.json"


def _edited(tmp_path: Path, layer: str, key: str, value: Any) -> str:
    config = json.loads(MNIST.read_text())
    (found,) = [entry for entry in config["config"]["layers"] if entry["config"]["name"] == layer]
    found["config"][key] = value
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize(
    ("layer", "key", "value", "words"),
    [
        ("classifier", "units", 2**70, "over the int64 limit"),
        ("dropout", "rate", 5.0, "rate is 5.0; Keras takes a number between 0 and 1"),
        ("dropout", "rate", -0.5, "between 0 and 1"),
        ("conv1", "activation", "relu7", "unknown activation 'relu7'"),
    ],
)
def test_the_analytic_engine_refuses_what_keras_refuses(
    cli: Any, tmp_path: Path, layer: str, key: str, value: Any, words: str
) -> None:
    path = _edited(tmp_path, layer, key, value)
    for engine in ("analytic", "keras"):
        result = cli("model", path, "-e", engine)
        assert result.exit_code == 2, (engine, result.output)
        assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
    analytic = cli("model", path, "-e", "analytic")
    assert words in analytic.stderr, analytic.stderr


def test_a_registered_custom_activation_name_is_left_to_keras(cli: Any, tmp_path: Path) -> None:
    path = _edited(tmp_path, "conv1", "activation", "my_package>swish2")
    assert cli("model", path, "-e", "analytic").exit_code == 0
