"""Keras 2 (tf_keras) files Keras 3 cannot read as saved, each translated (core/model/legacy.py) and
held to what tf_keras itself counts: every file form it writes, read by the Keras engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tfkeras import needs_tf_keras, save_with_tf_keras

CASES = {
    "lambda": ("i = k.Input((8,)); model = k.Model(i, k.layers.Dense(3)(k.layers.Lambda(lambda t: t * 2.0)(i)))",
               ("m.h5", "m.json")),
    "multi_head_attention": ("q, v = k.Input((4, 6)), k.Input((5, 6))\n"
                             "model = k.Model([q, v], k.layers.MultiHeadAttention(2, 3)(q, v))", ("m.h5", "m.json")),
    "spatial_dropout": ("i = k.Input((8, 8, 3))\n"
                        "model = k.Model(i, k.layers.Conv2D(2, 3)(k.layers.SpatialDropout2D(0.2)(i)))",
                        ("m.h5", "m.json")),
    "thresholded_relu": ("i = k.Input((5,))\n"
                         "model = k.Model(i, k.layers.Dense(2)(k.layers.ThresholdedReLU(theta=0.5)(i)))",
                         ("m.h5", "m.json")),
}  # fmt: skip


def _model(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    code = "from convinspect.entry import main; main()"
    return subprocess.run([sys.executable, "-c", code, "model", str(path), "--format", "json", *flags],
                          capture_output=True, text=True, check=False)  # fmt: skip


@needs_tf_keras
@pytest.mark.parametrize("name", CASES)
def test_a_keras_2_file_is_read_as_tf_keras_counts_it(tmp_path: Path, name: str) -> None:
    body, files = CASES[name]
    expected = save_with_tf_keras(tmp_path, body)
    for file in files:
        result = _model(tmp_path / file, "--unsafe")  # a Lambda's code runs only under --unsafe
        assert result.returncode == 0, (file, result.stderr)
        data = json.loads(result.stdout)
        assert data["totals"]["params"]["total"] == expected["params"], file
        last = [row for row in data["layers"] if row["depth"] == 0][-1]
        assert last["output_shape"] == expected["output"], file


@needs_tf_keras
def test_a_keras_2_lambda_still_needs_unsafe(tmp_path: Path) -> None:
    save_with_tf_keras(tmp_path, CASES["lambda"][0])
    result = _model(tmp_path / "m.json")
    assert result.returncode == 2 and "safe mode refuses to run" in result.stderr
    assert result.stderr.count("\n") == 1
