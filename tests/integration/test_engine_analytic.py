from __future__ import annotations

import subprocess
import sys

from convinspect import inspect_layer
from convinspect.core.layer.report import REPORT_SCHEMA


def test_seed_example_report() -> None:
    report = inspect_layer(
        {"filters": 64, "kernel": 5, "strides": 2, "padding": "same", "input": "2,32,32,1"}, engine="analytic"
    )
    data = report.to_dict()
    assert data["schema"] == REPORT_SCHEMA
    assert data["engine"] == "analytic"
    assert data["forward"] is None
    assert data["variables_before"] == []
    assert [v["shape"] for v in data["variables_after"]] == [[5, 5, 1, 64], [64]]
    assert data["params"] == {"trainable": 1664, "non_trainable": 0, "total": 1664, "bytes": 6656}
    assert data["output_shape"] == [2, 16, 16, 64]
    assert data["layer"] == {
        "class": "Conv2D",
        "name": "conv2d",
        "config": {
            "filters": 64, "kernel_size": [5, 5], "strides": [2, 2], "padding": "same",
            "dilation_rate": [1, 1], "groups": 1, "data_format": "channels_last",
            "activation": "linear", "use_bias": True, "dtype": "float32",
        },
    }  # fmt: skip


def test_mixed_precision_keeps_float32_variables() -> None:
    report = inspect_layer(
        {"filters": 4, "kernel": 3, "dtype": "mixed_bfloat16", "input": "1,8,8,3"}, engine="analytic"
    )
    assert {v.dtype for v in report.variables_after} == {"float32"}


def test_analytic_path_imports_no_tensorflow_keras_or_numpy() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convinspect.cli import app\n"
        "for args in (['build', '-e', 'analytic', '-F', 'json', '-f', '64', '-k', '5', '-i', '2,32,32,1'],\n"
        "             ['build', '-e', 'analytic', '--explain', '--diagram', '-f', '4', '-k', '3', '-i', '1,9,9,2'],\n"
        "             ['sweep', '-f', '4', '-k', '3', '-i', '1,3..40,9,2', '-F', 'csv']):\n"
        "    r = CliRunner().invoke(app, args)\n"
        "    assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
