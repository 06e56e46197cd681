"""core/model/graph.py: a saved configuration read into a graph of layer calls, without Keras."""

from __future__ import annotations

import pytest
from configs import called_twice, dense, functional, input_layer, sequential

from convinspect.core.model.graph import Ref, holds_graph, override_input, parse_model
from convinspect.errors import InvalidInput


def test_a_functional_config_keeps_its_layers_calls_and_input_shapes() -> None:
    graph = parse_model(functional("m", [input_layer("x", [None, 4]), dense("d", "x", units=3)], ["x"], ["d"]))
    assert (graph.name, graph.class_name, graph.sequential, graph.built) == ("m", "Functional", False, True)
    assert [layer.name for layer in graph.layers] == ["x", "d"]
    assert graph.layer("d").calls == ((Ref("x", 0),),)
    assert (graph.inputs, graph.outputs, graph.input_shapes) == ((Ref("x", 0),), (Ref("d", 0),), ((None, 4),))


def test_a_shared_layer_has_one_entry_and_one_call_per_input() -> None:
    shared = called_twice(dense("d", units=3), "a", "b")
    graph = parse_model(functional("m", [input_layer("a", [None, 4]), input_layer("b", [None, 4]), shared],
                                   ["a", "b"], ["d"]))  # fmt: skip
    assert graph.layer("d").calls == ((Ref("a", 0),), (Ref("b", 0),))


def test_a_sequential_is_a_chain_from_its_input() -> None:
    graph = parse_model(sequential("s", [dense("d1", units=3), dense("d2", units=2)], [None, 5]))
    assert graph.sequential and graph.input_shapes == ((None, 5),)
    names = [layer.name for layer in graph.layers]
    assert names[1:] == ["d1", "d2"]
    assert graph.layer("d2").calls == ((Ref("d1", 0),),)


def test_a_sequential_without_an_input_is_not_built() -> None:
    graph = parse_model(sequential("s", [dense("d", units=2)], None))
    assert graph.input_shapes == (None,) and not graph.built


def test_override_input_gives_the_new_shape_and_leaves_the_config_alone() -> None:
    config = sequential("s", [dense("d", units=2)], [None, 5])
    moved = override_input(config, (None, 7))
    assert parse_model(moved).input_shapes == ((None, 7),)
    assert parse_model(config).input_shapes == ((None, 5),)


def test_holds_graph_tells_a_graph_from_a_subclass_s_arguments() -> None:
    assert holds_graph(functional("m", [input_layer("x", [None, 4])], ["x"], ["x"]))
    assert not holds_graph({"class_name": "MyModel", "config": {"units": 3}})


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([input_layer("a", [None, 4]), dense("d", "nope", units=3)], "refers to a layer 'nope' it does not define"),
        ([input_layer("a", [None, 4]), dense("d", "a", units=3), dense("d", "a", units=3)],
         "has two layers named 'd'"),
    ],
)  # fmt: skip
def test_a_broken_graph_is_one_line_naming_the_layer(layers: list[dict[str, object]], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_model(functional("m", layers, ["a"], ["d"]))
    assert caught.value.message() == f"model 'm' {message}"
