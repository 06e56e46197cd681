from __future__ import annotations

import pytest

from convinspect.core.layer.spec import INT64_MAX, parse_shape, parse_size, parse_spec
from convinspect.errors import InvalidInput


def spec(**values: object) -> object:
    values.setdefault("filters", 8)
    values.setdefault("kernel", 3)
    values.setdefault("input", "2,32,32,1")
    return parse_spec(values)


@pytest.mark.parametrize("text", ["2,32,32,1", "2x32x32x1", "2 32 32 1", "2, 32, 32, 1", "2×32×32×1", [2, 32, 32, 1]])
def test_input_separators(text: object) -> None:
    assert parse_shape(text) == (2, 32, 32, 1)


@pytest.mark.parametrize("text", ["?,32,32,1", "None,32,32,1", "none,32,32,1", [None, 32, 32, 1]])
def test_unknown_batch(text: object) -> None:
    assert parse_shape(text) == (None, 32, 32, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2,32,x,1", "dimension 3 is 'x', not an integer"),
        ("", "expected a shape"),
        ("2,-3,32,1", "dimension 2 must be positive"),
        ("2,0,32,1", "dimension 2 must be positive"),
        ("2,?,32,1", "only the batch"),
        ("99999999999999999999,3,3,3", "over the int64 limit"),
        ("4294967296,4294967296,4,4", "elements, over the int64 limit"),
        ("2,32,32,1,", "dimension 5 is ''"),
    ],
)
def test_malformed_input(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        parse_shape(text)
    assert info.value.option == "input"
    assert info.value.message().startswith("--input: ")


def test_tuple_options_broadcast_and_keep_order() -> None:
    s = spec(kernel="5,3", strides=2, dilation="1")
    assert s.config.kernel_size == (5, 3)
    assert s.config.strides == (2, 2)
    assert s.config.dilation_rate == (1, 1)


@pytest.mark.parametrize(
    ("values", "option", "message"),
    [
        ({"filters": 0}, "filters", "values must be positive; got '0'"),
        ({"filters": "-4"}, "filters", "values must be positive"),
        ({"filters": "abc"}, "filters", "'abc' is not an integer"),
        ({"kernel": 0}, "kernel", "values must be positive"),
        ({"kernel": "3,3,3"}, "kernel", "conv2d takes 1 or 2 integers"),
        ({"strides": "0"}, "strides", "values must be positive"),
        ({"dilation": "-1"}, "dilation", "values must be positive"),
        ({"padding": "full"}, "padding", "unknown value 'full'; expected one of valid, same, causal"),
        ({"padding": "causal"}, "padding", "Keras allows causal padding on conv1d only"),
        ({"layer": "conv4d"}, "layer", "unknown layer"),
        ({"activation": "relux"}, "activation", "unknown activation 'relux'"),
        ({"activation": "glu"}, "activation", "cannot be a conv layer's activation"),
        ({"dtype": "int8"}, "dtype", "unknown value 'int8'"),
        ({"data_format": "NHWC"}, "data_format", "unknown value 'NHWC'"),
        ({"input": "2,32,32"}, "input", "conv2d takes a rank-4 input"),
        ({"layer": "depthwise-conv2d", "filters": None, "groups": 2}, "groups", "does not apply to depthwise-conv2d"),
        ({"layer": "depthwise-conv2d"}, "filters", "does not apply to depthwise-conv2d"),
        ({"output_padding": 1}, "output_padding", "does not apply to conv2d"),
        ({"depth_multiplier": 2}, "depth_multiplier", "does not apply to conv2d"),
        ({"filters": None}, "filters", "is required for conv2d"),
        ({"kernel": None}, "kernel", "is required"),
        ({"input": None}, "input", "is required"),
        ({"name": "a/b"}, "name", "no '/'"),
        ({"use_bias": "maybe"}, "use_bias", "expected true or false"),
    ],
)
def test_bad_values_name_the_option(values: dict[str, object], option: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        spec(**values)
    assert info.value.option == option


def test_output_padding_may_be_zero() -> None:
    s = spec(layer="conv2d-transpose", output_padding="0,1", strides=2)
    assert s.config.output_padding == (0, 1)


def test_mixed_precision_dtypes() -> None:
    s = spec(dtype="mixed_float16")
    assert (s.variable_dtype, s.compute_dtype) == ("float32", "float16")


def test_channels_first_reads_channels_from_axis_1() -> None:
    s = spec(data_format="channels_first", input="2,3,32,32")
    assert s.channels == 3
    assert s.spatial == (32, 32)


@pytest.mark.parametrize(
    ("text", "size"),
    [("256MiB", 256 * 2**20), ("1GiB", 2**30), ("512M", 512 * 2**20), ("1000", 1000), ("5MB", 5 * 10**6)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size() -> None:
    with pytest.raises(InvalidInput, match="--budget: expected a size"):
        parse_size("lots")


def test_int64_limit_on_scalars() -> None:
    with pytest.raises(InvalidInput, match="over the int64 limit"):
        spec(filters=str(INT64_MAX + 1))
