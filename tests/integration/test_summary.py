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


def _built(layer: Any, shape: tuple[int | None, ...]) -> Any:
    layer.build(shape)
    return layer


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
        (
            (_functional(), (None, 9, 9)),
            {},
            "the model is built for (None, 28, 28, 1); give an input_shape of that rank",
        ),
        ((_built(L.Conv2D(4, 3), (None, None, None, 2)),), {}, "built for (None, None, None, 2), sizes unknown"),
        (
            (L.Conv2D(4, 3), {"a": 1}),
            {},
            "input_shape: expected a shape, a tuple of whole numbers (batch first); got a dict",
        ),
        ((_functional(),), {"depth": -1}, "depth: expected a whole number of at least 0"),
        ((keras.Sequential([L.Conv2D(4, 3)]), (None, 2, 2, 1)), {}, "Keras cannot build the model for input"),
        ((_built(L.Conv2D(4, 3), (None, 8, 8, 3)), (1, 8, 8, 5)), {}, "built for (None, 8, 8, 3), and its variables"),
        ((keras.Sequential(), (1, 8, 8, 3)), {}, "input_shape: the Sequential holds no layers"),
        ((Subclassed(name="unbuilt"),), {}, "input_shape: the 'Subclassed' is not built, so it has no variables"),
        ((L.Conv2D(4, 3), "1,8"), {}, "input_shape: "),
    ],
)
def test_bad_input_is_one_line(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        convinspect.summary(*args, **kwargs)
    text = str(caught.value)
    assert message in text and "\n" not in text and len(text) < 500 and "--" not in text  # Python's words


def test_a_built_layer_is_read_for_any_shape_its_variables_take() -> None:
    layer = _built(L.Conv2D(4, 3), (None, 8, 8, 3))
    report = convinspect.summary(layer, (2, 32, 32, 3))  # a conv layer's kernel depends on the channels alone
    assert report.output_shape == (2, 30, 30, 4) and report.params.total == layer.count_params()


def test_a_model_built_for_any_image_size_is_sized_for_a_concrete_one() -> None:
    x = keras.Input((None, None, 3), name="image")
    model = keras.Model(x, L.Conv2D(4, 3, name="conv")(x), name="any_size")
    before = _state(model)
    report = convinspect.summary(model, (2, 32, 32, 3))
    assert report.row("conv").outputs == ((2, 30, 30, 4),) and report.row("conv").macs == 2 * 30 * 30 * 4 * 27  # type: ignore[union-attr]
    assert report.totals.params.total == model.count_params() and _state(model) == before
    assert report.row("image") is not None and report.input_shapes == ((2, 32, 32, 3),)


def test_input_shape_may_be_a_numpy_vector_or_numpy_integers() -> None:
    for shape in (np.array([1, 8, 8, 3]), (np.int64(1), 8, 8, 3)):
        assert convinspect.summary(L.Conv2D(2, 3), shape).output_shape == (1, 6, 6, 2)


class HoldsUnused(keras.Model):
    """A functional model that keeps a layer it never calls (as a keras_hub backbone keeps an encoder's stem)."""

    def __init__(self, **kwargs: Any) -> None:
        x = keras.Input((4,), name="x")
        super().__init__(x, L.Dense(2, name="used")(x), **kwargs)
        self.spare = L.Dense(3, name="spare")
        self.spare.build((None, 5))


def test_a_layer_held_but_never_called_counts_on_a_row_of_its_own() -> None:
    model = HoldsUnused(name="holds")
    report = convinspect.summary(model)
    assert report.totals.params.total == model.count_params() == 10 + 18
    spare = report.row("spare")
    assert spare is not None and spare.calls == 0 and spare.params.total == 18 and spare.macs == 0
    assert any(line.startswith("spare (Dense)") and "not called" in line for line in str(report).splitlines())


def test_print_writes_what_this_stdout_can_carry() -> None:
    """print(summary) and rich.print on an ASCII stdout: stand-ins for the glyphs, no UnicodeEncodeError."""
    import subprocess
    import sys

    script = (
        "import keras, convinspect, rich\n"
        "m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, name='c\\u00e9')], name='m')\n"
        "r = convinspect.summary(m); print(r); rich.print(r)\n"
        "l = convinspect.summary(keras.layers.Conv2D(2, 3), (1, 8, 8, 3)); print(l); rich.print(l)\n"
    )
    env = {**__import__("os").environ, "PYTHONIOENCODING": "ascii", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ce (Conv2D)" in done.stdout and "?x6x6x2" in done.stdout and "kernel 3x3x3x2" in done.stdout


def test_the_name_counters_are_kept_in_a_fresh_process(tmp_path: Path) -> None:
    """Keras' next automatic names are the same with summary() calls as without them, even when the
    calls come first (no counter exists yet) or read a file."""
    import subprocess
    import sys

    keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(2, 3)]).save(tmp_path / "m.keras")
    calls = (
        "convinspect.summary(keras.layers.Conv2D(8, 3, name='c'), (1, 8, 8, 3))\n"
        "convinspect.summary(keras.layers.Dense(3, name='d'), (1, 4))\n"
        f"convinspect.summary({str(tmp_path / 'm.keras')!r})\n"
    )
    names = (
        "i = keras.Input((4,))\n"
        "m = keras.Model(i, keras.layers.Dense(2)(i))\n"
        "print(keras.layers.Conv2D(4, 3).name, keras.layers.Dense(2).name, i.name, m.name)\n"
    )
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    printed = []
    for script in ("import keras, convinspect\n" + calls + names, "import keras, convinspect\n" + names):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        printed.append(done.stdout.strip())
    assert printed[0] == printed[1] == "conv2d dense_1 keras_tensor functional"


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


class NoConfig(keras.Model):
    """A functional model whose get_config() raises, as keras_hub's HGNetV2Backbone did."""

    def __init__(self, **kwargs: Any) -> None:
        x = keras.Input((8, 8, 3), name="x")
        super().__init__(x, L.Conv2D(4, 3, name="conv")(x), **kwargs)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError("no configuration for this model")


def test_the_live_model_is_read_from_its_objects_without_its_get_config() -> None:
    model = NoConfig(name="no_config")
    report = convinspect.summary(model)
    assert report.totals.params.total == model.count_params() and report.row("conv").macs == 6 * 6 * 4 * 27  # type: ignore[union-attr]


def _called(layer: Any, *args: Any) -> Any:
    layer(*args)
    return layer


def test_layers_built_for_several_inputs_are_read_as_built() -> None:
    x = np.zeros((2, 5, 6), "float32")
    add = _called(L.Add(name="add"), [x, x])
    assert convinspect.summary(add).totals.params.total == 0
    attention = _called(L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha"), x, x)
    report = convinspect.summary(attention)
    assert report.totals.params.total == attention.count_params() == 222
    assert report.totals.macs == 2 * (3 * 5 * 6 * 8 + 2 * 5 * 5 * 8 + 5 * 8 * 6)  # projections, scores, values, output
    with pytest.raises(InvalidInput, match=r"built for several inputs"):
        convinspect.summary(attention, (2, 5, 6))


def test_a_frozen_layer_s_variables_are_non_trainable() -> None:
    frozen = _built(L.Conv2D(4, 3, trainable=False), (None, 8, 8, 3))
    report = convinspect.summary(frozen)
    assert report.params.trainable == 0 and report.params.non_trainable == frozen.count_params() == 112


class Net(keras.Model):
    """A subclass whose build() builds nothing of its own (Keras warns, and marks it built)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.c, self.d = L.Conv2D(4, 3), L.Dense(3)

    def call(self, x: Any) -> Any:
        return self.d(self.c(x))


def test_reading_a_subclass_leaves_its_layers_unbuilt_and_uncalled() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hollow = Net(name="hollow")
        hollow.build((None, 8, 8, 2))
    report = convinspect.summary(hollow)
    assert report.totals.params.total == 4 * 3 * 3 * 2 + 4 + 4 * 3 + 3  # what a copy built for its shape holds
    assert hollow.weights == [] and not any(layer.built for layer in hollow.layers)
    called = Net(name="called")
    called(np.zeros((1, 8, 8, 2), "float32"))
    nodes = [len(layer._inbound_nodes) for layer in called.layers]
    for _ in range(3):
        convinspect.summary(called)
    assert [len(layer._inbound_nodes) for layer in called.layers] == nodes  # tracing left no calls behind


def test_a_copy_built_for_an_input_shape_shows_the_user_s_layer_names() -> None:
    model = Net(name="fresh")
    report = convinspect.summary(model, (None, 8, 8, 2))
    assert [row.name for row in report.rows][1:] == [layer.name for layer in model.layers]


class Pair(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a, self.b = L.Dense(3), L.Dense(3)

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, dict):
            return self.a(inputs["x"]) + self.b(inputs["y"])
        return self.a(inputs[0]) + self.b(inputs[1])


@pytest.mark.parametrize("structure", ["list", "dict"])
def test_a_subclass_taking_several_inputs_is_traced_with_their_structure(structure: str) -> None:
    model = Pair(name="pair")
    x, y = np.zeros((1, 4), "float32"), np.zeros((1, 5), "float32")
    model({"x": x, "y": y} if structure == "dict" else [x, y])
    assert convinspect.summary(model).totals.params.total == model.count_params() == 15 + 18


class Backbone(keras.Model):
    """A Functional subclass built for any image size, as keras_hub's backbones are by default."""

    def __init__(self, **kwargs: Any) -> None:
        x = keras.Input((None, None, 3), name="images")
        super().__init__(x, L.Conv2D(4, 3, strides=2, name="stem")(x), **kwargs)


def test_a_functional_subclass_built_for_any_size_is_sized_for_a_concrete_input() -> None:
    model = Backbone(name="backbone")
    report = convinspect.summary(model, (None, 32, 32, 3))
    assert report.class_name == "Backbone" and report.row("stem").outputs == ((None, 15, 15, 4),)  # type: ignore[union-attr]
    assert report.totals.macs == 15 * 15 * 4 * 27 and not model.layers[1]._inbound_nodes[1:]


class OwnScale(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.d = L.Dense(3)

    def build(self, shape: Any) -> None:
        self.scale = self.add_weight(shape=(3,), name="scale")
        self.d.build(shape)

    def call(self, x: Any) -> Any:
        return self.d(x) * self.scale


def test_the_analytic_engine_refuses_a_model_with_variables_of_its_own() -> None:
    model = OwnScale(name="own")
    model(np.zeros((1, 4), "float32"))
    assert convinspect.summary(model).totals.params.total == 18
    with pytest.raises(InvalidInput, match=r"^engine: the model holds 1 variable\(s\) of its own"):
        convinspect.summary(model, engine="analytic")
