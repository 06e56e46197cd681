"""`convinspect model` against real Keras: small models covering every rule, saved in every format,
and receptive fields proven by TensorFlow gradients."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convinspect.api import inspect_model
from convinspect.core.model.report import ModelReport, model_disagreement
from convinspect.core.model.source import Source, SourceKind
from convinspect.engines import analytic
from convinspect.engines.keras_model import model_report
from convinspect.engines.session import load

keras, np, _ = load()
L = keras.layers

IN_MEMORY = Source("a model built here", SourceKind.JSON)


def _shared() -> Any:
    x = keras.Input((16, 16, 3))
    conv = L.Conv2D(8, 3, padding="same", name="shared")
    a = conv(L.Conv2D(8, 1, name="stem")(x))
    b = conv(a)
    return keras.Model(x, L.Add(name="add")([a, b]), name="shared_net")


def _nested() -> Any:
    block = keras.Sequential([L.Conv2D(4, 3, name="inner_conv"), L.BatchNormalization(name="inner_bn")], name="block")
    x = keras.Input((12, 12, 2))
    y = block(x)
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(3, name="head")(y), name="nested_net")


def _frozen() -> Any:
    x = keras.Input((10, 10, 3))
    conv = L.Conv2D(4, 3, name="frozen_conv")
    conv.trainable = False
    y = L.BatchNormalization(name="bn")(conv(x))
    return keras.Model(x, y)


def _mixed() -> Any:
    x = keras.Input((8, 8, 3))
    y = L.Conv2D(4, 3, dtype="mixed_float16", name="half")(x)
    y = L.Normalization(name="norm")(y)
    return keras.Model(x, L.Dense(2, dtype="float64", name="wide")(y))


def _channels_first() -> Any:
    x = keras.Input((3, 17, 15))
    y = L.Conv2D(6, 3, strides=2, padding="same", data_format="channels_first", name="c")(x)
    y = L.MaxPooling2D(2, padding="same", data_format="channels_first", name="p")(y)
    y = L.ZeroPadding2D(((1, 0), (2, 1)), data_format="channels_first", name="z")(y)
    return keras.Model(x, L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True)(y))


def _sequence() -> Any:
    x = keras.Input((40, 5))
    y = L.Conv1D(8, 3, padding="causal", dilation_rate=2, name="causal")(x)
    y = L.SeparableConv1D(6, 3, depth_multiplier=2, name="sep")(y)
    y = L.Conv1DTranspose(4, 3, strides=2, output_padding=1, name="up")(y)
    y = L.UpSampling1D(2)(y)
    y = L.Cropping1D((1, 2))(y)
    y = L.PReLU(shared_axes=[1], name="prelu")(y)
    y = L.LayerNormalization(axis=[1, 2], name="ln")(y)
    return keras.Model(x, L.AveragePooling1D(3, strides=2)(y))


def _volumes() -> Any:
    x = keras.Input((6, 7, 8, 2))
    y = L.Conv3D(4, (3, 2, 1), groups=2, name="c3")(x)
    y = L.Conv3DTranspose(3, 2, strides=(1, 2, 2), padding="same", name="t3")(y)
    y = L.BatchNormalization(renorm=True, name="renorm")(y)
    y = L.UpSampling3D((1, 2, 1))(y)
    return keras.Model(x, L.Reshape((-1, 3))(y))


def _merges() -> Any:
    x = keras.Input((9, 9, 4))
    a = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    b = L.Conv2D(8, 1, name="pw")(x)
    c = L.Concatenate(name="cat")([a, b])
    d = L.Multiply(name="mul")([c, L.GlobalAveragePooling2D(keepdims=True)(c)])
    e = L.Permute((2, 1, 3))(L.Cropping2D(((1, 0), (0, 2)))(d))
    f = L.Dense(5, use_bias=False, name="per_pixel")(e)
    return keras.Model(x, [L.Flatten()(f), L.Subtract()([f, f])])


def _unbuilt() -> Any:
    return keras.Sequential([L.Conv2D(4, 3, name="a"), L.Flatten(name="f"), L.Dense(2, name="d")], name="lazy")


MODELS: dict[str, Callable[[], Any]] = {
    "shared": _shared, "nested": _nested, "frozen": _frozen, "mixed": _mixed, "channels_first": _channels_first,
    "sequence": _sequence, "volumes": _volumes, "merges": _merges,
}  # fmt: skip


def _weights(model: Any) -> tuple[int, int, dict[str, int]]:
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    frozen = sum(math.prod(v.shape) for v in model.non_trainable_weights)
    by_dtype: dict[str, int] = {}
    for v in model.weights:
        dtype = keras.backend.standardize_dtype(v.dtype)
        by_dtype[dtype] = by_dtype.get(dtype, 0) + math.prod(v.shape) * np.dtype(dtype).itemsize
    return trainable, frozen, by_dtype


def assert_matches_keras(report: ModelReport, model: Any) -> None:
    trainable, frozen, by_dtype = _weights(model)
    assert report.totals.params.total == model.count_params()
    assert (report.totals.params.trainable, report.totals.params.non_trainable) == (trainable, frozen)
    assert dict(report.totals.bytes_by_dtype) == by_dtype
    for layer in model.layers:
        row = report.row(layer.name)
        assert row is not None, layer.name
        outputs = layer.output if isinstance(layer.output, list) else [layer.output]
        assert row.outputs == tuple(tuple(t.shape) for t in outputs), layer.name


@pytest.mark.parametrize("name", MODELS)
def test_both_engines_equal_keras_on_every_rule(name: str) -> None:
    model = MODELS[name]()
    config = keras.saving.serialize_keras_object(model)
    computed = analytic.inspect_model(json.loads(json.dumps(config)), Source(name, SourceKind.JSON))
    real = model_report(model, Source(name, SourceKind.JSON), len(model.weights))
    assert_matches_keras(computed, model)
    assert_matches_keras(real, model)
    assert model_disagreement(computed, real) is None


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".json"])
def test_every_file_format_is_read_by_both_engines(tmp_path: Path, suffix: str) -> None:
    model = _nested()
    path = tmp_path / f"model{suffix}"
    if suffix == ".json":
        path.write_text(model.to_json())
    else:
        model.save(path)
    for engine in ("analytic", "keras", "both"):
        report = inspect_model(str(path), engine=engine)
        assert_matches_keras(report, model)
    assert inspect_model(str(path), engine="both").agreed_with is not None


def test_shared_layer_counts_params_once_and_macs_per_call() -> None:
    report = analytic.inspect_model(json.loads(_shared().to_json()), IN_MEMORY)
    first, second = (row for row in report.rows if row.name == "shared")
    assert (first.call, second.call, first.calls) == (0, 1, 2)
    assert first.params.total == 8 * 9 * 8 + 8 and second.params.total == 0
    assert first.macs == second.macs == 16 * 16 * 8 * 9 * 8


def test_nested_rows_and_their_model_row_count_what_keras_counts() -> None:
    model = _nested()
    report = analytic.inspect_model(json.loads(model.to_json()), IN_MEMORY)
    block = report.row("block")
    inner = [row for row in report.rows if row.path == ("block",)]
    assert block is not None and block.container and [row.name for row in inner] == ["inner_conv", "inner_bn"]
    keras_block = model.get_layer("block")
    assert block.params.total == keras_block.count_params() == 2 * 9 * 4 + 4 + 4 * 4  # conv, then 4 BN vectors
    assert [row.params.total for row in inner] == [layer.count_params() for layer in keras_block.layers]
    assert report.row("block/inner_bn") is inner[1]


def test_a_lazy_model_has_no_variables_until_input_builds_it(tmp_path: Path) -> None:
    path = tmp_path / "lazy.json"
    path.write_text(_unbuilt().to_json())
    for engine in ("analytic", "keras"):
        before = inspect_model(str(path), engine=engine)
        assert (before.lazy, before.built, before.variables_before, before.totals.params.total) == (True, False, 0, 0)
        assert all(row.output_shape is None for row in before.rows)
        after = inspect_model(str(path), engine=engine, input="2,8,8,3")
        assert (after.built, after.variables_before, after.variable_count) == (True, 0, 4)
        assert after.row("d").output_shape == (2, 2)  # type: ignore[union-attr]
    model = _unbuilt()
    model.build((2, 8, 8, 3))
    assert inspect_model(str(path), engine="both", input="2,8,8,3").totals.params.total == model.count_params()


def test_input_overrides_the_batch_and_the_size() -> None:
    config = json.loads(_nested().to_json())
    report = analytic.inspect_model(config, IN_MEMORY, (4, 20, 20, 2))
    assert report.row("head").output_shape == (4, 3)  # type: ignore[union-attr]
    assert report.row("block/inner_conv").output_shape == (4, 18, 18, 4)  # type: ignore[union-attr]
    assert report.batch_known


# -- receptive fields, proven by gradients ------------------------------------------------


def _rf_models() -> list[Any]:
    def model(*layers: Any, shape: tuple[int, ...] = (23, 21, 1)) -> Any:
        x = keras.Input(shape)
        y = x
        for layer in layers:
            y = layer(y)
        return keras.Model(x, y)

    x = keras.Input((25, 25, 1))
    a = L.Conv2D(2, 3, padding="same")(x)
    b = L.Conv2D(2, 5, dilation_rate=2, padding="same")(x)
    c = L.Conv2D(1, 3, strides=2)(L.Add()([a, b]))
    branchy = keras.Model(x, c)
    x2 = keras.Input((24, 24, 1))
    d = L.ZeroPadding2D(((2, 0), (1, 1)))(x2)
    e = L.AveragePooling2D(3, strides=2, padding="same")(d)
    f = L.Concatenate()([L.Cropping2D(((1, 1), (0, 2)))(e), L.Cropping2D(((0, 2), (1, 1)))(e)])
    cropped = keras.Model(x2, L.SeparableConv2D(1, 2, padding="same")(f))
    return [
        model(L.Conv2D(1, 3), L.Conv2D(1, 3, strides=2), L.Conv2D(1, 4, padding="same")),
        model(
            L.Conv2D(1, (5, 3), strides=(2, 1), padding="same"),
            L.AveragePooling2D(2),
            L.DepthwiseConv2D(3, dilation_rate=2, padding="same"),
        ),
        branchy,
        cropped,
        model(L.Conv1D(1, 4, padding="causal", dilation_rate=3), L.AveragePooling1D(3, strides=2), shape=(40, 1)),
    ]


def _support(model: Any, index: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per input axis, the first and last input cell the output cell `index` depends on."""
    tf = __import__("tensorflow")
    for variable in model.weights:
        variable.assign(np.ones(variable.shape, dtype="float32"))
    inputs = tf.ones((1, *model.input.shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = model(inputs)
        value = out[(0, *index, 0)]
    grad = np.abs(tape.gradient(value, inputs).numpy()[0, ..., 0]) > 0
    found = []
    for axis in range(grad.ndim):
        others = tuple(a for a in range(grad.ndim) if a != axis)
        cells = np.nonzero(grad.any(axis=others))[0]
        found.append((int(cells[0]), int(cells[-1])))
    return found


@pytest.mark.parametrize("which", range(5))
def test_receptive_fields_equal_tensorflow_gradients(which: int) -> None:
    model = _rf_models()[which]
    report = analytic.inspect_model(json.loads(model.to_json()), IN_MEMORY)
    last = [row for row in report.rows if row.receptive_field is not None][-1]
    field = last.receptive_field
    assert field is not None and not field.whole
    out_shape = model.output.shape[1:-1]
    in_shape = model.input.shape[1:-1]
    # Away from the borders a cell reads its whole field; at a border, padding inside the network
    # (not only the input's edge) can cut it, so there the cells read lie within the field.
    center = tuple(n // 2 for n in out_shape)
    for index in (center, tuple(0 for _ in out_shape), tuple(n - 1 for n in out_shape)):
        expected = []
        for (_, f), i, n in zip(field.axes, index, in_shape):
            first = f.start + i * f.jump
            expected.append((max(first, 0), min(first + f.size - 1, n - 1)))
        found = _support(model, index)
        if index == center:
            assert found == expected, (index, field)
        else:
            assert all(lo <= a <= b <= hi for (a, b), (lo, hi) in zip(found, expected)), (index, field, found)


def test_global_pooling_reads_the_whole_input() -> None:
    report = analytic.inspect_model(json.loads(_nested().to_json()), IN_MEMORY)
    pool = next(row for row in report.rows if row.class_name == "GlobalAveragePooling2D")
    assert pool.receptive_field is not None and pool.receptive_field.whole
