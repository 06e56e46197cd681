"""The example notebook (examples/summary.ipynb), executed in a real Jupyter kernel: each summary
comes out as the display protocol promises, with every layer and the totals in each form."""

from __future__ import annotations

import os
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from paths import EXAMPLES


@pytest.fixture(scope="module")
def cells() -> list[Any]:
    notebook = nbformat.read(EXAMPLES / "summary.ipynb", as_version=4)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.km_env = env  # type: ignore[attr-defined]
    client.execute(env=env)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _result(cell: Any) -> dict[str, Any]:
    (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return dict(out.data)


def test_an_unbuilt_model_says_it_has_no_variables_yet(cells: list[Any]) -> None:
    data = _result(cells[0])
    assert {"text/plain", "text/html", "application/json"} <= set(data)
    report = data["application/json"]
    assert report["built"] is False and report["totals"]["params"]["total"] == 0
    for name in ("conv1", "pool", "conv2", "gap", "head"):
        assert name in data["text/plain"] and name in data["text/html"]


def test_input_shape_shows_what_building_will_create_on_a_clone(cells: list[Any]) -> None:
    data = _result(cells[1])
    params = 3 * 3 * 1 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 64 * 10 + 10  # worked out from the layers
    assert data["application/json"]["totals"]["params"]["total"] == params
    assert f"{params:,}" in data["text/plain"] and f"{params:,}" in data["text/html"]
    html = data["text/html"]
    assert "<script" not in html and "http" not in html and "<table" in html
    assert _result(cells[2])["text/plain"] == "(False, 0)"  # the user's model was not built


def test_a_conv_layer_shows_the_seed_lesson(cells: list[Any]) -> None:
    data = _result(cells[3])
    assert "Before the forward pass: trainable_variables = []" in data["text/plain"]
    assert data["application/json"]["params"]["total"] == 5 * 5 * 1 * 64 + 64
    assert "conv2d/kernel" in data["text/html"]
