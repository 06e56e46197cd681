"""A Keras model's configuration read as a graph: layers, their calls and what feeds each call.

Reads the two formats Keras writes: Keras 3's (`model.to_json()`, a `.keras` archive's
`config.json`, Keras 3's `.h5`), whose calls name their inputs as `__keras_tensor__`
objects with a `keras_history` of [layer, node, tensor], and the Keras 2 / tf.keras one,
whose calls are lists of [layer, node, tensor, kwargs]. Nothing here runs or imports
anything the configuration names: it is data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from convinspect.core.layer.variables import Variable
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

Shape = tuple[int | None, ...]
CONTAINERS = ("Functional", "Sequential", "Model")
MAX_NESTING = 64  # models inside models; deeper is refused rather than recursed into
MAX_LAYERS = 100_000


@dataclass(frozen=True)
class Ref:
    """One tensor: output `tensor` of call `node` of layer `layer`."""

    layer: str
    node: int
    tensor: int = 0


@dataclass(frozen=True)
class Observed:
    """What the real model says about one call: its output shapes and (first call) its variables."""

    outputs: tuple[Shape, ...]
    weights: tuple[Variable, ...]
    # A layer the analytic rules do not know: the MACs of the sublayers and products it was seen calling
    # (None: a size is unknown), and the work that could not be counted (None: not looked into).
    macs: int | None = None
    bias_adds: int | None = None
    uncounted: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LayerDef:
    """One entry of the configuration's layer list."""

    name: str
    class_name: str
    module: str | None
    config: Mapping[str, Any]
    calls: tuple[tuple[Ref, ...], ...]  # each call's input tensors, in argument order
    model: Graph | None = None  # a nested Functional/Sequential model
    # What the real layer did at each call, read from the live model with its configuration (the
    # Keras engine's entries carry it as "observed"; a configuration from a file has none).
    observed: tuple[Observed, ...] = ()

    @property
    def trainable(self) -> bool:
        return self.config.get("trainable", True) is not False

    @property
    def dtype_policy(self) -> str:
        return policy_name(self.config.get("dtype"))


@dataclass(frozen=True)
class Graph:
    """A Functional or Sequential model: its layers in configuration order, inputs and outputs."""

    name: str
    class_name: str
    layers: tuple[LayerDef, ...]
    inputs: tuple[Ref, ...]
    outputs: tuple[Ref, ...]
    input_shapes: tuple[Shape | None, ...]  # per input; None where the configuration has none
    trainable: bool = True

    @property
    def sequential(self) -> bool:
        return self.class_name == "Sequential"

    @property
    def built(self) -> bool:
        return all(shape is not None for shape in self.input_shapes)

    def layer(self, name: str) -> LayerDef:
        return {layer.name: layer for layer in self.layers}[name]


def policy_name(raw: object) -> str:
    """A dtype policy's name from any of the forms Keras writes (a dict, a string, None)."""
    if isinstance(raw, Mapping):
        inner = raw.get("config")
        if isinstance(inner, Mapping) and isinstance(inner.get("name"), str):
            return str(inner["name"])
        return "float32"
    return raw if isinstance(raw, str) else "float32"


def _shape(raw: object, what: str) -> Shape | None:
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or not all(d is None or (type(d) is int and d > 0) for d in raw):
        raise InvalidInput(f"{what} is not a shape: {shown(raw)}")
    return tuple(raw)


def _name(raw: object, what: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidInput(f"{what} has no name (got {shown(raw)})")
    return raw


def _history(raw: object) -> Ref | None:
    """The Ref of one Keras 3 tensor object, or None when `raw` is not one."""
    if not (isinstance(raw, Mapping) and raw.get("class_name") == "__keras_tensor__"):
        return None
    config = raw.get("config")
    history = config.get("keras_history") if isinstance(config, Mapping) else None
    return _ref(history, "a tensor's keras_history")


def _ref(raw: object, what: str) -> Ref:
    if (
        isinstance(raw, (list, tuple))
        and len(raw) >= 3
        and isinstance(raw[0], str)
        and all(type(i) is int and i >= 0 for i in raw[1:3])
    ):
        return Ref(raw[0], raw[1], raw[2])
    raise InvalidInput(f"{what} is not [layer, node, tensor]: {shown(raw)}")


def _tensors(raw: object, found: list[Ref], depth: int = 0) -> None:
    """Every tensor named inside a call's arguments, in order (lists and dicts included)."""
    if depth > MAX_NESTING:
        raise InvalidInput("a call's arguments are nested too deeply")
    ref = _history(raw)
    if ref is not None:
        found.append(ref)
    elif isinstance(raw, (list, tuple)):
        for item in raw:
            _tensors(item, found, depth + 1)
    elif isinstance(raw, Mapping):
        for item in raw.values():
            _tensors(item, found, depth + 1)


def _calls(raw: object, layer: str) -> tuple[tuple[Ref, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise InvalidInput(f"layer {shown(layer)}: inbound_nodes is not a list")
    calls = []
    for node in raw:
        found: list[Ref] = []
        if isinstance(node, Mapping):  # Keras 3: {"args": [...], "kwargs": {...}}
            _tensors(node.get("args", []), found)
            _tensors(node.get("kwargs", {}), found)
        elif isinstance(node, (list, tuple)) and node and isinstance(node[0], str):  # Keras 2's TFOpLambda:
            found.append(_ref(node, f"layer {shown(layer)}'s inbound node"))  # one [layer, node, tensor, kwargs]
        elif isinstance(node, (list, tuple)):  # Keras 2: [[layer, node, tensor, kwargs], ...]
            found.extend(_ref(item, f"layer {shown(layer)}'s inbound node") for item in node)
        else:
            raise InvalidInput(f"layer {shown(layer)}: an inbound node is {shown(node)}")
        calls.append(tuple(found))
    return tuple(calls)


def _refs(raw: object, what: str) -> tuple[Ref, ...]:
    """`input_layers`/`output_layers`: one [layer, node, tensor], a list of them, or a dict of them
    (a model called with a dict of inputs), in the dict's order."""
    if isinstance(raw, Mapping) and raw:
        return tuple(_ref(item, what) for item in raw.values())
    if isinstance(raw, (list, tuple)) and raw and isinstance(raw[0], str):
        return (_ref(raw, what),)
    if isinstance(raw, (list, tuple)) and raw:
        return tuple(_ref(item, what) for item in raw)
    raise InvalidInput(f"{what} is missing or empty (got {shown(raw)})")


def _input_shape(config: Mapping[str, Any]) -> Shape | None:
    """An InputLayer's full shape (Keras 3 `batch_shape`, Keras 2 `batch_input_shape`)."""
    for key in ("batch_shape", "batch_input_shape"):
        if config.get(key) is not None:
            return _shape(config[key], f"input layer {shown(config.get('name'))}'s {key}")
    if config.get("shape") is not None:  # Keras 3 also accepts `shape`, without the batch
        inner = _shape(config["shape"], f"input layer {shown(config.get('name'))}'s shape")
        return None if inner is None else (None, *inner)
    return None


def parse_model(raw: object, depth: int = 0) -> Graph:
    """The Graph of a serialized Functional or Sequential model (`{"class_name": ..., "config": ...}`)."""
    if depth > MAX_NESTING:
        raise InvalidInput(f"models are nested more than {MAX_NESTING} deep")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("config"), Mapping):
        raise InvalidInput("not a Keras model configuration: expected an object with `class_name` and `config`")
    class_name = raw.get("class_name")
    if not holds_graph(raw):
        raise InvalidInput(_no_graph(raw))
    config = raw["config"]
    layers_raw = config.get("layers")
    if isinstance(layers_raw, tuple):
        layers_raw = list(layers_raw)
    if not isinstance(layers_raw, list):
        raise InvalidInput(f"model {shown(config.get('name'))}: `layers` is not a list")
    if len(layers_raw) > MAX_LAYERS:
        raise InvalidInput(f"model has {len(layers_raw):,} layers, over the limit of {MAX_LAYERS:,}")
    name = config.get("name") if isinstance(config.get("name"), str) else str(class_name).lower()
    trainable = config.get("trainable", True) is not False
    if class_name == "Sequential":
        return _sequential(str(name), layers_raw, config, raw, trainable, depth)
    return _functional(str(name), str(class_name), layers_raw, config, trainable, depth)


def holds_graph(raw: Mapping[str, Any]) -> bool:
    """A Functional, Sequential or Model configuration, or a subclass's whose saved configuration holds
    the functional graph (`layers`, `input_layers`, `output_layers`)."""
    config = raw.get("config")
    if raw.get("class_name") in CONTAINERS:
        return True
    return isinstance(config, Mapping) and all(key in config for key in ("layers", "input_layers", "output_layers"))


def _no_graph(raw: Mapping[str, Any]) -> str:
    class_name, module = raw.get("class_name"), raw.get("module")
    module = module if isinstance(module, str) and module else None
    if not isinstance(class_name, str) or (module or "").startswith(("keras.layers", "keras.src.layers")):
        return (f"not a Keras model configuration: the top-level class is {shown(class_name)}, expected "
                "Functional, Sequential or Model")  # fmt: skip
    where = f" (from {shown(module)})" if module else ""
    package = module.split(".")[0] if module else "MODULE"
    return (f"the model is a {shown(class_name)}{where}, a subclass of keras.Model whose saved configuration "
            "holds its constructor's arguments, not its graph of layers: the analytic engine cannot read it; "
            f"use --engine keras --import {package}")  # fmt: skip


def _layer(raw: object, depth: int, calls: tuple[tuple[Ref, ...], ...] | None = None) -> LayerDef:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("config"), Mapping):
        raise InvalidInput(f"a layer entry is not an object with `class_name` and `config`: {shown(raw)}")
    config = raw["config"]
    class_name = _name(raw.get("class_name"), "a layer's class")
    name = _name(raw.get("name", config.get("name")), f"a {shown(class_name)} layer")
    model = parse_model(raw, depth + 1) if holds_graph(raw) else None
    module = raw.get("module") if isinstance(raw.get("module"), str) else None
    observed = raw.get("observed", ())
    return LayerDef(
        name=name,
        class_name=class_name,
        module=module,
        config=config,
        calls=_calls(raw.get("inbound_nodes"), name) if calls is None else calls,
        model=model,
        observed=tuple(o for o in observed if isinstance(o, Observed)) if isinstance(observed, (list, tuple)) else (),
    )


def _unique(layers: Sequence[LayerDef], model: str) -> None:
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            raise InvalidInput(f"model {shown(model)} has two layers named {shown(layer.name)}")
        seen.add(layer.name)


def _sequential(
    name: str, layers_raw: list[Any], config: Mapping[str, Any], raw: Mapping[str, Any], trainable: bool, depth: int
) -> Graph:
    layers: list[LayerDef] = []
    input_shape: Shape | None = None
    previous: Ref | None = None
    for entry in layers_raw:
        layer = _layer(entry, depth, calls=())
        if layer.class_name == "InputLayer":
            if layers:
                raise InvalidInput(f"model {shown(name)}: an InputLayer after the first layer")
            input_shape = _input_shape(layer.config)
        else:
            inputs = (previous,) if previous is not None else (Ref("__input__", 0),)
            layer = dataclasses.replace(layer, calls=(inputs,))
        layers.append(layer)
        previous = Ref(layer.name, 0)
    if input_shape is None:
        build = config.get("build_input_shape")
        if build is None and isinstance(raw.get("build_config"), Mapping):
            build = raw["build_config"].get("input_shape")
        input_shape = _shape(build, f"model {shown(name)}'s build_input_shape")
    if layers and layers[0].class_name == "InputLayer":
        first = Ref(layers[0].name, 0)
        layers = [layers[0]] + [_rewire(layer, first) for layer in layers[1:]]
    else:
        first = Ref("__input__", 0)
    _unique(layers, name)
    if previous is None or previous == first:
        raise InvalidInput(f"model {shown(name)} has no layers")
    return Graph(name, "Sequential", tuple(layers), (first,), (previous,), (input_shape,), trainable)


def _rewire(layer: LayerDef, first: Ref) -> LayerDef:
    calls = tuple(tuple(first if ref.layer == "__input__" else ref for ref in call) for call in layer.calls)
    return dataclasses.replace(layer, calls=calls)


def _functional(
    name: str, class_name: str, layers_raw: list[Any], config: Mapping[str, Any], trainable: bool, depth: int
) -> Graph:
    layers = [_layer(entry, depth) for entry in layers_raw]
    if any(_keras2_calls(entry) for entry in layers_raw):
        layers = _nested_from_zero(layers)
    _unique(layers, name)
    by_name = {layer.name: layer for layer in layers}
    inputs = _refs(config.get("input_layers"), f"model {shown(name)}'s input_layers")
    outputs = tuple(_call_ref(ref, by_name) for ref in _refs(config.get("output_layers"),
                                                              f"model {shown(name)}'s output_layers"))  # fmt: skip
    for ref in (*inputs, *outputs, *(r for layer in layers for call in layer.calls for r in call)):
        if ref.layer not in by_name:
            raise InvalidInput(f"model {shown(name)} refers to a layer {shown(ref.layer)} it does not define")
    shapes = []
    for ref in inputs:
        layer = by_name[ref.layer]
        if layer.class_name != "InputLayer":
            raise InvalidInput(f"model {shown(name)}: input {shown(ref.layer)} is not an InputLayer")
        shapes.append(_input_shape(layer.config))
    return Graph(name, class_name, tuple(layers), inputs, outputs, tuple(shapes), trainable)


def _keras2_calls(raw: object) -> bool:
    nodes = raw.get("inbound_nodes") if isinstance(raw, Mapping) else None
    return isinstance(nodes, (list, tuple)) and any(isinstance(node, (list, tuple)) for node in nodes)


def _nested_from_zero(layers: list[LayerDef]) -> list[LayerDef]:
    """Keras 2 numbers a nested model's calls from 1 in its callers' inbound nodes (its node 0 is its own
    graph); here, as in Keras 3, its first call is call 0."""
    models = {layer.name for layer in layers if layer.model is not None}
    if not models:
        return layers

    def renumbered(ref: Ref) -> Ref:
        return Ref(ref.layer, ref.node - 1, ref.tensor) if ref.layer in models and ref.node >= 1 else ref

    return [dataclasses.replace(layer, calls=tuple(tuple(renumbered(r) for r in call) for call in layer.calls))
            for layer in layers]  # fmt: skip


def _call_ref(ref: Ref, by_name: Mapping[str, LayerDef]) -> Ref:
    """An output_layers entry as a call index. Keras 3 numbers a nested Functional model's nodes there
    from 1 (its node 0 is the one it was built with; keras/src/models/functional.py, get_config),
    while the keras_history of a call's arguments counts only this model's own calls, from 0."""
    layer = by_name.get(ref.layer)
    nested = layer is not None and layer.model is not None and not layer.model.sequential
    if nested and layer is not None and layer.module is not None and ref.node >= 1:
        return Ref(ref.layer, ref.node - 1, ref.tensor)
    return ref


def _strip_builds(raw: Any) -> Any:
    """A copy without `build_config`/`build_input_shape`: layers rebuild from the new input."""
    if isinstance(raw, Mapping):
        return {k: _strip_builds(v) for k, v in raw.items() if k not in ("build_config", "build_input_shape")}
    if isinstance(raw, list):
        return [_strip_builds(v) for v in raw]
    return raw


def override_input(raw: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """The serialized model with its (single) input set to `shape`, batch included."""
    graph = parse_model(raw)
    if len(graph.inputs) != 1:
        raise InvalidInput(f"the model has {len(graph.inputs)} inputs; --input sets one", "input")
    out: dict[str, Any] = _strip_builds(raw)
    layers = out["config"]["layers"]
    first = layers[0] if layers else None
    batch_shape = list(shape)
    if isinstance(first, dict) and first.get("class_name") == "InputLayer":
        inner = {k: v for k, v in first["config"].items() if k not in ("batch_input_shape", "shape", "input_shape")}
        first["config"] = {**inner, "batch_shape": batch_shape}
        if graph.sequential:
            return out
    if graph.sequential:
        out["config"]["build_input_shape"] = batch_shape
        return out
    name = graph.inputs[0].layer
    for layer in layers:
        if isinstance(layer, dict) and (layer.get("name") == name or layer.get("config", {}).get("name") == name):
            inner = {k: v for k, v in layer["config"].items() if k not in ("batch_input_shape", "shape", "input_shape")}
            layer["config"] = {**inner, "batch_shape": batch_shape}
    return out
