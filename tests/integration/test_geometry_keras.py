"""Geometry against TensorFlow: how often the real layer reads each input cell.

With every weight set to 1, one channel and one filter, the gradient of the output's
sum with respect to input cell p counts the kernel taps that read p. The geometry's
taps (padding, stride, dilation, cropping) must predict that count for every cell,
which also pins the unread trailing cells (count 0 at the end).
"""

from __future__ import annotations

from typing import Any

import pytest

from convinspect import inspect_layer

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
tf = pytest.importorskip("tensorflow")

from oracles import reads_per_input  # noqa: E402  (after the skips: it needs NumPy)

CASES: list[dict[str, Any]] = [
    {"layer": "conv1d", "filters": 1, "kernel": 3, "strides": 4, "input": "1,10,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 4, "padding": "same", "input": "1,10,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 3, "strides": 2, "padding": "same", "input": "1,8,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 1, "strides": 4, "padding": "same", "input": "1,10,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 3, "dilation": 2, "padding": "causal", "input": "1,10,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 3, "strides": 2, "padding": "causal", "input": "1,10,1"},
    {"layer": "conv1d", "filters": 1, "kernel": 3, "dilation": 3, "input": "1,13,1"},
    {"layer": "conv2d", "filters": 1, "kernel": "4,3", "strides": "2,3", "padding": "same", "input": "1,9,11,1"},
    {"layer": "conv2d", "filters": 1, "kernel": 2, "strides": 3, "input": "1,10,9,1"},
    {"layer": "depthwise-conv2d", "kernel": 3, "strides": 2, "dilation": 2, "padding": "same", "input": "1,9,8,1"},
    {"layer": "depthwise-conv1d", "kernel": 5, "strides": 3, "input": "1,14,1"},
    {"layer": "separable-conv1d", "filters": 1, "kernel": 4, "strides": 2, "padding": "same", "input": "1,9,1"},
    {"layer": "conv1d-transpose", "filters": 1, "kernel": 3, "strides": 2, "padding": "same", "input": "1,6,1"},
    {"layer": "conv1d-transpose", "filters": 1, "kernel": 4, "strides": 2, "padding": "same",
     "output_padding": 1, "input": "1,5,1"},
    {"layer": "conv1d-transpose", "filters": 1, "kernel": 1, "strides": 3, "input": "1,4,1"},
    {"layer": "conv1d-transpose", "filters": 1, "kernel": 5, "strides": 3, "padding": "same", "input": "1,4,1"},
    {"layer": "conv2d-transpose", "filters": 1, "kernel": "3,2", "strides": 2, "output_padding": "1,0",
     "input": "1,4,5,1"},
    {"layer": "conv2d-transpose", "filters": 1, "kernel": 3, "strides": 3, "dilation": 1, "padding": "same",
     "input": "1,3,4,1"},
]  # fmt: skip


def measured_counts(values: dict[str, Any]) -> Any:
    """The gradient of sum(layer(x)) with respect to x, all weights 1, as integers."""
    from convinspect.core.layer.spec import parse_spec

    spec = parse_spec(values)
    layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
    layer.build(spec.input_shape)
    layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    x = tf.constant(np.random.default_rng(0).standard_normal(spec.input_shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(layer(x))
    counts = tape.gradient(total, x).numpy()[0, ..., 0]
    return np.rint(counts).astype(np.int64)


@pytest.mark.parametrize("values", CASES, ids=lambda v: f"{v['layer']}-{v['input']}-{v.get('padding', 'valid')}")
def test_taps_match_tensorflow(values: dict[str, Any]) -> None:
    report = inspect_layer(values, engine="keras", seed=0)
    np.testing.assert_array_equal(measured_counts(values), reads_per_input(report.measures.geometry))


def test_unread_trailing_cells_get_no_gradient() -> None:
    values = {"layer": "conv1d", "filters": 1, "kernel": 3, "strides": 4, "input": "1,10,1"}
    (g,) = inspect_layer(values, engine="keras").measures.geometry
    counts = measured_counts(values)
    assert g.unread_trailing == 3
    assert counts[-3:].tolist() == [0, 0, 0] and counts[-4] > 0


MAC_CASES: list[dict[str, Any]] = [
    {"layer": "conv2d", "filters": 4, "kernel": "3,2", "strides": 2, "groups": 2, "input": "2,9,8,6"},
    {"layer": "conv1d", "filters": 3, "kernel": 3, "dilation": 2, "input": "1,12,2"},
    {"layer": "conv3d", "filters": 2, "kernel": 2, "strides": "1,2,1", "input": "1,4,5,3,2"},
    {"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 3, "strides": 2, "input": "2,9,9,2"},
    {"layer": "conv2d-transpose", "filters": 3, "kernel": 3, "strides": 2, "input": "1,4,5,2"},
    {"layer": "conv1d-transpose", "filters": 2, "kernel": 2, "strides": 3, "output_padding": 1, "input": "2,5,3"},
    {"layer": "conv3d-transpose", "filters": 2, "kernel": 2, "strides": 2, "input": "1,2,3,2,2"},
    {"layer": "depthwise-conv1d", "kernel": 4, "depth_multiplier": 2, "strides": 2, "input": "2,11,3"},
]


@pytest.mark.parametrize("values", MAC_CASES, ids=lambda v: f"{v['layer']}-{v['input']}")
def test_macs_equal_the_products_the_layer_sums(values: dict[str, Any]) -> None:
    """With weights and input all 1 and no padding or cropping, every product the layer
    adds is a 1, so its output sums to its multiply-accumulate count."""
    from convinspect.core.layer.spec import parse_spec

    spec = parse_spec({**values, "use_bias": False})
    layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
    layer.build(spec.input_shape)
    layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    total = float(np.asarray(layer(np.ones(spec.input_shape, dtype="float32"))).sum())
    report = inspect_layer({**values, "use_bias": False}, engine="keras")
    assert total == report.measures.cost.macs
