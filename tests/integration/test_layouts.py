"""Weight layouts, proven numerically.

The NumPy convolutions of tests/support/oracles.py, written the PyTorch way (NCHW input,
(out, in/groups, kh, kw) weights, transposed weights (in, out, kh, kw)), are fed the
Keras layer's weights, converted with the report's reshape/transpose (oracles.to_torch),
and the geometry's padding and cropping. They must reproduce the real Keras layer's output.
"""

from __future__ import annotations

from typing import Any

import pytest

from convinspect import inspect_layer
from convinspect.core.layer.geometry import AxisGeometry
from convinspect.core.layer.spec import parse_spec

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from oracles import conv_nd, conv_transpose_nd, to_torch  # noqa: E402  (after the skips: it needs NumPy)


def torch_conv2d(x: Any, w: Any, b: Any, geometry: tuple[AxisGeometry, ...], groups: int) -> Any:
    """torch.nn.functional.conv2d (oracles.conv_nd) with the geometry's strides, dilations and padding."""
    return conv_nd(x, w, b, strides=[g.stride for g in geometry], dilations=[g.dilation for g in geometry],
                   pads=[(g.pad_before, g.pad_after) for g in geometry], groups=groups)  # fmt: skip


def torch_conv_transpose2d(x: Any, w: Any, b: Any, geometry: tuple[AxisGeometry, ...]) -> Any:
    """torch.nn.functional.conv_transpose2d (oracles.conv_transpose_nd), then the geometry's crops."""
    return conv_transpose_nd(x, w, b, strides=[g.stride for g in geometry], dilations=[g.dilation for g in geometry],
                             crops=[(g.crop_before, g.crop_after, g.extra_after) for g in geometry])  # fmt: skip


def run_keras(values: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Input (NHWC), the Keras layer's output (NHWC) and its weights by name."""
    spec = parse_spec(values)
    layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
    rng = np.random.default_rng(7)
    x = rng.standard_normal(spec.input_shape).astype("float32")
    layer.build(spec.input_shape)
    layer.set_weights([rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()])
    y = np.asarray(layer(x))
    return x, y, {v.name: np.asarray(v) for v in layer.weights}


def compare_with_keras(values: dict[str, Any], torch_forward: Any) -> None:
    report = inspect_layer(values, engine="analytic")
    if not report.runtime.runs:  # the plain CPU kernels of this process refuse it (test_runtime.py)
        assert report.runtime.kernels is not None
        pytest.skip(f"TensorFlow's {report.runtime.kernels.kernels} CPU kernels here refuse it ({report.runtime.rule})")
    x, y, weights = run_keras(values)
    layouts = {layout.variable: layout for layout in report.measures.layouts}
    converted = {name: to_torch(weights[name], layouts[name]) for name in weights}
    nchw = torch_forward(x.transpose(0, 3, 1, 2).astype("float64"), converted, report)
    np.testing.assert_allclose(nchw.transpose(0, 2, 3, 1), y, rtol=1e-4, atol=1e-4)


CONV2D = [
    {"filters": 6, "kernel": 3, "input": "2,9,10,4"},
    {"filters": 6, "kernel": "4,3", "strides": 2, "padding": "same", "groups": 2, "input": "2,11,9,4"},
    {"filters": 4, "kernel": 3, "dilation": 2, "padding": "same", "use_bias": False, "input": "1,8,8,3"},
]
DEPTHWISE = [
    {"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 2, "input": "2,8,9,3"},
    {"layer": "depthwise-conv2d", "kernel": "2,4", "depth_multiplier": 3, "strides": "2,1", "padding": "same",
     "input": "1,9,8,2"},
]  # fmt: skip
TRANSPOSE = [
    {"layer": "conv2d-transpose", "filters": 5, "kernel": 3, "strides": 2, "padding": "same", "input": "2,4,5,3"},
    {"layer": "conv2d-transpose", "filters": 2, "kernel": "4,3", "strides": 2, "padding": "same",
     "output_padding": "1,1", "input": "1,4,4,3"},
    {"layer": "conv2d-transpose", "filters": 3, "kernel": 2, "strides": 3, "output_padding": "2,1",
     "input": "1,3,4,2"},
    {"layer": "conv2d-transpose", "filters": 3, "kernel": 3, "dilation": 2, "input": "1,4,4,2"},
]  # fmt: skip


@pytest.mark.parametrize("values", CONV2D, ids=lambda v: v["input"])
def test_conv2d_weights_port_to_pytorch_layout(values: dict[str, Any]) -> None:
    def forward(x: Any, w: dict[str, Any], report: Any) -> Any:
        return torch_conv2d(x, w["kernel"], w.get("bias"), report.measures.geometry, report.config.groups)

    compare_with_keras(values, forward)


@pytest.mark.parametrize("values", DEPTHWISE, ids=lambda v: v["input"])
def test_depthwise_conv2d_weights_port_to_pytorch_layout(values: dict[str, Any]) -> None:
    def forward(x: Any, w: dict[str, Any], report: Any) -> Any:
        groups = report.measures.layouts[0].torch_module["groups"]
        return torch_conv2d(x, w["kernel"], w.get("bias"), report.measures.geometry, groups)

    compare_with_keras(values, forward)


@pytest.mark.parametrize("values", TRANSPOSE, ids=lambda v: v["input"])
def test_conv2d_transpose_weights_port_to_pytorch_layout(values: dict[str, Any]) -> None:
    def forward(x: Any, w: dict[str, Any], report: Any) -> Any:
        return torch_conv_transpose2d(x, w["kernel"], w.get("bias"), report.measures.geometry)

    compare_with_keras(values, forward)


def test_separable_conv2d_is_depthwise_then_pointwise() -> None:
    values = {"layer": "separable-conv2d", "filters": 5, "kernel": 3, "depth_multiplier": 2, "strides": 2,
              "padding": "same", "input": "2,9,9,3"}  # fmt: skip

    def forward(x: Any, w: dict[str, Any], report: Any) -> Any:
        depthwise, pointwise = report.measures.layouts[:2]
        middle = torch_conv2d(x, w["depthwise_kernel"], None, report.measures.geometry,
                              depthwise.torch_module["groups"])  # fmt: skip
        assert pointwise.torch_module["kernel_size"] == [1, 1]
        return conv_nd(middle, w["pointwise_kernel"], w.get("bias"), strides=[1, 1], dilations=[1, 1],
                       pads=[(0, 0), (0, 0)], groups=1)  # fmt: skip

    compare_with_keras(values, forward)


def test_layout_labels() -> None:
    report = inspect_layer({"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 2, "input": "1,8,8,3"},
                           engine="analytic")  # fmt: skip
    kernel, bias = report.measures.layouts
    assert kernel.to_dict() == {
        "variable": "kernel",
        "keras_axes": ["kh", "kw", "in", "mult"],
        "keras_shape": [3, 3, 3, 2],
        "reshape": [3, 3, 1, 6],
        "transpose": [3, 2, 0, 1],
        "torch_axes": ["in*mult", "1", "kh", "kw"],
        "torch_shape": [6, 1, 3, 3],
        "torch_module": {"class": "torch.nn.Conv2d", "in_channels": 3, "out_channels": 6, "kernel_size": [3, 3],
                         "stride": [1, 1], "dilation": [1, 1], "groups": 3, "bias": True, "padding": [0, 0]},
    }  # fmt: skip
    assert (bias.keras_shape, bias.torch_shape, bias.torch_module) == ((6,), (6,), None)


@pytest.mark.parametrize(
    ("values", "keras_axes", "torch_axes", "transpose"),
    [
        ({"layer": "conv1d", "filters": 4, "kernel": 3, "input": "1,8,2"},
         ("kw", "in/groups", "filters"), ("filters", "in/groups", "kw"), (2, 1, 0)),
        ({"layer": "conv3d", "filters": 4, "kernel": 2, "input": "1,4,4,4,2"},
         ("kd", "kh", "kw", "in/groups", "filters"), ("filters", "in/groups", "kd", "kh", "kw"), (4, 3, 0, 1, 2)),
        ({"layer": "conv3d-transpose", "filters": 4, "kernel": 2, "input": "1,4,4,4,2"},
         ("kd", "kh", "kw", "filters", "in"), ("in", "filters", "kd", "kh", "kw"), (4, 3, 0, 1, 2)),
    ],
)  # fmt: skip
def test_layout_axes_by_rank(
    values: dict[str, Any], keras_axes: tuple[str, ...], torch_axes: tuple[str, ...], transpose: tuple[int, ...]
) -> None:
    kernel = inspect_layer(values, engine="analytic").measures.layouts[0]
    assert (kernel.keras_axes, kernel.torch_axes, kernel.transpose) == (keras_axes, torch_axes, transpose)
