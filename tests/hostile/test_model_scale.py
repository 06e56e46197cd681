"""Hostile sizes stay bounded: the walk is linear in the calls whatever order a file lists its
layers in, and a model that expands past the row limit is refused before anything walks it
(issue: trust at the edges, round two, items 7 to 9). The time limits are the harness's only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from paths import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))
from bench_model_scale import chain, nested, shared  # the benchmark's own generated models

from convinspect.api import inspect_model
from convinspect.core.model.walk import MAX_ROWS


def _run(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    return subprocess.run([sys.executable, "-m", "convinspect", "model", str(path), *args], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_a_chain_listed_last_to_first_is_walked_in_call_order(tmp_path: Path) -> None:
    forward, backward = tmp_path / "f.json", tmp_path / "b.json"
    forward.write_text(json.dumps(chain(50, False)))
    backward.write_text(json.dumps(chain(50, True)))
    rows = [[r.key for r in inspect_model(str(p), engine="analytic").rows] for p in (forward, backward)]
    assert rows[0] == rows[1] == ["in", *(f"a{i}" for i in range(50))]


@pytest.mark.parametrize(("label", "config"), [("reversed chain", chain(10_000, True)), ("shared", shared(3_000))])
def test_hostile_sizes_finish_well_within_the_harness_limit(tmp_path: Path, label: str, config: Any) -> None:
    result = _run(tmp_path, config, "-e", "analytic", "-F", "json")
    assert result.returncode == 0, (label, result.stderr)
    assert len(json.loads(result.stdout)["layers"]) > 3_000


def test_a_shared_layers_calls_are_each_a_row_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(shared(5)))
    rows = inspect_model(str(path), engine="analytic").rows
    assert [(r.key, r.calls, r.shared) for r in rows[1:]] == [
        ("act", 5, False), ("act#1", 5, True), ("act#2", 5, True), ("act#3", 5, True), ("act#4", 5, True)]  # fmt: skip


@pytest.mark.parametrize("engine", ["analytic", "keras"])
def test_nested_models_called_twice_per_level_are_refused_past_the_row_limit(tmp_path: Path, engine: str) -> None:
    result = _run(tmp_path, nested(24), "-e", engine)
    assert result.returncode == 2, result.stderr
    assert f"expands to more than {MAX_ROWS:,} layer calls" in result.stderr and result.stderr.count("\n") == 1


def test_a_nested_model_within_the_limit_has_every_call(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text(json.dumps(nested(4)))
    report = inspect_model(str(path), engine="analytic")
    assert sum(1 for r in report.rows if r.class_name == "Activation") == 2**4


def test_a_nested_functional_model_called_twice_or_reused_matches_keras(tmp_path: Path) -> None:
    from convinspect.engines.session import load

    keras, _, _ = load()
    x = keras.Input((4,), name="x0")
    inner = keras.Model(x, keras.layers.Dense(4, name="dd")(x), name="inner")
    x = keras.Input((4,), name="x1")
    twice = keras.Model(x, inner(inner(x)), name="twice")
    x = keras.Input((4,), name="x2")
    reused = keras.Model(x, inner(x), name="reused")  # the same inner model, on a later node of its own
    for model in (twice, reused):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        for engine in ("analytic", "keras", "both"):
            report = inspect_model(str(path), engine=engine)
            assert report.totals.params.total == model.count_params() == 20, (model.name, engine)
    calls = [r.key for r in inspect_model(str(tmp_path / "twice.keras"), engine="analytic").rows]
    assert calls == ["x1", "inner", "inner/dd", "inner#1", "inner#1/dd"]
