"""The Keras engine against real Keras layers, built here independently."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convinspect import inspect_layer, parse_spec
from convinspect.core.layer.report import compare
from convinspect.errors import InvalidInput

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

# (our options, the Keras constructor call, input shape)
TEN_KINDS: list[tuple[dict[str, Any], str, dict[str, Any], tuple[int, ...]]] = [
    ({"layer": "conv1d", "filters": 6, "kernel": 3, "padding": "causal", "dilation": 2},
     "Conv1D", {"filters": 6, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 20, 4)),
    ({"layer": "conv2d", "filters": 8, "kernel": "3,5", "strides": 2, "groups": 2},
     "Conv2D", {"filters": 8, "kernel_size": (3, 5), "strides": 2, "groups": 2}, (2, 17, 19, 4)),
    ({"layer": "conv3d", "filters": 4, "kernel": 3, "padding": "same"},
     "Conv3D", {"filters": 4, "kernel_size": 3, "padding": "same"}, (1, 6, 7, 8, 2)),
    ({"layer": "depthwise-conv1d", "kernel": 4, "depth_multiplier": 3, "strides": 2},
     "DepthwiseConv1D", {"kernel_size": 4, "depth_multiplier": 3, "strides": 2}, (2, 15, 3)),
    ({"layer": "depthwise-conv2d", "kernel": 3, "depth_multiplier": 2, "strides": 2, "dilation": 2},
     "DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "dilation_rate": 2}, (1, 16, 16, 3)),
    ({"layer": "separable-conv1d", "filters": 5, "kernel": 3, "depth_multiplier": 2, "padding": "same"},
     "SeparableConv1D", {"filters": 5, "kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 11, 3)),
    ({"layer": "separable-conv2d", "filters": 7, "kernel": 3, "strides": "2,1"},
     "SeparableConv2D", {"filters": 7, "kernel_size": 3, "strides": (2, 1)}, (1, 12, 9, 4)),
    ({"layer": "conv1d-transpose", "filters": 3, "kernel": 4, "strides": 3, "output_padding": 1},
     "Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 3, "output_padding": 1}, (2, 7, 5)),
    ({"layer": "conv2d-transpose", "filters": 8, "kernel": 3, "strides": 2, "padding": "same"},
     "Conv2DTranspose", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}, (1, 5, 6, 3)),
    ({"layer": "conv3d-transpose", "filters": 2, "kernel": 2, "strides": 2},
     "Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (1, 3, 4, 5, 2)),
]  # fmt: skip


def keras_truth(class_name: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    layer = getattr(keras.layers, class_name)(**kwargs)
    assert layer.trainable_variables == []
    output = layer(keras.Input(batch_shape=shape))  # symbolic: Keras' truth on any CPU kernels
    return {
        "output_shape": tuple(output.shape),
        "variables": [(v.name, tuple(v.shape)) for v in layer.trainable_variables],
        "params": layer.count_params(),
    }


@pytest.mark.parametrize(("options", "class_name", "kwargs", "shape"), TEN_KINDS, ids=[t[1] for t in TEN_KINDS])
def test_all_ten_kinds_match_keras(
    options: dict[str, Any], class_name: str, kwargs: dict[str, Any], shape: Any
) -> None:
    truth = keras_truth(class_name, kwargs, shape)
    spec = parse_spec({**options, "input": ",".join(map(str, shape))})
    for engine in ("keras", "analytic"):
        report = inspect_layer(spec, engine=engine)
        assert report.class_name == class_name
        assert report.variables_before == ()
        assert report.output_shape == truth["output_shape"], engine
        assert [(v.name, v.shape) for v in report.variables_after] == truth["variables"], engine
        assert report.params.total == truth["params"], engine
    assert inspect_layer(spec, engine="keras").forward.mode == "eager"


def test_seed_example() -> None:
    report = inspect_layer({"filters": 64, "kernel": 5, "strides": 2, "padding": "same", "input": "2,32,32,1"})
    assert report.engine == "keras"
    assert report.forward.mode == "eager"
    assert report.variables_before == ()
    kernel, bias = report.variables_after
    assert (kernel.path, kernel.shape) == ("conv2d/kernel", (5, 5, 1, 64))
    assert (bias.path, bias.shape) == ("conv2d/bias", (64,))
    assert report.params.total == 1664
    assert report.output_shape == (2, 16, 16, 64)
    assert report.versions["keras"] == keras.__version__


def test_no_bias_has_one_variable() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "use_bias": False, "input": "1,8,8,3"})
    assert [v.name for v in report.variables_after] == ["kernel"]
    assert report.params.total == 3 * 3 * 3 * 4


def test_channels_first() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "data_format": "channels_first", "input": "2,3,10,12"})
    assert report.output_shape == (2, 4, 8, 10)
    assert report.variables_after[0].shape == (3, 3, 3, 4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_variables_stay_float32(policy: str) -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "dtype": policy, "input": "1,8,8,3"})
    assert {v.dtype for v in report.variables_after} == {"float32"}
    assert report.config.dtype == policy


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_plain_dtypes_apply_to_variables(dtype: str) -> None:
    report = inspect_layer({"filters": 2, "kernel": 3, "dtype": dtype, "input": "1,6,6,1"})
    assert {v.dtype for v in report.variables_after} == {dtype}


def test_unknown_batch_forces_symbolic() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "input": "?,8,8,3"})
    assert report.forward.mode == "symbolic"
    assert report.output_shape == (None, 6, 6, 4)
    assert report.forward.reason == "batch_unknown"


def test_auto_goes_symbolic_over_the_budget() -> None:
    report = inspect_layer({"filters": 256, "kernel": 3, "input": "64,4096,4096,3"})
    assert report.forward.mode == "symbolic"
    assert report.output_shape == (64, 4094, 4094, 256)
    assert report.forward.reason == "over_budget" and report.forward.activation_bytes > report.forward.budget


def test_budget_is_configurable() -> None:
    spec = {"filters": 4, "kernel": 3, "input": "2,32,32,3"}
    assert inspect_layer(spec, budget=100).forward.mode == "symbolic"
    assert inspect_layer(spec, budget=10**6).forward.mode == "eager"


def test_eager_over_budget_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--forward: an eager forward pass would allocate"):
        inspect_layer({"filters": 256, "kernel": 3, "input": "64,4096,4096,3"}, forward="eager")


def test_eager_needs_a_known_batch() -> None:
    with pytest.raises(InvalidInput, match="known batch size"):
        inspect_layer({"filters": 4, "kernel": 3, "input": "?,8,8,3"}, forward="eager")


def test_symbolic_on_request() -> None:
    report = inspect_layer({"filters": 4, "kernel": 3, "input": "1,8,8,3"}, forward="symbolic")
    assert report.forward.mode == "symbolic"
    assert report.params.total == 112


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filters": 6, "kernel": 3, "groups": 4}, "filters must be evenly divisible"),
        ({"filters": 4, "kernel": 3, "groups": 4, "input": "1,8,8,6"}, "input channels must be evenly divisible"),
        ({"filters": 4, "kernel": 3, "strides": 2, "dilation": 2}, "strides > 1"),
        ({"filters": 4, "kernel": 9}, "zero or negative"),
        ({"layer": "conv2d-transpose", "filters": 4, "kernel": 3, "strides": 2, "output_padding": 2}, "strictly less"),
        ({"layer": "conv2d-transpose", "filters": 4, "kernel": 2, "padding": "same", "output_padding": 0,
          "input": "1,1,1,3"}, "zero or negative"),
    ],
)  # fmt: skip
def test_keras_rejections_are_invalid_input(options: dict[str, Any], message: str) -> None:
    options.setdefault("input", "1,8,8,4")
    with pytest.raises(InvalidInput, match=message) as info:
        inspect_layer(options)
    assert info.value.exit_code == 2


def test_keras_itself_refuses_causal_except_on_conv1d() -> None:
    with pytest.raises(ValueError, match="padding"):
        keras.layers.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="padding"):
        keras.layers.DepthwiseConv1D(3, padding="causal")


def test_both_engines_agree_on_the_seed_example() -> None:
    spec = {"filters": 64, "kernel": 5, "strides": 2, "padding": "same", "input": "2,32,32,1"}
    report = inspect_layer(spec, engine="both")
    assert report.engine == "keras"
    assert report.agreed_with == "analytic"
    assert compare(report, inspect_layer(spec, engine="analytic")) == []


def test_activation_names_match_keras_registry() -> None:
    from keras.src.activations import ALL_OBJECTS_DICT

    from convinspect.core.layer.spec import ACTIVATIONS, UNSUPPORTED_ACTIVATIONS

    assert set(ACTIVATIONS) | set(UNSUPPORTED_ACTIVATIONS) == set(ALL_OBJECTS_DICT)


@pytest.mark.parametrize("activation", ["relu", "swish", "hard_swish", "gelu", "softmax"])
def test_activation_config_matches_keras(activation: str) -> None:
    spec = {"filters": 2, "kernel": 3, "activation": activation, "input": "1,6,6,1"}
    assert inspect_layer(spec, engine="keras").config == inspect_layer(spec, engine="analytic").config


def test_the_budget_counts_what_an_eager_pass_really_allocates() -> None:
    """Peak RSS growth of one eager pass stays within 1.25x of the figure the budget is checked against."""
    import subprocess
    import sys

    code = (
        "import json\n"
        "def status(key):\n"
        "    line = next(l for l in open('/proc/self/status') if l.startswith(key + ':'))\n"
        "    return int(line.split()[1]) * 1024\n"
        "from convinspect import inspect_layer\n"
        "small = inspect_layer({'filters': 64, 'kernel': 3, 'input': '1,8,8,3'})\n"
        # Linux: reset the peak resident set to the current one, so an earlier peak (the import) hides nothing
        "try:\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "    before = status('VmRSS')\n"
        "except OSError:\n"  # a system that keeps the peak: measure from it
        "    before = status('VmHWM')\n"
        "report = inspect_layer({'filters': 64, 'kernel': 3, 'input': '1,768,768,3'}, budget='1GiB')\n"
        "after = status('VmHWM')\n"
        "print(json.dumps([report.forward.mode, report.forward.activation_bytes, after - before]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    mode, stated, measured = json.loads(out.stdout.splitlines()[-1])
    assert mode == "eager"
    assert measured <= 1.25 * stated, (measured, stated)
    assert stated <= 2.5 * measured  # and it is not a wild overestimate either


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"filters": 5, "kernel": "4,4", "strides": "1,2", "dilation": "3,3", "groups": 2, "input": "1,8,8,2"},
         "groups_filters"),
        ({"layer": "conv3d-transpose", "filters": 5, "kernel": 3, "strides": "2,2,3", "dilation": "1,3,2",
          "output_padding": "2,1,2", "input": "1,4,4,8,2"}, "output_padding"),
        ({"filters": 4, "kernel": 3, "strides": 2, "dilation": 2, "groups": 2, "input": "1,8,8,3"},
         "strided_dilation"),
    ],
)  # fmt: skip
def test_with_several_rules_broken_both_engines_name_the_one_keras_checks_first(
    options: dict[str, Any], rule: str
) -> None:
    for engine in ("keras", "analytic"):
        with pytest.raises(InvalidInput) as caught:
            inspect_layer(options, engine=engine)
        assert caught.value.rule == rule, engine
