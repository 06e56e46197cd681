"""convinspect.summary on live Keras objects: the same report as the model's file, every kind of
model and layer, the object never changed, and every bad input one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras.src.backend.common import global_state  # noqa: E402

import convinspect  # noqa: E402
from convinspect.errors import InvalidInput  # noqa: E402

L = keras.layers


def _functional() -> Any:
    x = keras.Input((28, 28, 1), name="image")
    y = L.Conv2D(8, 3, name="conv")(x)
    y = L.Add(name="add")([y, L.Conv2D(8, 1, name="proj")(y)])
    return keras.Model(x, L.Dense(3, name="head")(L.GlobalAveragePooling2D(name="gap")(y)), name="live")


class Subclassed(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = L.Conv2D(4, 3, name="inner_conv")
        self.head = L.Dense(2, name="inner_head")

    def call(self, x: Any) -> Any:
        return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))


def _state(obj: Any) -> tuple[Any, ...]:
    """What summary() must leave as it was: variables and their values, built flags, names, counters."""
    layers = [obj, *getattr(obj, "_flatten_layers", lambda **_: [])(include_self=False)]
    return (
        [(v.path, np.array(v.numpy()).tobytes()) for v in obj.weights],
        [(layer.name, bool(layer.built)) for layer in layers],
        dict(global_state.get_global_attribute("object_name_uids")),
        getattr(obj, "_convinspect_graph", None),
    )


def test_a_live_model_gives_the_report_of_its_saved_file(tmp_path: Path) -> None:
    model = _functional()
    path = tmp_path / "live.keras"
    model.save(path)
    live, saved = convinspect.summary(model), convinspect.inspect_model(str(path))
    assert isinstance(live, convinspect.ModelReport)
    assert [(r.key, r.outputs, r.params, r.macs) for r in live.rows] == [
        (r.key, r.outputs, r.params, r.macs) for r in saved.rows
    ]
    assert live.totals == saved.totals and live.totals.params.total == model.count_params()
    assert live.source.kind == "live" and "live" in live.source.text


@pytest.mark.parametrize(
    "make",
    [_functional, lambda: keras.Sequential([L.Conv2D(4, 3), L.Dense(2)]), lambda: Subclassed(name="sub")],
    ids=["functional", "sequential", "subclassed"],
)
def test_summary_never_changes_the_object(make: Any) -> None:
    model = make()
    before = _state(model)
    convinspect.summary(model, input_shape=None if model.built else (None, 12, 12, 3))
    convinspect.summary(model, input_shape=None if model.built else (None, 12, 12, 3), engine="keras")
    assert _state(model) == before


def test_an_unbuilt_model_has_no_variables_until_a_clone_is_built_for_an_input() -> None:
    model = keras.Sequential([L.Conv2D(4, 3, name="c"), L.Dense(2, name="d")], name="lazy")
    bare = convinspect.summary(model)
    assert not bare.built and bare.totals.params.total == 0 and [r.name for r in bare.rows] == ["c", "d"]
    built = convinspect.summary(model, (None, 12, 12, 3))
    reference = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3), L.Dense(2)])  # built by hand
    assert built.built and built.variables_before == 0 and built.totals.params.total == reference.count_params()
    assert not model.built and model.weights == []


def test_a_subclassed_model_is_read_through_its_calls() -> None:
    model = Subclassed(name="sub")
    model(np.zeros((1, 8, 8, 3), "float32"))
    report = convinspect.summary(model)
    assert report.totals.params.total == model.count_params()
    assert report.row("inner_conv") is not None and report.row("inner_conv").macs == 6 * 6 * 4 * 3 * 3 * 3  # type: ignore[union-attr]


def test_a_conv_layer_tells_the_seed_s_lesson_and_stays_unbuilt() -> None:
    layer = L.Conv2D(64, 5)
    report = convinspect.summary(layer, (2, 32, 32, 1))
    assert isinstance(report, convinspect.Report) and report.variables_before == ()
    assert [v.shape for v in report.variables_after] == [(5, 5, 1, 64), (64,)] and not layer.built
    assert "Before the forward pass: trainable_variables = []" in str(report)


def test_any_other_layer_is_a_model_of_one_layer() -> None:
    layer = L.Dense(5, name="d")
    report = convinspect.summary(layer, (None, 7))
    assert isinstance(report, convinspect.ModelReport) and report.totals.params.total == 7 * 5 + 5
    assert report.totals.macs == 35 and not layer.built


def test_both_engines_agree_on_a_live_model() -> None:
    assert convinspect.summary(_functional(), engine="both").agreed_with == "analytic"


def test_the_display_protocol() -> None:
    report = convinspect.summary(_functional(), depth=0)
    bundle = report._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "application/json"}
    assert bundle["application/json"]["totals"]["params"]["total"] == report.totals.params.total
    for name in ("image", "conv", "proj", "add", "gap", "head"):
        assert name in bundle["text/plain"] and f">{name}<" in bundle["text/html"]
    assert str(report) == bundle["text/plain"] == repr(report)
    assert "<script" not in bundle["text/html"] and "://" not in bundle["text/html"]
    assert report.__rich__() is not None


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((42,), {}, "expected a keras.Model, a keras.layers.Layer or a model file; got a 'int'"),
        ((L.Conv2D(4, 3),), {}, "is not built, so it has no variables yet: give input_shape"),
        ((_functional(), (None, 9, 9, 1)), {}, "the model is built for (None, 28, 28, 1)"),
        ((_functional(),), {"depth": -1}, "depth: expected a whole number of at least 0"),
        ((keras.Sequential([L.Conv2D(4, 3)]), (None, 2, 2, 1)), {}, "Keras cannot build the model for input"),
    ],
)
def test_bad_input_is_one_line(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        convinspect.summary(*args, **kwargs)
    text = str(caught.value)
    assert message in text and "\n" not in text and len(text) < 500


class Untraceable(keras.Model):
    """Runs on real tensors, refuses symbolic ones: the walk cannot see its calls."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = L.Dense(2)

    def call(self, x: Any) -> Any:
        if isinstance(x, keras.KerasTensor):
            raise ValueError("no symbolic inputs here " + "x" * 1000)
        return self.dense(x)


def test_a_model_whose_call_fails_on_the_walk_is_one_line() -> None:
    model = Untraceable(name="untraceable")
    model(np.zeros((1, 3), "float32"))
    before = _state(model)
    with pytest.raises(InvalidInput) as caught:
        convinspect.summary(model)
    text = str(caught.value)
    assert "cannot trace the calls of 'Untraceable'.call()" in text and "ValueError" in text
    assert "\n" not in text and len(text) < 500
    assert _state(model) == before


def test_the_documented_example(tmp_path: Path) -> None:
    """docs/python.md's printed summary is this code's output, character for character."""
    import re

    from paths import ROOT

    doc = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- python-example -->\n```python\n(.*?)```", doc, re.S)
    shown = re.search(r"<!-- python-output -->\n```text\n(.*?)```", doc, re.S)
    assert code and shown
    printed: list[str] = []
    exec(code.group(1), {"print": lambda *a: printed.append(" ".join(map(str, a)))})
    assert "\n".join(printed) + "\n" == shown.group(1)
