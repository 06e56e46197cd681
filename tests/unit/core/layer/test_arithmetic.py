"""Hand-checked shapes and verdicts of the analytic core."""

from __future__ import annotations

import pytest

from convinspect.core.layer import arithmetic, families
from convinspect.core.layer.runtime import KernelSet
from convinspect.core.layer.spec import parse_spec
from convinspect.errors import InvalidInput


def shapes(**values: object) -> tuple[object, list[tuple[str, tuple[int, ...]]]]:
    spec = parse_spec(values)
    return arithmetic.output_shape(spec), arithmetic.variable_shapes(spec)


def test_seed_example() -> None:
    out, variables = shapes(filters=64, kernel=5, strides=2, padding="same", input="2,32,32,1")
    assert out == (2, 16, 16, 64)
    assert variables == [("kernel", (5, 5, 1, 64)), ("bias", (64,))]


@pytest.mark.parametrize(
    ("n", "k", "s", "d", "padding", "expected"),
    [
        (32, 5, 1, 1, "valid", 28),
        (32, 5, 2, 1, "valid", 14),  # floor((32-5)/2)+1
        (33, 5, 2, 1, "same", 17),  # ceil(33/2)
        (10, 3, 1, 2, "valid", 6),  # effective kernel 5
        (10, 3, 3, 1, "causal", 4),
        (4, 5, 1, 1, "valid", 0),
    ],
)
def test_conv_length(n: int, k: int, s: int, d: int, padding: str, expected: int) -> None:
    assert families.conv_length(n, k, s, d, padding) == expected


@pytest.mark.parametrize(
    ("n", "k", "s", "padding", "op", "expected"),
    [
        (16, 3, 2, "valid", None, 33),  # (16-1)*2 + max(3, 2)
        (16, 1, 2, "valid", None, 32),  # kernel smaller than stride: max(k, s)
        (16, 3, 2, "same", None, 32),  # n*s
        (16, 3, 2, "same", 1, 32),  # (n-1)*s + k%2 + op
        (16, 4, 2, "same", 1, 31),
        (16, 3, 2, "valid", 1, 34),
        (1, 2, 1, "same", 0, 0),
    ],
)
def test_transpose_length(n: int, k: int, s: int, padding: str, op: int | None, expected: int) -> None:
    assert families.transpose_length(n, k, s, 1, padding, op) == expected


def test_grouped_kernel_divides_channels() -> None:
    _, variables = shapes(filters=8, kernel=3, groups=4, input="1,8,8,4")
    assert variables[0] == ("kernel", (3, 3, 1, 8))


def test_transpose_kernel_puts_filters_before_channels() -> None:
    out, variables = shapes(layer="conv2d-transpose", filters=8, kernel=3, strides=2, input="1,5,5,3")
    assert out == (1, 11, 11, 8)
    assert variables == [("kernel", (3, 3, 8, 3)), ("bias", (8,))]


def test_depthwise_multiplies_channels() -> None:
    out, variables = shapes(layer="depthwise-conv2d", kernel=3, depth_multiplier=2, input="1,8,8,3")
    assert out == (1, 6, 6, 6)
    assert variables == [("kernel", (3, 3, 3, 2)), ("bias", (6,))]


def test_separable_has_two_kernels() -> None:
    out, variables = shapes(layer="separable-conv1d", filters=4, kernel=3, depth_multiplier=2, input="1,10,3")
    assert out == (1, 8, 4)
    assert variables == [
        ("depthwise_kernel", (3, 3, 2)),
        ("pointwise_kernel", (1, 6, 4)),
        ("bias", (4,)),
    ]


def test_channels_first_output() -> None:
    out, _ = shapes(layer="conv3d", filters=4, kernel=3, data_format="channels_first", input="1,3,8,8,8")
    assert out == (1, 4, 6, 6, 6)


def test_no_bias() -> None:
    _, variables = shapes(filters=4, kernel=3, use_bias=False, input="1,8,8,3")
    assert [name for name, _ in variables] == ["kernel"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"filters": 4, "kernel": 3, "strides": 2, "dilation": 2}, "strides > 1"),
        ({"filters": 6, "kernel": 3, "groups": 4, "input": "1,8,8,4"}, "filters must be evenly divisible"),
        ({"filters": 4, "kernel": 3, "groups": 4, "input": "1,8,8,6"}, "input channels must be evenly divisible"),
        ({"filters": 4, "kernel": 9, "input": "1,8,8,1"}, "zero or negative"),
        ({"layer": "conv2d-transpose", "filters": 4, "kernel": 3, "strides": 2, "output_padding": 2}, "strictly less"),
        ({"layer": "conv2d-transpose", "filters": 4, "kernel": 2, "padding": "same", "output_padding": 0,
          "input": "1,1,1,3"}, "zero or negative"),
    ],
)  # fmt: skip
def test_keras_rejections(values: dict[str, object], message: str) -> None:
    values.setdefault("input", "1,8,8,1")
    with pytest.raises(InvalidInput, match=message):
        shapes(**values)


def test_depthwise_allows_strides_with_dilation() -> None:
    out, _ = shapes(layer="depthwise-conv2d", kernel=3, strides=2, dilation=2, input="1,16,16,3")
    assert out == (1, 6, 6, 3)


def test_huge_shapes_are_exact() -> None:
    out, variables = shapes(filters=64, kernel=5, strides=2, padding="same", input="1024,65536,65536,3")
    assert out == (1024, 32768, 32768, 64)
    assert variables[0] == ("kernel", (5, 5, 3, 64))


def test_output_past_int64_is_refused() -> None:
    with pytest.raises(InvalidInput, match="over the int64 limit"):
        shapes(filters=2**22, kernel=1, input="1024,65536,65536,3")


def test_unknown_batch_stays_unknown() -> None:
    out, _ = shapes(filters=4, kernel=3, input="?,8,8,1")
    assert out == (None, 6, 6, 4)


def test_same_transpose_with_even_kernel_and_zero_output_padding_is_valid_but_does_not_run() -> None:
    # Found by the property test: Keras builds it, TensorFlow refuses the call.
    spec = parse_spec(
        {
            "layer": "conv1d-transpose",
            "filters": 1,
            "kernel": 2,
            "padding": "same",
            "output_padding": 0,
            "input": "1,2,1",
        }
    )
    assert arithmetic.output_shape(spec) == (1, 1, 1)  # valid: Keras builds and calls it symbolically
    for kernels in (KernelSet.ONEDNN, KernelSet.PLAIN):  # a rule of both kernel sets
        assert spec.kind.recipe.cpu_rule(spec.config, 1, kernels) == "transpose_same_even_kernel"
    out, _ = shapes(
        layer="conv1d-transpose", filters=1, kernel=2, strides=2, padding="same", output_padding=1, input="1,2,1"
    )
    assert out == (1, 3, 1)
