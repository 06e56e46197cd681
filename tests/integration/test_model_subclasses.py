"""`convinspect model` on models that are not plain Functional or Sequential ones: keras_hub
backbones and task models (subclasses of Functional), a user's model with its own call(), and the
nested shapes Keras allows. Each is checked against the framework that made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convinspect.api import inspect_model
from convinspect.engines.session import load
from convinspect.errors import InvalidInput

keras, np, _ = load()
L = keras.layers
keras_hub = pytest.importorskip("keras_hub")


def _resnet(image: int = 32) -> Any:
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(image, image, 3),
    )  # fmt: skip


@keras.saving.register_keras_serializable(package="convinspect_tests")
class OwnCall(keras.Model):
    """A model subclassed the keras.io way: layers as attributes, the graph in call()."""

    def __init__(self, classes: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = classes
        self.first = L.Conv2D(8, 3, padding="same", name="first")
        self.second = L.Conv2D(8, 3, padding="same", name="second")
        self.pool = L.GlobalAveragePooling2D(name="pool")
        self.head = L.Dense(classes, name="head")

    def call(self, x: Any) -> Any:
        y = self.first(x)
        y = keras.ops.relu(y) + self.second(y)
        return self.head(self.pool(y))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes}


def _saved(model: Any, tmp_path: Path, name: str) -> str:
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    return path


def _layers_by_name(model: Any) -> dict[str, Any]:
    return {layer.name: layer for layer in model._flatten_layers(include_self=False)}


def _agrees_with_keras(report: Any, model: Any) -> None:
    assert report.totals.params.total == model.count_params()
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert report.totals.params.trainable == trainable
    layers = _layers_by_name(model)
    for row in report.rows:
        layer = layers.get(row.name)
        if layer is None or row.class_name == "InputLayer" or not hasattr(layer, "output"):
            continue
        try:
            real = layer.output.shape
        except (AttributeError, ValueError):  # a layer called more than once has no single output
            continue
        assert row.output_shape == tuple(real), row.key


def test_a_keras_hub_backbone_is_walked_on_its_built_graph(tmp_path: Path) -> None:
    backbone = _resnet()
    path = _saved(backbone, tmp_path, "resnet")
    report = inspect_model(path, engine="keras", imports=["keras_hub"])
    assert report.class_name == "ResNetBackbone"
    _agrees_with_keras(report, backbone)
    convs = [row for row in report.rows if row.class_name == "Conv2D"]
    assert convs and all(row.macs for row in convs)


def test_the_analytic_engine_refuses_a_backbone_in_one_line_naming_the_class_and_the_import(tmp_path: Path) -> None:
    path = _saved(_resnet(), tmp_path, "resnet")
    with pytest.raises(InvalidInput) as caught:
        inspect_model(path, engine="analytic")
    message = caught.value.message()
    assert "'ResNetBackbone'" in message and "--engine keras --import keras_hub" in message
    assert "\n" not in message


def test_a_keras_hub_task_model_expands_its_backbone(tmp_path: Path) -> None:
    classifier = keras_hub.models.ImageClassifier(backbone=_resnet(), num_classes=5)
    path = _saved(classifier, tmp_path, "classifier")
    report = inspect_model(path, engine="keras", imports=["keras_hub"])
    assert report.class_name == "ImageClassifier"
    backbone = next(row for row in report.rows if row.class_name == "ResNetBackbone")
    assert backbone.container and any(row.path == (backbone.name,) for row in report.rows)
    _agrees_with_keras(report, classifier)


def test_a_model_with_its_own_call_is_traced(tmp_path: Path) -> None:
    model = OwnCall(name="own_call")
    model(np.zeros((1, 16, 16, 3), dtype="float32"))
    path = _saved(model, tmp_path, "own")
    report = inspect_model(path, engine="keras")
    assert report.class_name == "OwnCall"
    assert [row.name for row in report.rows if row.class_name == "Conv2D"] == ["first", "second"]
    assert report.totals.params.total == model.count_params()
    assert report.row("head") is not None and report.row("head").output_shape == (None, 10)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match=r"'OwnCall'.*--engine keras --import"):
        inspect_model(path, engine="analytic")


@keras.saving.register_keras_serializable(package="convinspect_tests")
class GraphSubclass(keras.Model):
    """A subclass of Functional that keeps Keras' own get_config: its saved form holds the graph."""


def test_a_subclass_whose_saved_config_holds_the_graph_is_read_by_both_engines(tmp_path: Path) -> None:
    x = keras.Input((12, 12, 3))
    model = GraphSubclass(x, L.Dense(4)(L.Flatten()(L.Conv2D(6, 3)(x))), name="graph_subclass")
    path = _saved(model, tmp_path, "graph")
    for engine in ("keras", "analytic", "both"):
        report = inspect_model(path, engine=engine)
        assert report.class_name == "GraphSubclass"
        assert report.totals.params.total == model.count_params()


def _nested_models() -> dict[str, Any]:
    x = keras.Input((16, 16, 3))
    head = keras.Sequential([L.GlobalAveragePooling2D(), L.Dense(10)], name="head")
    seq_in_fn = keras.Model(x, head(L.Conv2D(8, 3)(x)), name="seq_in_fn")
    i = keras.Input((16, 16, 3))
    head_in = keras.Sequential([keras.Input((14, 14, 8)), L.Flatten(), L.Dense(3)], name="head")
    seq_with_input = keras.Model(i, head_in(L.Conv2D(8, 3)(i)), name="seq_with_input")
    inner_in = keras.Input((16, 16, 3))
    inner = keras.Model(inner_in, L.Conv2D(4, 3)(inner_in), name="inner")
    fn_in_seq = keras.Sequential([keras.Input((16, 16, 3)), inner, L.Flatten(), L.Dense(2)], name="fn_in_seq")
    a = keras.Sequential([L.Conv2D(4, 3), L.ReLU()], name="a")
    b = keras.Sequential([a, L.Conv2D(2, 1)], name="b")
    j = keras.Input((12, 12, 3))
    twice = keras.Model(j, b(j), name="twice")
    shared_block = keras.Sequential([L.Conv2D(3, 3, padding="same")], name="shared_block")
    k = keras.Input((8, 8, 3))
    shared = keras.Model(k, L.Add()([shared_block(k), shared_block(k)]), name="shared")
    return {"seq_in_fn": seq_in_fn, "seq_with_input": seq_with_input, "fn_in_seq": fn_in_seq, "twice": twice,
            "shared": shared}  # fmt: skip


@pytest.mark.parametrize("name", ["seq_in_fn", "seq_with_input", "fn_in_seq", "twice", "shared"])
def test_nested_models_in_every_shape_keras_allows(name: str, tmp_path: Path) -> None:
    model = _nested_models()[name]
    path = _saved(model, tmp_path, name)
    for engine in ("keras", "analytic", "both"):
        report = inspect_model(path, engine=engine)
        assert report.totals.params.total == model.count_params(), engine
        top = [row for row in report.rows if not row.path]
        assert top[-1].output_shape == tuple(model.outputs[0].shape), engine


@keras.saving.register_keras_serializable(package="convinspect_tests")
class Residual(keras.layers.Layer):
    """A user's block: two conv layers inside a custom layer's call()."""

    def __init__(self, filters: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.a = L.Conv2D(filters, 3, padding="same")
        self.b = L.Conv2D(filters, 3, padding="same")

    def call(self, x: Any) -> Any:
        return x + self.b(keras.ops.relu(self.a(x)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="convinspect_tests")
class Scale(keras.layers.Layer):
    """A layer with a tensordot of its own on a variable of its own: no rule counts it."""

    def build(self, shape: Any) -> None:
        self.w = self.add_weight(shape=(shape[-1], shape[-1]))

    def call(self, x: Any) -> Any:
        return keras.ops.tensordot(x, self.w, axes=1)


@keras.saving.register_keras_serializable(package="convinspect_tests")
class Patches(keras.layers.Layer):
    """ViT's patch embedding: a strided Conv2D, then a class token and a position embedding of its own."""

    def __init__(self, width: int = 8, patch: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width, self.patch = width, patch
        self.conv = L.Conv2D(width, patch, strides=patch, name="patch_conv")

    def build(self, shape: Any) -> None:
        self.conv.build(shape)
        count = (shape[1] // self.patch) * (shape[2] // self.patch)
        self.token = self.add_weight(shape=(1, 1, self.width), name="class_token")
        self.position = self.add_weight(shape=(1, count + 1, self.width), name="position")

    def call(self, x: Any) -> Any:
        y = self.conv(x)
        y = keras.ops.reshape(y, (-1, y.shape[1] * y.shape[2], self.width))
        token = keras.ops.broadcast_to(self.token, (keras.ops.shape(y)[0], 1, self.width))
        return keras.ops.concatenate([token, y], axis=1) + self.position

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width, "patch": self.patch}


def _blocks(scale: bool) -> Any:
    x = keras.Input((16, 16, 8))
    y = Residual(8, name="res")(x)
    if scale:
        y = Scale(name="scale")(y)
    return keras.Model(x, L.Dense(2, name="dense")(L.GlobalAveragePooling2D()(y)), name="blocks")


def test_a_patch_conv_counts_though_its_layer_adds_a_token_and_a_position_of_its_own(tmp_path: Path) -> None:
    x = keras.Input((16, 16, 3))
    y = Patches(name="patches")(x)
    path = _saved(keras.Model(x, L.Dense(2, name="head")(L.GlobalAveragePooling1D()(y)), name="vit"), tmp_path, "vit")
    report = inspect_model(path, engine="keras")
    row = report.row("patches")
    assert row is not None and row.complete, row
    assert row.macs == (4 * 4 * 8) * (4 * 4 * 3)  # 16 patches x 8 filters, each 4x4x3 taps
    assert row.params.total == (4 * 4 * 3 * 8 + 8) + 8 + 17 * 8  # conv, class token, 17 positions
    assert report.totals.complete


def test_the_conv_work_inside_a_custom_layer_is_counted_on_its_row(tmp_path: Path) -> None:
    path = _saved(_blocks(scale=False), tmp_path, "blocks")
    report = inspect_model(path, engine="keras")
    res = report.row("res")
    assert res is not None and res.complete
    assert res.macs == 2 * (16 * 16 * 8) * (3 * 3 * 8)  # two 3x3 convs, 8 -> 8 channels, every output cell
    assert report.totals.complete and report.totals.macs == res.macs + 8 * 2


def test_work_no_rule_counts_is_said_on_the_row_the_totals_and_fails_max_macs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from convinspect.cli import app

    path = _saved(_blocks(scale=True), tmp_path, "blocks")
    report = inspect_model(path, engine="keras")
    scale = report.row("scale")
    assert scale is not None and not scale.complete and len(scale.uncounted) == 1
    assert "tensordot" in scale.uncounted[0] and report.totals.uncounted == ("scale",)  # the totals name the row
    data = report.to_dict()
    assert data["totals"]["complete"] is False and data["totals"]["uncounted"] == ["scale"]
    runner = CliRunner()
    table = runner.invoke(app, ["model", path, "--max-macs", "100000000"])
    assert table.exit_code == 1, table.output
    assert "MACs are incomplete" in table.output and "scale (Scale)" in table.output
    csv = runner.invoke(app, ["model", path, "-F", "csv"])
    assert csv.exit_code == 0 and csv.output.splitlines()[0].endswith("macs_complete")
    assert any(line.startswith("scale,") and line.endswith(",false") for line in csv.output.splitlines())


@keras.saving.register_keras_serializable(package="convinspect_tests")
class DenseThenMatmul(keras.layers.Layer):
    """Dense sublayers the rules count, and a matmul of their outputs, counted from its operands."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.q, self.k = L.Dense(8), L.Dense(8)

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(self.q(x), keras.ops.transpose(self.k(x), (0, 2, 1)))


@keras.saving.register_keras_serializable(package="convinspect_tests")
class Attention(keras.layers.Layer):
    """Scores and weighted values by einsum, on projections of its own kernel (EinsumDense's way)."""

    def build(self, shape: Any) -> None:
        self.w = self.add_weight(shape=(shape[-1], 2, 6), name="projection")

    def call(self, x: Any) -> Any:
        heads = keras.ops.einsum("btc,chd->bthd", x, self.w)
        scores = keras.ops.softmax(keras.ops.einsum("bqhd,bkhd->bhqk", heads, heads))
        return keras.ops.reshape(keras.ops.einsum("bhqk,bkhd->bqhd", scores, heads), (-1, x.shape[1], 12))


@keras.saving.register_keras_serializable(package="convinspect_tests")
class BorrowedKernel(keras.layers.Layer):
    """A sublayer's kernel used without calling the sublayer, by a product no rule knows (dot)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.d = L.Dense(4)

    def build(self, shape: Any) -> None:
        self.d.build(shape)

    def call(self, x: Any) -> Any:
        return keras.ops.dot(x, self.d.kernel)


@pytest.mark.parametrize(("layer", "shape", "counted"), [
    (DenseThenMatmul, (64, 4), 2 * 64 * 4 * 8 + 64 * 8 * 64),
    (Attention, (10, 5), 10 * 5 * 2 * 6 + 2 * (10 * 10 * 2 * 6)),
])  # fmt: skip
def test_einsum_and_matmul_are_counted_from_their_operands(
    layer: Any, shape: tuple[int, ...], counted: int, tmp_path: Path
) -> None:
    from corpus import graph_macs

    x = keras.Input(shape)
    model = keras.Model(x, layer(name="custom")(x))
    report = inspect_model(_saved(model, tmp_path, "custom"), engine="keras")
    row = report.row("custom")
    assert row is not None and row.complete and row.macs == counted == graph_macs(model, (1, *shape))
    assert report.totals.complete


def test_work_no_rule_knows_is_not_counted_silently(tmp_path: Path) -> None:
    x = keras.Input((16, 4))
    report = inspect_model(_saved(keras.Model(x, BorrowedKernel(name="custom")(x)), tmp_path, "custom"), engine="keras")
    row = report.row("custom")
    assert row is not None and row.macs == 0 and not row.complete and "dot" in row.uncounted[0]
    assert not report.totals.complete


def test_an_unknown_size_makes_the_count_unknown_not_zero(tmp_path: Path) -> None:
    x = keras.Input((None, 4))  # a sequence of any length: the sublayers' MACs depend on it
    report = inspect_model(_saved(keras.Model(x, DenseThenMatmul(name="custom")(x)), tmp_path, "custom"),
                           engine="keras")  # fmt: skip
    row = report.row("custom")
    assert row is not None and row.macs is None and row.complete and report.totals.macs is None
