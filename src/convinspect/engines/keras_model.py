"""The Keras engine for whole models: read every call's shapes and variables from the real model.

engines/loading.py gives the real model. One reading of its live objects (operations, their nodes
and inbound tensors, variables, output shapes) gives each layer's configuration together with what it
did at each call, on the same entry; no get_config() of the whole model, no second walk joined by
names. The rows then come from the same walk as the analytic engine's (core/model/walk.py), so the
bookkeeping (shared layers, nested models, totals) is the same code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from convinspect.core.layer.variables import Params, Variable
from convinspect.core.model import legacy
from convinspect.core.model.graph import Observed, Shape, parse_model
from convinspect.core.model.report import LayerRow, ModelReport, known_sum
from convinspect.core.model.rules import MAC_FREE, RULES, size_layer
from convinspect.core.model.source import Source, SourceKind
from convinspect.core.model.walk import unbuilt_rows, walk
from convinspect.core.vocab.choices import Engine
from convinspect.core.vocab.text import shown
from convinspect.engines.loading import (
    Progress,
    application,
    import_modules,
    keras_words,
    real_model,
    report_progress,
    stdout_aside,
)
from convinspect.engines.objects import shape_of
from convinspect.engines.session import load, names_kept
from convinspect.errors import BackendError, InvalidInput


def _weights(keras: Any, layer: Any, variables: Sequence[Any] | None = None) -> tuple[Variable, ...]:
    """`layer`'s variables (or those of `variables`, which it holds) as the report's weights."""
    trainable = {id(v) for v in layer.trainable_weights}
    return tuple(
        Variable(v.name, tuple(int(d) for d in v.shape), keras.backend.standardize_dtype(v.dtype), id(v) in trainable)
        for v in (layer.weights if variables is None else variables)
    )


def _own_weights(keras: Any, model: Any) -> tuple[Variable, ...]:
    """Variables the model holds itself (model.add_weight), outside every layer it contains."""
    inside = {id(v) for layer in model._flatten_layers(include_self=False) for v in layer.weights}
    return _weights(keras, model, [v for v in model.weights if id(v) not in inside])


Graphs = dict[int, Any]  # id(model) -> the Functional its calls are read from, for one report


def _read(keras: Any, model: Any, graphs: Graphs, progress: Progress | None = None, observe: bool = True
          ) -> dict[str, Any]:  # fmt: skip
    """The model's configuration, read from its live objects in one walk; with `observe`, each layer's
    entry carries what it did at each call ("observed": output shapes, variables, inner work)."""
    try:
        return _live_config(keras, model, _Reading(graphs, progress, observe))
    except (InvalidInput, BackendError):
        raise
    except Exception as error:
        raise BackendError(f"Keras cannot read the model's calls: {keras_words(error)}") from None


def _functional(model: Any, graphs: Graphs) -> Any:
    """The Functional graph of a model (a Sequential keeps one once built; a subclass, see _graph_model)."""
    return getattr(model, "_functional", None) or graphs.get(id(model)) or model


def _inner_work(keras: Any, layer: Any, node: Any) -> tuple[int | None, int | None, tuple[str, ...]] | None:
    """A layer the rules do not know, looked into: its call() is traced once on symbolic inputs of this
    call's shapes, and every operation it performs is judged: a sublayer the rules size is counted, a
    layer without a rule is looked into the same way, an einsum or a matmul is counted from its
    operands' shapes (a kernel of the layer's own included), a MAC-free operation is free, and anything
    else is left uncounted, by name. None: the call cannot be traced (the walk then judges the layer by
    its class)."""
    from keras.src.models.functional import Functional

    def trace(stand_in: int | None) -> Any:
        # An unknown batch stands at 1, so that a call which sizes its own tensors by it (a class
        # token tiled over the batch, as ViT does) traces; the counts are per example either way.
        # `stand_in` takes the place of the other unknown sizes, for a call that needs them all.
        def fresh(value: Any) -> Any:
            if isinstance(value, keras.KerasTensor):
                shape = (1 if value.shape[0] is None else value.shape[0], *value.shape[1:])
                shape = tuple(stand_in if d is None else d for d in shape)
                return keras.Input(batch_shape=shape, dtype=value.dtype)
            return value

        args = keras.tree.map_structure(fresh, node.arguments.args)
        kwargs = keras.tree.map_structure(fresh, node.arguments.kwargs)
        inputs = [v for v in keras.tree.flatten((args, kwargs)) if isinstance(v, keras.KerasTensor)]
        return Functional(inputs, layer.call(*args, **kwargs))

    stood_in = False
    try:
        traced = trace(None)
    except Exception:  # a call that cannot be traced symbolically, or not with unknown sizes
        unknown = any(None in tuple(t.shape)[1:] for t in node.input_tensors)
        try:
            traced, stood_in = (trace(_STAND_IN), True) if unknown else (None, False)
        except Exception:
            traced = None
        if traced is None:
            return None
    macs: int | None = 0
    bias_adds: int | None = 0
    uncounted: list[str] = []
    for operation, shapes, inner in _calls(keras, traced):
        name = type(operation).__name__
        if name == "InputLayer" or (name in MAC_FREE and name not in RULES):
            continue
        if name in _PRODUCTS and not isinstance(operation, keras.layers.Layer):
            found = _product(name, operation, inner)
            if found is not _UNREAD:
                macs = known_sum((macs, found))  # type: ignore[arg-type]
                continue
        if name in RULES and isinstance(operation, keras.layers.Layer):
            try:
                config = _entry(keras, operation)["config"]
                sized = size_layer(operation.name, name, config, shapes)
                macs, bias_adds = known_sum((macs, sized.macs)), known_sum((bias_adds, sized.bias_adds))
                continue
            except (InvalidInput, KeyError, TypeError):
                pass  # a configuration the rule cannot size: looked into below
        elif name in MAC_FREE:
            continue
        work = _inner_work(keras, operation, inner) if isinstance(operation, keras.layers.Layer) else None
        if work is None:
            uncounted.append(operation.name)
        else:
            macs, bias_adds, uncounted = (
                known_sum((macs, work[0])),
                known_sum((bias_adds, work[1])),
                [*uncounted, *work[2]],
            )
    if stood_in:  # counted at sizes that stand in for unknown ones: only a count of none holds
        macs, bias_adds = (None if count else count for count in (macs, bias_adds))
    return macs, bias_adds, tuple(dict.fromkeys(uncounted))


_STAND_IN = 7  # an unknown size, for a call that cannot be traced without one (a position embedding's slice)


_PRODUCTS = ("Einsum", "Matmul")  # keras.ops products, counted from their operands' shapes
_UNREAD = object()  # a product whose operands convinspect cannot read: left uncounted, by name


def _product(name: str, operation: Any, node: Any) -> object:
    """The multiply-accumulates of a keras.ops.einsum or matmul call: every combination of an einsum's
    indices is one; a matmul multiplies (..., m, k) by (..., k, n). None: a size is unknown."""
    operands = [tuple(arg.shape) for arg in node.arguments.args if hasattr(arg, "shape")]
    if name == "Einsum":
        left = str(operation.subscripts).replace(" ", "").split("->")[0].split(",")
        if "." in "".join(left) or len(left) != len(operands) or any(len(a) != len(b) for a, b in zip(left, operands)):
            return _UNREAD
        sizes: dict[str, Any] = {}
        for letters, shape in zip(left, operands, strict=True):
            sizes.update(zip(letters, shape, strict=True))
        return None if None in sizes.values() else math.prod(int(d) for d in sizes.values())
    if len(operands) != 2 or min(len(operands[0]), len(operands[1])) < 2:
        return _UNREAD
    a, b = operands
    batch = [x if y == 1 else y for x, y in itertools.zip_longest(a[-3::-1], b[-3::-1], fillvalue=1)]
    dims = [*batch, a[-2], a[-1], b[-1]]
    return None if None in dims else math.prod(int(d) for d in dims)


def _calls(keras: Any, graph: Any) -> Iterator[tuple[Any, list[Shape], Any]]:
    """Every call in a traced graph: the operation, its input shapes, the node."""
    from keras.src.ops.function import make_node_key

    nodes: set[str] = getattr(graph, "_nodes", set())
    for operation in graph.operations:
        for index, node in enumerate(operation._inbound_nodes):
            if make_node_key(operation, index) in nodes:
                yield operation, [shape_of(t.shape) for t in node.input_tensors], node


def inspect_model(
    source: Source, input_shape: Shape | None = None, *, unsafe: bool = False, imports: Sequence[str] = (),
    load_weights: bool = False, progress: Progress | None = None,
) -> tuple[ModelReport, dict[str, Any]]:  # fmt: skip
    """Every layer of the real model: its real output shapes and variables; and its configuration."""
    keras, _, _ = load()
    with stdout_aside():  # the user's code and Keras may print; stdout is the report's
        import_modules(imports)
        model, before = real_model(source, input_shape, unsafe=unsafe, load_weights=load_weights, progress=progress)
    graphs: Graphs = {}
    with names_kept():
        serialized = _read(keras, model, graphs, progress)
        return _report(keras, model, serialized, source, before, graphs), serialized


_PLAIN = ("Functional", "Sequential")


@dataclasses.dataclass
class _Reading:
    graphs: Graphs
    progress: Progress | None  # the top-level model's progress, layer by layer
    observe: bool


def _live_config(keras: Any, model: Any, reading: _Reading, top: bool = True) -> dict[str, Any]:
    """The model's configuration, read from the live objects as a graph of layer calls, however it was
    defined: a subclass keeps its class name, with the graph of its calls (see _graph_model) in place
    of its constructor's arguments; nested models likewise. Nothing is serialized whole, so a layer
    Keras cannot serialize (keras_hub's Identity) costs its own configuration only, not the report."""
    graph = _graph_model(keras, model, reading.graphs)
    if type(graph).__name__ == "Sequential":
        own = graph._functional
        nodes: set[str] = set() if own is None else own._nodes
        config: dict[str, Any] = {"layers": [_layer_entry(keras, layer, nodes, reading, top and (i, len(graph._layers)))
                                             for i, layer in enumerate(graph._layers)]}  # fmt: skip
        if own is not None:
            config["build_input_shape"] = graph._layers[0].batch_shape
    else:
        config = _functional_config(keras, graph, reading, top)
    cls = type(model)
    return {"module": cls.__module__, "class_name": cls.__name__,
            "registered_name": keras.saving.get_registered_name(cls),
            "config": {**config, "name": model.name, "trainable": model.trainable}}  # fmt: skip


def _functional_config(keras: Any, graph: Any, reading: _Reading, top: bool) -> dict[str, Any]:
    """A Functional's layers and their calls in Keras' saved form (node indices counted among this
    graph's own calls, as Functional.get_config counts them), each layer read on its own."""
    from keras.src.models.functional import Functional
    from keras.src.ops.function import make_node_key

    nodes: set[str] = graph._nodes
    renumbered: dict[str, int] = {}
    for operation in graph.operations:
        kept = 1 if isinstance(operation, Functional) else 0  # a Functional's first node links its own graph
        for index in range(len(operation._inbound_nodes)):
            key = make_node_key(operation, index)
            if key in nodes:
                renumbered[key], kept = kept, kept + 1
    operations = list(graph.operations)
    layers = [_layer_entry(keras, operation, nodes, reading, top and (done, len(operations)))
              for done, operation in enumerate(operations)]  # fmt: skip

    def tensor(value: Any) -> list[Any]:
        operation, node, index = value._keras_history
        return [operation.name, renumbered[make_node_key(operation, node)], index]

    return {"layers": layers, "input_layers": keras.tree.map_structure(tensor, graph._inputs_struct),
            "output_layers": keras.tree.map_structure(tensor, graph._outputs_struct)}  # fmt: skip


def _layer_entry(keras: Any, operation: Any, nodes: set[str], reading: _Reading,
                 done: tuple[int, int] | bool) -> dict[str, Any]:  # fmt: skip
    """One operation of a graph: its saved form, its calls within this graph (`nodes`), and what it did
    at each of them. `done`: (index, count) of a top-level operation, for the progress bar."""
    from keras.src.models.functional import serialize_node
    from keras.src.ops.function import make_node_key

    if done:
        report_progress(reading.progress, "reading layers", *done)  # type: ignore[misc]
    own = [node for index, node in enumerate(operation._inbound_nodes) if make_node_key(operation, index) in nodes]
    calls = [(node, serialize_node(node, own_nodes=nodes)) for node in own]
    calls = [(node, call) for node, call in calls if call is not None]
    if isinstance(operation, keras.Model):
        entry = _live_config(keras, operation, reading, top=False)
    else:
        entry = _entry(keras, operation)
    entry["name"], entry["inbound_nodes"] = operation.name, [call for _, call in calls]
    leaf = isinstance(operation, keras.layers.Layer) and not isinstance(operation, keras.Model)
    if reading.observe and not isinstance(operation, keras.layers.InputLayer):
        entry["observed"] = [_observed(keras, operation, node, leaf and call == 0, leaf)
                             for call, (node, _) in enumerate(calls)]  # fmt: skip
    return entry


def _observed(keras: Any, operation: Any, node: Any, first: bool, leaf: bool) -> Observed:
    """What one call did: its output shapes, the layer's variables (at its first call; an operation such
    as x + y holds none), and for a layer the rules do not know, the work found inside it."""
    weights = _weights(keras, operation) if first else ()
    outputs = tuple(shape_of(t.shape) for t in node.outputs)
    work = _inner_work(keras, operation, node) if leaf and type(operation).__name__ not in RULES else None
    return Observed(outputs, weights, *(work or (None, None, None)))


def _entry(keras: Any, operation: Any) -> dict[str, Any]:
    """One layer's saved form: Keras' own for the layer alone, or its class and name where Keras cannot
    serialize it (its rows then hold what the real layer was seen doing, as for any class without a rule).
    A Keras layer's own get_config() is its saved configuration already: read directly, it costs half as
    much as Keras' serializer walking it again."""
    cls = type(operation)
    try:
        if cls.__module__.startswith("keras.src.layers.") and cls.__name__ in RULES:
            return {"module": "keras.layers", "class_name": cls.__name__, "registered_name": None,
                    "config": _plain(operation.get_config())}  # fmt: skip
        return dict(keras.saving.serialize_keras_object(operation))
    except Exception:
        policy = getattr(getattr(operation, "dtype_policy", None), "name", "float32")
        return {"module": cls.__module__, "class_name": cls.__name__, "registered_name": None,
                "config": {"name": operation.name, "trainable": operation.trainable, "dtype": policy}}  # fmt: skip


def _plain(value: Any) -> Any:
    """A configuration as its JSON would read: tuples as lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _graph_model(keras: Any, model: Any, graphs: Graphs) -> Any:
    """The model whose layer calls the walk follows: a Functional over the same layers. A subclass of
    Functional (a keras_hub backbone) is re-wrapped from its own inputs and outputs; a model with its own
    call() is traced once on a symbolic input of its build shape; Functional and Sequential are themselves.
    Built once per report and kept in `graphs`, never on the user's model."""
    from keras.src.models.functional import Functional

    if type(model).__name__ in _PLAIN:
        return model
    if id(model) not in graphs:
        if isinstance(model, Functional):
            graphs[id(model)] = Functional(model.inputs, model.outputs, name=model.name)
        else:
            graphs[id(model)] = _traced(keras, model)
    return graphs[id(model)]


def _traced(keras: Any, model: Any) -> Any:
    from keras.src.models.functional import Functional

    shape = (model.get_build_config() or {}).get("input_shape") if model.built else None
    if shape is None:
        raise InvalidInput(
            f"the model is a {shown(type(model).__name__)}, a subclass of keras.Model that has not been built: "
            "give --input so that Keras can build it and convinspect trace its calls", "input")  # fmt: skip
    try:
        inputs = _symbolic(keras, _shapes(shape))
        outputs = model.call(inputs)
        return Functional(inputs, outputs, name=model.name)
    except Exception as error:
        raise InvalidInput(
            f"cannot trace the calls of {shown(type(model).__name__)}.call() on a symbolic input: {keras_words(error)}"
        ) from None


def _symbolic(keras: Any, shapes: Shapes) -> Any:
    """Symbolic inputs of `shapes`, in the same structure (any batch)."""
    if isinstance(shapes, dict):
        return {k: keras.Input(batch_shape=(None, *s[1:]), name=k) for k, s in shapes.items()}
    if isinstance(shapes, list):
        return [keras.Input(batch_shape=(None, *s[1:])) for s in shapes]
    return keras.Input(batch_shape=(None, *shapes[1:]))


def model_report(model: Any, source: Source, before: int, progress: Progress | None = None) -> ModelReport:
    """The report of a real model; `before` is how many variables it held before it was built."""
    keras, _, _ = load()
    graphs: Graphs = {}
    with names_kept():
        return _report(keras, model, _read(keras, model, graphs, progress), source, before, graphs)


def _report(keras: Any, model: Any, serialized: dict[str, Any], source: Source, before: int,
            graphs: Graphs) -> ModelReport:  # fmt: skip
    _, _, versions = load()
    graph = parse_model(serialized)
    built = bool(model.built) and graph.built
    if not built:
        rows = tuple(unbuilt_rows(graph))
        shapes: tuple[Shape | None, ...] = graph.input_shapes
    else:
        shapes = graph.input_shapes  # the real model's, in its configuration's order
        rows = tuple(walk(graph, shapes, observed=True))  # type: ignore[arg-type]
        own = _own_weights(keras, model)
        if own:  # on a row of their own, after the layers: Keras' summary() counts them too
            params = Params.of(own)
            rows += (LayerRow("(own variables)", graph.class_name, (), 0, 1, (), (), own, params),)
        rows += tuple(_uncalled(keras, model, rows, graphs))
        counted = sum(len(row.weights) for row in rows)
        if counted != len(model.weights):
            raise BackendError(f"read {counted} variables from the layers, but the model holds {len(model.weights)}")
    if any(legacy.SLASH in row.qualified for row in rows):
        rows = tuple(_saved_names(row) for row in rows)
    return ModelReport(
        name=legacy.shown_name(graph.name),
        class_name=graph.class_name,
        source=source.named(),
        engine=Engine.KERAS,
        input_shapes=shapes,
        lazy=(before == 0 and len(model.weights) > 0) or not built,
        built=built,
        variables_before=before,
        rows=rows,
        versions=dict(versions),
    )


def _uncalled(keras: Any, model: Any, rows: tuple[LayerRow, ...], graphs: Graphs) -> Iterator[LayerRow]:
    """Layers the model holds (an attribute, such as a backbone's unused stem) but never calls: their
    variables are the model's, and count_params() counts them, so each gets a row, with no output."""
    if sum(len(row.weights) for row in rows) == len(model.weights):
        return
    called = {id(v) for operation in _operations(keras, model, graphs) for v in operation.weights}
    for layer in model._flatten_layers(include_self=False):
        weights = [v for v in layer.weights if id(v) not in called]
        if isinstance(layer, keras.Model) or not weights or len(weights) != len(layer.weights):
            continue
        called.update(id(v) for v in weights)
        held = _weights(keras, layer)
        yield LayerRow(layer.name, type(layer).__name__, (), 0, 0, (), (), held, Params.of(held))


def _operations(keras: Any, model: Any, graphs: Graphs) -> Iterator[Any]:
    """Every layer the model's graph calls, nested models' too."""
    for operation in _functional(model, graphs).operations:
        if isinstance(operation, keras.Model):
            yield from _operations(keras, operation, graphs)
        elif isinstance(operation, keras.layers.Layer):
            yield operation


def _saved_names(row: LayerRow) -> LayerRow:
    """A row with the names as the file saved them (Keras 3 built them with '/' translated)."""
    return dataclasses.replace(
        row,
        name=legacy.shown_name(row.name),
        path=tuple(legacy.shown_name(p) for p in row.path),
        inbound=tuple(legacy.shown_name(n) for n in row.inbound),
        uncounted=tuple(legacy.shown_name(n) for n in row.uncounted),
    )


def application_config(source: Source, input_shape: Shape | None) -> dict[str, Any]:
    """An application's configuration, for the analytic engine (building it needs Keras)."""
    keras, _, _ = load()
    with contextlib.redirect_stdout(io.StringIO()):
        model = application(keras, source, input_shape)
    with names_kept():
        return _read(keras, model, {}, observe=False)


def live_model(model: Any, input_shape: Shape | None) -> tuple[ModelReport, dict[str, Any]]:
    """The report of a model that lives in this process, read where it stands: nothing of it is built,
    trained, compiled or renamed. An unbuilt model is read as it is (no variables yet), or, given
    `input_shape`, through a clone built for it; the clone's report tells what building will create."""
    keras, _, _ = load()
    source = Source(f"{type(model).__name__} {model.name!r}", SourceKind.LIVE)
    before, class_name = len(model.weights), type(model).__name__
    if input_shape is None and not model.built and type(model).__name__ not in _PLAIN:
        raise InvalidInput(f"the {shown(type(model).__name__)} is not built, so it has no variables yet and no calls "
                           "to read: give input_shape (batch first) to see what building it will create",
                           "input_shape")  # fmt: skip
    original = model
    with names_kept(), _calls_kept(model):
        if input_shape is not None:
            model = _built_for(keras, model, input_shape)
        elif type(model).__name__ not in _PLAIN and any(not layer.built for layer in model._flatten_layers()):
            model = _clone(keras, model, _built_shape(model) or ())  # tracing would build them: a clone's are built
        graphs: Graphs = {}
        config = _read(keras, model, graphs)
        report = _report(keras, model, config, source, before, graphs)
    if report.class_name != class_name:  # read through a Functional clone: still the user's class
        report = dataclasses.replace(report, class_name=class_name)
    if model is not original:
        report = dataclasses.replace(report, rows=_named_as(report.rows, model, original))
    return report, config


def _named_as(rows: tuple[LayerRow, ...], clone: Any, original: Any) -> tuple[LayerRow, ...]:
    """A clone's rows under the user's layer names (a subclass's clone names its layers anew): layer by
    layer, in the order both hold them, when the two hold the same classes."""
    ours, theirs = list(clone._flatten_layers(include_self=False)), list(original._flatten_layers(include_self=False))
    if len(ours) != len(theirs) or any(type(a) is not type(b) for a, b in zip(ours, theirs, strict=True)):
        return rows
    names = {str(a.name): str(b.name) for a, b in zip(ours, theirs, strict=True) if a.name != b.name}
    if not names:
        return rows

    def name(n: str) -> str:
        return names.get(n, n)

    return tuple(dataclasses.replace(row, name=name(row.name), path=tuple(name(p) for p in row.path),
                                     inbound=tuple(name(n) for n in row.inbound)) for row in rows)  # fmt: skip


@contextlib.contextmanager
def _calls_kept(model: Any) -> Iterator[None]:
    """Each layer's record of its calls (its nodes) as it was: tracing a subclass's call() or a custom
    layer's records calls on their sublayers, which would change what `layer.output` says."""
    saved = [(layer, list(layer._inbound_nodes), list(layer._outbound_nodes))
             for layer in model._flatten_layers(include_self=True)]  # fmt: skip
    try:
        yield
    finally:
        for layer, inbound, outbound in saved:
            layer._inbound_nodes[:], layer._outbound_nodes[:] = inbound, outbound


def fits(built: Shape, shape: Shape) -> bool:
    """Whether an object built for `built` takes `shape`: the same rank, each size equal or unknown."""
    return len(built) == len(shape) and all(b is None or b == d for b, d in zip(built[1:], shape[1:], strict=True))


def _built_for(keras: Any, model: Any, shape: Shape) -> Any:
    """The model itself when it is built for `shape` (the batch aside); else a clone, built for it: an
    unbuilt model, or one built with unknown sizes that `shape` fills in."""
    if model.built:
        built = _built_shape(model)
        if built is not None and len(built) == len(shape) and built[1:] == tuple(shape[1:]):
            return model
        if built is None or len(built) != len(shape):
            where = tuple(built) if built else "several inputs"
            raise InvalidInput(f"the model is built for {where}; give an input_shape of that rank, or leave it "
                               "out", "input_shape")  # fmt: skip
    if type(model).__name__ == "Sequential" and not model.layers:
        raise InvalidInput("the Sequential holds no layers, so there is nothing to build", "input_shape")
    return _clone(keras, model, shape)


def _clone(keras: Any, model: Any, shape: Shape) -> Any:
    """A copy of the model, from its configuration, built for `shape`; the user's own is never built."""
    if not shape:
        raise InvalidInput(f"the {shown(type(model).__name__)} holds layers that are not built and no input shape "
                           "to build a copy for: call it once on data, then call summary(model)")  # fmt: skip
    from keras.src.models.functional import Functional

    try:
        if type(model).__name__ in _PLAIN:
            clone = keras.models.clone_model(model)
        elif isinstance(model, Functional) and model.built:  # a keras_hub backbone: its graph, on a new input
            clone = Functional(model.inputs, model.outputs, name=model.name)
        else:
            clone = type(model).from_config(model.get_config())
    except Exception:
        raise InvalidInput(f"Keras cannot recreate the {shown(type(model).__name__)} from its get_config(), so "
                           f"convinspect cannot build a copy for {tuple(shape)} without building yours; "
                           "build it yourself (model.build(shape), or call it once on data), then call "
                           "summary(model)", "input_shape") from None  # fmt: skip
    try:
        if type(clone).__name__ == "Sequential":  # its input named as Keras names a first input, whatever came before
            layers = [layer for layer in clone.layers if not isinstance(layer, keras.layers.InputLayer)]
            clone = keras.Sequential([keras.Input(batch_shape=tuple(shape), name="input_layer"), *layers],
                                     name=clone.name, trainable=clone.trainable)  # fmt: skip
        elif type(clone).__name__ == "Functional":
            names = [t.name for t in clone.inputs]
            inputs = keras.Input(batch_shape=tuple(shape), name=names[0] if len(names) == 1 else None)
            structure = [inputs] if isinstance(clone._inputs_struct, list) else inputs
            clone = keras.models.clone_model(clone, input_tensors=structure)
        else:
            with warnings.catch_warnings():  # Keras' own warning about the user's build(), not convinspect's
                warnings.simplefilter("ignore")
                clone.build(tuple(shape))
    except Exception as error:
        raise InvalidInput(f"Keras cannot build the model for input {tuple(shape)}: {keras_words(error)}",
                           "input_shape") from None  # fmt: skip
    return clone


def _built_shape(model: Any) -> Shape | None:
    graph = getattr(model, "_functional", None) or model
    try:
        inputs = list(graph.inputs or [])
    except Exception:  # a subclass holds no inputs of its own
        inputs = []
    if len(inputs) == 1:
        return shape_of(inputs[0].shape)
    build = (model.get_build_config() or {}).get("input_shape")
    return None if build is None else shape_of(build)


def takes(layer: Any, shape: Shape) -> None:
    """Refuses a shape the built layer's variables do not take, as Keras would when it is called on it."""
    from keras.src.layers.input_spec import assert_input_compatibility

    keras, _, _ = load()
    try:
        assert_input_compatibility(layer.input_spec, keras.KerasTensor(tuple(shape)), layer.name)
    except ValueError:
        built = layer.get_build_config()["input_shape"]
        raise InvalidInput(f"the {shown(type(layer).__name__)} is built for {tuple(built)}, and its variables do "
                           "not take that shape; leave input_shape out, or give one that fits it",
                           "input_shape") from None  # fmt: skip


Shapes = Shape | list[Shape] | dict[str, Shape]  # what a layer was built for: one input, a list, or by name


def live_layer_config(layer: Any) -> tuple[str, dict[str, Any], str, Shapes | None]:
    """A live layer's class, configuration, dtype policy and the input shapes it was built for (None:
    unbuilt): one shape, a list of shapes (a merge layer), or shapes by argument (attention)."""
    keras, _, _ = load()
    if not isinstance(layer, keras.layers.Layer):
        raise InvalidInput(
            f"expected a keras.Model, a keras.layers.Layer or a model file; got a {shown(type(layer).__name__)}"
        )
    config = (layer.get_build_config() or {}) if layer.built else {}
    shapes: Shapes | None = None
    if config.get("input_shape") is not None:
        shapes = _shapes(config["input_shape"])
    elif isinstance(config.get("shapes_dict"), dict):
        shapes = {k.removesuffix("_shape"): shape_of(v) for k, v in config["shapes_dict"].items() if v is not None}
    return type(layer).__name__, dict(layer.get_config()), layer.dtype_policy.name, shapes


def _shapes(value: Any) -> Shapes:
    """One shape, or a structure of them, as plain tuples."""
    if isinstance(value, dict):
        return {str(k): shape_of(v) for k, v in value.items()}
    items = list(value)
    if items and all(isinstance(d, (list, tuple)) for d in items):  # a list of shapes, not one shape
        return [shape_of(d) for d in items]
    return shape_of(value)


def layer_as_model(layer: Any, shapes: Shapes) -> Any:
    """A clone of a layer that is not a conv layer, alone in a model of its own, built for `shapes`."""
    keras, _, _ = load()
    with names_kept():
        try:
            clone = type(layer).from_config(layer.get_config())
            if isinstance(shapes, tuple):
                entry = "input" if layer.name != "input" else "input_0"
                return keras.Sequential([keras.Input(batch_shape=shapes, name=entry), clone], name=layer.name)
            if isinstance(shapes, list):
                inputs = [keras.Input(batch_shape=s, name=f"input_{i}") for i, s in enumerate(shapes)]
                return keras.Model(inputs, clone(inputs), name=layer.name)
            named = {k: keras.Input(batch_shape=s, name=k) for k, s in shapes.items()}
            return keras.Model(list(named.values()), clone(**named), name=layer.name)
        except Exception as error:
            raise InvalidInput(f"cannot build a clone of {shown(layer.name)} for {_shapes_text(shapes)}: "
                               f"{keras_words(error)}", "input_shape") from None  # fmt: skip


def _shapes_text(shapes: Shapes) -> str:
    return str(tuple(shapes)) if isinstance(shapes, tuple) else str(shapes)
