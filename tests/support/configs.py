"""Keras 3 model configurations written out by hand, as `model.to_json()` writes them: the unit
tests of the model path read these without Keras, so every expected figure is worked out by hand."""

from __future__ import annotations

from typing import Any


def tensor(layer: str, node: int = 0, index: int = 0, shape: list[int | None] | None = None) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, node, index]}}  # fmt: skip


def layer(class_name: str, name: str, *inbound: str | tuple[str, int], **config: Any) -> dict[str, Any]:
    """One layer entry, called once on the named layers' outputs (a (name, node) pair picks a later call)."""
    refs = [tensor(*((ref, 0) if isinstance(ref, str) else ref)) for ref in inbound]
    nodes = [{"args": [refs] if len(refs) > 1 else refs, "kwargs": {}}] if refs else []  # a merge takes a list
    return {
        "module": "keras.layers", "class_name": class_name, "registered_name": None, "name": name,
        "config": {"name": name, "trainable": True, "dtype": "float32", **config}, "inbound_nodes": nodes,
    }  # fmt: skip


def called_twice(entry: dict[str, Any], *inbound: str) -> dict[str, Any]:
    """The same layer entry with one call per named input: a shared layer."""
    return {**entry, "inbound_nodes": [{"args": [tensor(ref)], "kwargs": {}} for ref in inbound]}


def input_layer(name: str, shape: list[int | None]) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": name,
            "config": {"batch_shape": shape, "dtype": "float32", "name": name}, "inbound_nodes": []}  # fmt: skip


def functional(name: str, layers: list[dict[str, Any]], inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    graph = {"name": name, "trainable": True, "layers": layers,
             "input_layers": [[n, 0, 0] for n in inputs], "output_layers": [[n, 0, 0] for n in outputs]}  # fmt: skip
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": graph}  # fmt: skip


def sequential(name: str, layers: list[dict[str, Any]], shape: list[int | None] | None) -> dict[str, Any]:
    entries = [{k: v for k, v in entry.items() if k not in ("inbound_nodes", "name")} for entry in layers]
    if shape is not None:
        entries.insert(0, {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                           "config": {"batch_shape": shape, "dtype": "float32", "name": f"{name}_input"}})  # fmt: skip
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": name, "trainable": True, "layers": entries}}  # fmt: skip


def conv2d(name: str, *inbound: str, filters: int, kernel: int, strides: int = 1, padding: str = "valid",
           use_bias: bool = True) -> dict[str, Any]:  # fmt: skip
    return layer("Conv2D", name, *inbound, filters=filters, kernel_size=[kernel, kernel], strides=[strides, strides],
                 padding=padding, data_format="channels_last", dilation_rate=[1, 1], groups=1,
                 activation="linear", use_bias=use_bias)  # fmt: skip


def dense(name: str, *inbound: str, units: int, use_bias: bool = True) -> dict[str, Any]:
    return layer("Dense", name, *inbound, units=units, activation="linear", use_bias=use_bias)
