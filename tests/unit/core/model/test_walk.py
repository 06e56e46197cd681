"""core/model/walk.py: the rows of a model, from its graph and input shapes alone (no Keras).
Every figure below is worked out by hand from the layers' definitions."""

from __future__ import annotations

from typing import Any

import pytest
from configs import called_twice, conv2d, dense, functional, input_layer, layer, sequential, tensor

from convinspect.core.model.graph import parse_model
from convinspect.core.model.report import LayerRow, totals
from convinspect.core.model.walk import unbuilt_rows, walk, with_input
from convinspect.errors import InvalidInput


def rows_of(config: dict[str, Any]) -> dict[str, LayerRow]:
    graph = parse_model(config)
    return {row.key: row for row in walk(graph, graph.input_shapes)}


def test_a_chain_carries_each_output_shape_to_the_next_layer() -> None:
    rows = rows_of(functional("m", [
        input_layer("x", [None, 32, 32, 3]),
        conv2d("c", "x", filters=8, kernel=3, strides=2),  # (32 - 3) // 2 + 1 = 15
        layer("Flatten", "f", "c", data_format="channels_last"),  # 15 * 15 * 8 = 1800
        dense("d", "f", units=4),
    ], ["x"], ["d"]))  # fmt: skip
    assert {k: r.output_shape for k, r in rows.items()} == {
        "x": (None, 32, 32, 3), "c": (None, 15, 15, 8), "f": (None, 1800), "d": (None, 4)}  # fmt: skip
    conv, head = rows["c"], rows["d"]
    assert (conv.params.total, conv.macs, conv.bias_adds) == (3 * 3 * 3 * 8 + 8, 15 * 15 * 8 * 27, 15 * 15 * 8)
    assert (head.params.total, head.macs) == (1800 * 4 + 4, 1800 * 4)
    assert conv.activation_bytes == 15 * 15 * 8 * 4  # float32


def test_the_receptive_field_of_a_strided_conv_is_its_kernel_every_stride() -> None:
    rows = rows_of(functional("m", [input_layer("x", [None, 9, 9, 1]),
                                    conv2d("c", "x", filters=1, kernel=3, strides=2)], ["x"], ["c"]))  # fmt: skip
    field = rows["c"].receptive_field
    assert field is not None and [(a.size, a.jump, a.start) for _, a in field.axes] == [(3, 2, 0), (3, 2, 0)]


def test_a_shared_layer_owns_its_variables_once_and_does_its_work_per_call() -> None:
    rows = rows_of(functional("m", [
        input_layer("a", [None, 4]), input_layer("b", [None, 4]),
        called_twice(dense("d", units=3), "a", "b"),
        layer("Add", "sum", ("d", 0), ("d", 1)),
    ], ["a", "b"], ["sum"]))  # fmt: skip
    first, second = rows["d"], rows["d#1"]
    assert (first.params.total, first.shared, second.params.total, second.shared) == (15, False, 0, True)
    assert first.macs == second.macs == 12
    total = totals(list(rows.values()))
    assert (total.params.total, total.macs, total.bias_adds) == (15, 24, 6)
    assert total.activation_bytes == (4 + 4 + 3 + 3 + 3) * 4


def test_a_nested_model_is_a_container_row_over_its_own_rows() -> None:
    inner = functional("inner", [input_layer("i", [None, 6]), dense("di", "i", units=2)], ["i"], ["di"])
    inner_call = {**inner, "name": "inner", "inbound_nodes": [{"args": [tensor("x")], "kwargs": {}}]}
    rows = rows_of(functional("outer", [input_layer("x", [None, 6]), inner_call, dense("do", "inner", units=1)],
                              ["x"], ["do"]))  # fmt: skip
    assert rows["inner"].container and rows["inner/di"].path == ("inner",)
    assert rows["inner"].params.total == rows["inner/di"].params.total == 6 * 2 + 2
    assert rows["do"].output_shape == (None, 1)
    total = totals([r for r in rows.values() if not r.container])
    assert (total.params.total, total.macs) == (14 + 3, 12 + 2)


def test_an_unbuilt_model_has_a_row_per_layer_without_shapes() -> None:
    graph = parse_model(sequential("s", [dense("d1", units=3), dense("d2", units=1)], None))
    assert not graph.built
    assert [(row.name, row.outputs) for row in unbuilt_rows(graph)] == [("d1", None), ("d2", None)]


def test_with_input_refuses_another_rank_naming_both_shapes() -> None:
    graph = parse_model(functional("m", [input_layer("x", [None, 6]), dense("d", "x", units=1)], ["x"], ["d"]))
    assert with_input(graph, (8, 6)) == ((8, 6),)
    with pytest.raises(InvalidInput) as caught:
        with_input(graph, (None, 6, 6))
    assert caught.value.option == "input"
    assert "rank 2 (shape (None, 6)), got 3 dimensions (None, 6, 6)" in caught.value.message()
