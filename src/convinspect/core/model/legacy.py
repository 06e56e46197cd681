"""Keras 2 configurations (tf_keras' .h5, to_json() and .keras files) made loadable by Keras 3.

Each translation below was found by saving models with tf_keras 2.21 and loading them with
Keras 3.15 (docs/model.md lists them). They change only what Keras 3 reads differently; the
layers, their settings and their graph stay as saved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

# Conv kinds that take no `groups` in Keras 3 (Keras 2's base conv wrote `groups: 1` for every kind).
_NO_GROUPS = frozenset({
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
    "SeparableConvolution2D",
})  # fmt: skip
SLASH = "∕"  # U+2215: a legacy name's '/' while Keras 3 builds the model (it refuses '/'); shown as '/'


def translate(config: Mapping[str, Any]) -> dict[str, Any]:
    """The Keras 3 form of a Keras 2 configuration. Each translation changes only what Keras 3 never
    writes, so a Keras 3 configuration comes back as it was."""
    out: dict[str, Any] = copy.deepcopy(dict(config))
    _walk(out)
    return out


# Keras 2's recorded TensorFlow calls (x * 2.0, tf.nn.relu(x), x[:, 1]): Keras 3 has no such layers.
TF_OPS = frozenset({"TFOpLambda", "SlicingOpLambda"})


def tf_op_refusal(name: object, class_name: str) -> InvalidInput:
    return InvalidInput(
        f"layer {shown(name)} is a {class_name}: a TensorFlow function (such as x * 2.0 or tf.nn.relu(x)) that "
        "tf_keras recorded into the model, which Keras 3 cannot load; rebuild that step with a Keras layer or "
        "keras.ops and save the model again"
    )


def _walk(entry: Any) -> None:
    if isinstance(entry, list):
        for item in entry:
            _walk(item)
        return
    if not isinstance(entry, dict):
        return
    if isinstance(entry.get("module"), str) and entry["module"].startswith("tf_keras"):
        entry.pop("module")  # Keras 3 reads it with its legacy (Keras 2) loader, as it reads .h5 files; the
        entry.pop("registered_name", None)  # model and any model nested in it
    config = entry.get("config")
    if entry.get("class_name") in TF_OPS:
        raise tf_op_refusal(entry.get("name"), entry["class_name"])
    if isinstance(config, dict) and isinstance(entry.get("class_name"), str):
        if entry["class_name"] == "MultiHeadAttention" and "query_shape" in config:
            entry.pop("build_config", None)  # Keras 2's build shape: Keras 3 builds it from its call, by name
        _layer(entry["class_name"], config)
        _nested_calls(config)
        if isinstance(entry.get("name"), str) and "/" in entry["name"]:
            entry["name"] = entry["name"].replace("/", SLASH)
        if "inbound_nodes" in entry:
            entry["inbound_nodes"] = [_tensor_kwargs(node) for node in _renamed_nodes(entry["inbound_nodes"])]
        for key in ("input_layers", "output_layers"):
            if key in config:
                config[key] = _renamed_nodes(config[key])
        if entry["class_name"] == "Sequential":
            _sequential_input(config)
    if entry.get("class_name") == "ThresholdedReLU" and isinstance(config, dict):
        # Keras 3 dropped the class: ReLU with a threshold keeps x above theta and zeroes the rest
        entry["class_name"] = "ReLU"
        if "module" in entry:
            entry["module"] = "keras.layers"
        config["threshold"] = config.pop("theta", 1.0)
    for value in entry.values():
        _walk(value)


def _layer(class_name: str, config: dict[str, Any]) -> None:
    if class_name in _NO_GROUPS and config.get("groups", 1) == 1 and "groups" in config:
        del config["groups"]
    axis = config.get("axis")
    if class_name == "BatchNormalization" and isinstance(axis, list) and len(axis) == 1:
        config["axis"] = axis[0]
    if class_name == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    elif "batch_input_shape" in config:  # the model's InputLayer carries it (inserted for a Sequential one)
        del config["batch_input_shape"]
    if class_name.startswith("Separable"):  # Keras 2's base conv wrote kernel_*; Keras 3 has depthwise_/pointwise_
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key, None)
    config.pop("rng_type", None)  # Keras 2's random layers (RandomFlip, ...): Keras 3 has one generator
    if config.get("time_major") is False:  # Keras 2's RNN layers; Keras 3 is batch-major only
        del config["time_major"]
    if class_name == "Lambda" and "function_type" in config:
        _lambda(config)
    if class_name == "MultiHeadAttention":  # Keras 2 wrote the shapes it was built for into the arguments
        for key in ("query_shape", "key_shape", "value_shape"):
            config.pop(key, None)
        if config.get("softmax_robust_masking") is False:  # tf_keras' default, not a Keras 3 argument
            del config["softmax_robust_masking"]
    if class_name.startswith("SpatialDropout"):  # Keras 3's constructor takes neither (nothing to train; its
        config.pop("trainable", None)  # noise shape is its own)
        if config.get("noise_shape") is None:
            config.pop("noise_shape", None)
    name = config.get("name")
    if isinstance(name, str) and "/" in name:
        config["name"] = name.replace("/", SLASH)


def _lambda(config: dict[str, Any]) -> None:
    """Keras 2's Lambda: a function as [code, defaults, closure] with its kind beside it (function_type,
    module, output_shape_type, output_shape_module); Keras 3 writes the code in a `__lambda__` object.
    The code itself is the same marshalled bytes, run only under --unsafe, as any Lambda's."""
    for key, kind in (("function", "function_type"), ("output_shape", "output_shape_type")):
        value = config.get(key)
        if config.pop(kind, None) == "lambda" and isinstance(value, list) and len(value) == 3:
            code, defaults, closure = value
            config[key] = {"class_name": "__lambda__", "config": {"code": code, "defaults": defaults,
                                                                   "closure": closure}}  # fmt: skip
    for key in ("module", "output_shape_module"):
        config.pop(key, None)
    if config.get("output_shape") is None:
        config.pop("output_shape", None)


_MODELS = frozenset({"Functional", "Model", "Sequential"})


def _nested_calls(config: dict[str, Any]) -> None:
    """Keras 2 numbers a nested model's calls from 1 in its callers' inbound nodes (its node 0 is its own
    graph); Keras 3 from 0. Only Keras 2's list form (`["inner", 1, 0, {}]`) is renumbered (Keras 3 writes
    dicts); output_layers count the same way in both and stay."""
    layers = config.get("layers")
    if not isinstance(layers, list):
        return
    models = {layer.get("name") for layer in layers if isinstance(layer, dict) and layer.get("class_name") in _MODELS}
    if not models:
        return
    for layer in layers:
        if isinstance(layer, dict) and isinstance(layer.get("inbound_nodes"), list):
            for call in layer["inbound_nodes"]:
                if isinstance(call, list):
                    for node in call:
                        _renumber(node, models)


def _renumber(node: Any, models: set[Any]) -> None:
    if isinstance(node, list) and len(node) >= 2 and node[0] in models and type(node[1]) is int and node[1] >= 1:
        node[1] -= 1


def _sequential_input(config: dict[str, Any]) -> None:
    """Keras 2 kept a Sequential model's input shape on its first layer (`batch_input_shape`)."""
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
        return
    first = layers[0].get("config")
    if layers[0].get("class_name") == "InputLayer" or not isinstance(first, dict) or "batch_input_shape" not in first:
        return
    shape = first.pop("batch_input_shape")
    layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape}})


def _renamed_nodes(nodes: Any) -> Any:
    """Layer names in Keras 2's node lists (`[[["conv1/conv", 0, 0, {}]]]`) with '/' translated."""
    if isinstance(nodes, list):
        if nodes and isinstance(nodes[0], str) and "/" in nodes[0]:
            return [nodes[0].replace("/", SLASH), *nodes[1:]]
        return [_renamed_nodes(n) for n in nodes]
    if isinstance(nodes, dict):
        return {k: _renamed_nodes(v) for k, v in nodes.items()}
    return nodes


def _is_ref(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(type(v) is int for v in value[1:]))  # fmt: skip


def _tensor(ref: list[Any]) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": [], "dtype": None, "keras_history": ref}}


def _tensor_kwargs(node: Any) -> Any:
    """A Keras 2 call whose keyword arguments hold tensors (MultiHeadAttention's `value`, `key`): Keras 3
    reads tensors only from its own form of a call, so that one call is written in it. Others stay."""
    if not (isinstance(node, list) and node and all(isinstance(i, list) and len(i) == 4 for i in node)):
        return node
    kwargs = {k: v for item in node if isinstance(item[3], dict) for k, v in item[3].items()}
    if not any(_is_ref(v) for v in kwargs.values()):
        return node
    tensors = [_tensor(item[:3]) for item in node]
    return {"args": tensors if len(tensors) == 1 else [tensors],
            "kwargs": {k: _tensor(v) if _is_ref(v) else v for k, v in kwargs.items()}}  # fmt: skip


def shown_name(name: str) -> str:
    """A translated name as it was saved."""
    return name.replace(SLASH, "/")
