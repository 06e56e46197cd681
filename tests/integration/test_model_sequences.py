"""Analytic sizing of text, sequence and video layers, against real Keras: every variable's shape,
the parameter totals and the output shapes equal Keras'; MACs follow docs/conventions.md."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convinspect.core.model.report import model_disagreement
from convinspect.core.model.source import Source, SourceKind
from convinspect.engines import analytic
from convinspect.engines.keras_model import model_report
from convinspect.engines.session import load

from test_model import assert_matches_keras

keras, np, _ = load()
L = keras.layers

IN_MEMORY = Source("a model built here", SourceKind.JSON)


def _seq(layer: Any, shape: tuple[int | None, ...], dtype: str = "float32") -> Any:
    x = keras.Input(shape, dtype=dtype)
    return keras.Model(x, layer(x))


MODELS = {
    "embedding": lambda: _seq(L.Embedding(100, 8), (12,), "int32"),
    "simple_rnn": lambda: _seq(L.SimpleRNN(5), (7, 3)),
    "lstm_sequences": lambda: _seq(L.LSTM(6, return_sequences=True), (9, 4)),
    "lstm_states": lambda: _seq(L.LSTM(6, return_state=True), (9, 4)),
    "gru": lambda: _seq(L.GRU(4), (5, 3)),
    "gru_v1_bias": lambda: _seq(L.GRU(4, reset_after=False), (5, 3)),
    "lstm_no_bias": lambda: _seq(L.LSTM(3, use_bias=False), (5, 2)),
    "bidirectional_concat": lambda: _seq(L.Bidirectional(L.LSTM(4, return_sequences=True)), (6, 3)),
    "bidirectional_sum": lambda: _seq(L.Bidirectional(L.GRU(4), merge_mode="sum"), (6, 3)),
    "bidirectional_backward": lambda: _seq(
        L.Bidirectional(L.LSTM(4), backward_layer=L.GRU(3, go_backwards=True)), (6, 3)
    ),
    "time_distributed_conv": lambda: _seq(L.TimeDistributed(L.Conv2D(4, 3)), (5, 10, 10, 3)),
    "time_distributed_dense": lambda: _seq(L.TimeDistributed(L.Dense(7)), (5, 3)),
    "attention": lambda: _attention(),
    "augment": lambda: _seq(keras.Sequential([L.RandomFlip(), L.RandomRotation(0.2), L.RandomZoom(0.1)]), (16, 16, 3)),
    "resize": lambda: _seq(L.Resizing(8, 12), (16, 16, 3)),
    "center_crop": lambda: _seq(L.CenterCrop(10, 6), (16, 16, 3)),
    "unknown_length": lambda: _seq(L.LSTM(4), (None, 3)),
}


def _attention() -> Any:
    q, v = keras.Input((7, 16)), keras.Input((5, 12))
    return keras.Model([q, v], L.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)(q, v))


@pytest.mark.parametrize("name", MODELS)
def test_both_engines_equal_keras(name: str) -> None:
    model = MODELS[name]()
    try:
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        computed = analytic.inspect_model(config, Source(name, SourceKind.JSON))
        real = model_report(model, Source(name, SourceKind.JSON), len(model.weights))
        assert_matches_keras(computed, model)
        assert_matches_keras(real, model)
        assert model_disagreement(computed, real) is None
        assert real.totals.complete and computed.totals.macs == real.totals.macs
    finally:
        keras.backend.clear_session()


def _macs(name: str) -> int | None:
    model = MODELS[name]()
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    return analytic.inspect_model(config, IN_MEMORY).totals.macs


def test_rnn_macs_follow_the_convention() -> None:
    assert _macs("simple_rnn") == 7 * 1 * (3 + 5) * 5  # steps × gates × (features + units) × units
    assert _macs("lstm_sequences") == 9 * 4 * (4 + 6) * 6
    assert _macs("gru") == 5 * 3 * (3 + 4) * 4
    assert _macs("bidirectional_concat") == 2 * 6 * 4 * (3 + 4) * 4
    assert _macs("unknown_length") is None  # an unknown number of steps


def test_attention_and_time_distributed_macs_follow_the_convention() -> None:
    heads, key_dim, value_dim, tq, tk = 2, 4, 3, 7, 5
    projections = heads * (tq * 16 * key_dim + tk * 12 * key_dim + tk * 12 * value_dim)
    products = heads * (tq * tk * key_dim + tq * tk * value_dim)
    assert _macs("attention") == projections + products + tq * heads * value_dim * 16
    assert _macs("time_distributed_conv") == 5 * (8 * 8 * 4 * 3 * 3 * 3)
    assert _macs("embedding") == 0 and _macs("augment") == 0
