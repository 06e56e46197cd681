"""core/model/rules/: each layer group's sizing rule, on shapes alone. The expected figures come
from the layers' definitions, worked out by hand (Keras' own counts are held in the integration tests)."""

from __future__ import annotations

from typing import Any

import pytest

from convinspect.core.model.rules import RULES, size_layer
from convinspect.core.model.rules.common import Unsizable
from convinspect.core.model.rules.registry import Window
from convinspect.errors import InvalidInput

CONV = {"filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid", "data_format": "channels_last",
        "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": True, "dtype": "float32"}  # fmt: skip


def weights(class_name: str, config: dict[str, Any], shape: tuple[int | None, ...]) -> dict[str, tuple[int, ...]]:
    return {w.name: w.shape for w in size_layer("layer", class_name, config, [shape]).weights}


def test_conv2d_output_weights_and_work() -> None:
    sized = size_layer("c", "Conv2D", CONV, [(None, 32, 32, 3)])
    assert sized.outputs == ((None, 15, 15, 8),)  # (32 - 3) // 2 + 1
    assert {w.name: w.shape for w in sized.weights} == {"kernel": (3, 3, 3, 8), "bias": (8,)}
    assert (sized.macs, sized.bias_adds) == (15 * 15 * 8 * 3 * 3 * 3, 15 * 15 * 8)
    assert sized.windows[1:3] == (Window(1, 3, 2, 0), Window(2, 3, 2, 0))


def test_conv2d_same_padding_pads_the_far_side_with_the_odd_cell() -> None:
    sized = size_layer("c", "Conv2D", {**CONV, "padding": "same", "kernel_size": [4, 4], "strides": [1, 1]},
                       [(None, 10, 10, 3)])  # fmt: skip
    assert sized.outputs == ((None, 10, 10, 8),)
    assert sized.windows[1] == Window(1, 4, 1, 1)  # 3 cells of padding: 1 before, 2 after


def test_dense_acts_on_the_last_axis() -> None:
    sized = size_layer("d", "Dense", {"units": 2, "activation": "linear", "use_bias": True}, [(None, 3, 3, 8)])
    assert sized.outputs == ((None, 3, 3, 2),)
    assert (sum(w.params for w in sized.weights), sized.macs) == (8 * 2 + 2, 3 * 3 * 8 * 2)


def test_batch_normalization_holds_two_trainable_and_two_frozen_vectors() -> None:
    sized = size_layer("bn", "BatchNormalization", {"axis": -1, "center": True, "scale": True}, [(None, 5, 5, 6)])
    assert [(w.name, w.shape, w.trainable) for w in sized.weights] == [
        ("gamma", (6,), True),
        ("beta", (6,), True),
        ("moving_mean", (6,), False),
        ("moving_variance", (6,), False),
    ]
    assert sized.outputs == ((None, 5, 5, 6),) and sized.macs == 0


def test_pooling_keeps_channels_and_does_no_macs() -> None:
    config = {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid", "data_format": "channels_last"}
    sized = size_layer("p", "MaxPooling2D", config, [(None, 9, 9, 3)])
    assert (sized.outputs, sized.weights, sized.macs) == (((None, 4, 4, 3),), (), 0)
    global_pool = size_layer("g", "GlobalAveragePooling2D", {"data_format": "channels_last", "keepdims": False},
                             [(None, 4, 4, 5)])  # fmt: skip
    assert global_pool.outputs == ((None, 5),) and global_pool.windows[1] is None


def test_lstm_weights_and_work_over_its_steps() -> None:
    sized = size_layer("l", "LSTM", {"units": 4, "return_sequences": False, "use_bias": True}, [(None, 7, 3)])
    assert {w.name: w.shape for w in sized.weights} == {"kernel": (3, 16), "recurrent_kernel": (4, 16), "bias": (16,)}
    assert sized.outputs == ((None, 4),)
    assert (sized.macs, sized.bias_adds) == (7 * (3 * 16 + 4 * 16), 7 * 16)  # four gates per step


def test_embedding_is_a_lookup_table() -> None:
    assert weights("Embedding", {"input_dim": 100, "output_dim": 8}, (None, 12)) == {"embeddings": (100, 8)}


def test_a_class_without_a_rule_is_unsizable_by_name() -> None:
    assert "Foo" not in RULES
    with pytest.raises(Unsizable, match="layer 'x' is a 'Foo', which the analytic engine cannot size"):
        size_layer("x", "Foo", {}, [(None, 3)])


def test_a_layer_called_on_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is called with no inputs"):
        size_layer("d", "Dense", {"units": 2}, [])


def test_counts_past_int64_are_refused_as_keras_refuses_them() -> None:
    with pytest.raises(InvalidInput):
        size_layer("d", "Dense", {"units": 2**40, "use_bias": False}, [(None, 2**40)])
