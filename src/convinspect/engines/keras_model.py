"""The Keras engine for whole models: build the real model, read every call's shapes and variables.

Configurations are deserialized with Keras' safe mode on (a Lambda's bytecode is refused)
unless the user passes --unsafe. Builders and applications are code the user named, and run.
The rows come from the same walk as the analytic engine's (core/model/walk.py), fed with what the
real model observed, so bookkeeping (shared layers, nested models, totals) is the same code.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import importlib.util
import io
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from convinspect.core.layer.variables import Params, Variable
from convinspect.core.model import legacy
from convinspect.core.model.graph import Shape, holds_graph, override_input, parse_model
from convinspect.core.model.report import Key, LayerRow, ModelReport, Observed
from convinspect.core.model.rules import MAC_FREE, RULES, size_layer
from convinspect.core.model.source import Source, SourceKind
from convinspect.core.model.walk import check_size, unbuilt_rows, walk, with_input
from convinspect.core.vocab.choices import Engine
from convinspect.core.vocab.text import shown
from convinspect.engines.keras import load
from convinspect.errors import BackendError, InvalidInput, Terminated

Progress = Callable[[str, int, int], None]  # (what, done, total)


def _reraise_interrupts(error: BaseException) -> None:
    if isinstance(error, (KeyboardInterrupt, GeneratorExit, Terminated)):
        raise error


def _keras_words(error: BaseException) -> str:
    """Keras' message without the configuration it quotes back (which hides the cause)."""
    text = " ".join(str(error).split())
    nested = "Exception encountered:" in text
    if nested:  # nested deserialization errors: the innermost is the cause
        text = text.rsplit("Exception encountered:", 1)[1].strip()
    missing = re.match(r"Could not locate (?:class|function) '([^']*)'", text)
    if missing:  # a custom class no import registered: say how to give it
        module = re.search(r"'module': '([^']*)'", text)
        hint = f" (--import {module.group(1)})" if module and not module.group(1).startswith("keras") else ""
        text = f"{missing.group(0)}; give --import with the module that registers it{hint}"
    for marker in ("Full object config:", "config={"):
        text = text.split(marker)[0].rstrip(" .:")
    if len(text) > 300:  # Keras quotes configurations back; the cause is at the start
        text = text[:297] + "..."
    return text if nested else f"{type(error).__name__}: {text}"


def _is_here(entry: str) -> bool:
    try:
        return entry in ("", ".") or os.path.samefile(entry, os.getcwd())
    except OSError:
        return False


@contextlib.contextmanager
def _importable_here() -> Iterator[None]:
    """While the user's named code imports: modules in the current folder resolve, as with `python -m`."""
    here = os.getcwd()
    sys.path.insert(0, here)
    try:
        yield
    finally:
        if here in sys.path:
            sys.path.remove(here)


@contextlib.contextmanager
def _nothing_from_here() -> Iterator[None]:
    """While Keras reads a file: a module the file names is never taken from the current folder
    (`python -m` puts it first on sys.path); only --import and builders run code from there."""
    saved = list(sys.path)
    sys.path[:] = [entry for entry in sys.path if not _is_here(entry)]
    try:
        yield
    finally:
        sys.path[:] = saved


@contextlib.contextmanager
def _stdout_aside() -> Iterator[None]:
    """print() into nothing, and file descriptor 1 (os.system, a C extension) onto stderr, for as long
    as the user's code runs: nothing lands ahead of the report on stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            if sys.__stdout__ is not None:
                sys.__stdout__.flush()
            saved = os.dup(1)
            os.dup2(2, 1)
        except (OSError, ValueError):  # no descriptor 1 or 2 to move: print() is still kept off stdout
            yield
            return
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _quiet(progress: Progress | None, what: str, done: int = 0, total: int = 0) -> None:
    if progress is not None:
        progress(what, done, total)


def import_modules(names: Sequence[str]) -> None:
    """--import: modules (or .py files) that register custom layers before the model is read."""
    for name in names:
        try:
            if name.endswith(".py"):
                path = Path(name)
                spec = importlib.util.spec_from_file_location(path.stem, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise ImportError(f"no such file {name}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[path.stem] = module
                with _importable_here():
                    spec.loader.exec_module(module)
            else:
                with _importable_here():
                    importlib.import_module(name)
        except BaseException as error:  # the user's code: anything it raises is one line
            _reraise_interrupts(error)
            raise InvalidInput(f"cannot import {shown(name)}: {type(error).__name__}: {error}", "import") from None


def _builder(source: Source) -> Any:
    assert source.target is not None and source.function is not None
    try:
        if source.path is not None:
            spec = importlib.util.spec_from_file_location(source.path.stem, source.path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules.setdefault(source.path.stem, module)
            with _importable_here():
                spec.loader.exec_module(module)
        else:
            with _importable_here():
                module = importlib.import_module(source.target)
    except BaseException as error:  # the user's code: anything it raises is one line
        _reraise_interrupts(error)
        raise InvalidInput(f"cannot import {shown(source.target)}: {type(error).__name__}: {error}") from None
    function = getattr(module, source.function, None)
    if not callable(function):
        raise InvalidInput(f"{shown(source.target)} has no function {shown(source.function)}")
    try:
        return function()
    except BaseException as error:  # the user's code: anything it raises is one line
        _reraise_interrupts(error)
        raise InvalidInput(f"the builder {shown(source.text)} raised {type(error).__name__}: {error}") from None


def _application(keras: Any, source: Source, input_shape: Shape | None) -> Any:
    name = source.target or ""
    factory = getattr(keras.applications, name, None)
    if not (name[:1].isupper() and callable(factory)):
        known = ", ".join(n for n in dir(keras.applications) if n[:1].isupper())
        raise InvalidInput(f"keras.applications has no model {shown(name)}; it has {known}")
    kwargs: dict[str, Any] = {"weights": None}
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape[1:])
    try:
        return factory(**kwargs)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"keras.applications.{name} refused: {_keras_words(error)}", "input") from None


def _deserialize(keras: Any, config: Mapping[str, Any], unsafe: bool) -> Any:
    from keras.src.legacy.saving import saving_utils
    from keras.src.saving import serialization_lib

    try:
        with serialization_lib.SafeModeScope(not unsafe), _nothing_from_here():
            if "module" in config:  # Keras 3's format
                model = keras.saving.deserialize_keras_object(copy.deepcopy(dict(config)), safe_mode=not unsafe)
            else:  # Keras 2's (legacy .h5 files)
                model = saving_utils.model_from_config(copy.deepcopy(dict(config)))
    except BaseException as error:  # the user's code: anything it raises is one line
        _reraise_interrupts(error)
        text = str(error)
        if "unsafe" in text.lower() or "safe_mode" in text:
            raise InvalidInput(
                "the model holds code (a Lambda layer's bytecode, say) that safe mode refuses to run; "
                "pass --unsafe only if you trust the file, or use --engine analytic, which runs nothing"
            ) from None
        raise InvalidInput(f"Keras cannot build the model: {_keras_words(error)}") from None
    if not isinstance(model, keras.Model):
        raise InvalidInput(f"the configuration is a {type(model).__name__}, not a Keras model")
    return model


@contextlib.contextmanager
def _named_keras(path: Path) -> Iterator[str]:
    """The archive under a name ending in .keras (a link to it), whatever the user named it."""
    if path.name.endswith(".keras"):
        yield str(path)
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="convinspect-") as folder:
        link = Path(folder) / "model.keras"
        try:
            link.symlink_to(path.resolve())
        except OSError:  # no symbolic links here: a copy
            import shutil

            shutil.copyfile(path, link)
        yield str(link)


def _load_weights(keras: Any, model: Any, source: Source) -> None:
    if source.kind not in (SourceKind.ARCHIVE, SourceKind.H5) or source.path is None:
        raise InvalidInput(f"--load-weights needs a .keras or .h5 file; {shown(source.text)} holds no weights",
                           "load_weights")  # fmt: skip
    try:
        if source.kind is SourceKind.ARCHIVE:
            from keras.src.saving import saving_lib

            with _named_keras(source.path) as path:  # Keras picks its reader by the file name alone
                saving_lib.load_weights_only(model, path)
        else:
            import h5py  # type: ignore[import-untyped]
            from keras.src.legacy.saving import legacy_h5_format

            with h5py.File(source.path, "r") as handle:
                _no_links(h5py, handle, source.text)
                group = handle["model_weights"] if "model_weights" in handle else handle
                legacy_h5_format.load_weights_from_hdf5_group(group, model)
    except InvalidInput:
        raise
    except BaseException as error:  # the user's code: anything it raises is one line
        _reraise_interrupts(error)
        raise InvalidInput(
            f"the stored weights do not match the configuration: {_keras_words(error)}", "load_weights"
        ) from None


def _no_links(h5py: Any, handle: Any, name: str) -> None:
    """Keras reads weights through plain HDF5 groups only: a soft or external link is refused by name."""
    found: list[tuple[str, str]] = []

    def visit(path: str, link: Any) -> None:
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)) and not found:
            found.append((path, "a soft link" if isinstance(link, h5py.SoftLink) else "an external link"))

    handle.visititems_links(visit)
    if found:
        path, kind = found[0]
        raise InvalidInput(f"{shown(name)} stores its weights through {kind} ({shown(path)}), which Keras does "
                           "not follow: save the model again (model.save) to store them in the file",
                           "load_weights")  # fmt: skip


def real_model(
    source: Source, input_shape: Shape | None, *, unsafe: bool = False, load_weights: bool = False,
    progress: Progress | None = None,
) -> tuple[Any, int]:  # fmt: skip
    """The real Keras model for SOURCE, and how many variables it held before --input built it."""
    keras, _, _ = load()
    _quiet(progress, "building the model")
    if source.kind is SourceKind.APPLICATION:
        model = _application(keras, source, input_shape)
        input_shape = None if input_shape is None or input_shape[0] is None else input_shape
    elif source.kind is SourceKind.BUILDER:
        model = _builder(source)
        if not isinstance(model, keras.Model):
            raise InvalidInput(f"the builder {shown(source.text)} returned {shown(type(model).__name__)}, "
                               "not a Keras model")  # fmt: skip
    else:
        assert source.config is not None
        config = source.config
        try:
            graph = parse_model(config)
        except InvalidInput:  # a configuration the walk cannot parse is Keras' to judge
            graph = None
        if graph is not None:
            check_size(graph)  # before Keras traces 2^depth nested calls
        elif input_shape is not None and not holds_graph(config):
            raise InvalidInput(
                f"sets the input of a saved graph of layers, and {shown(config.get('class_name'))} saves its "
                "constructor's arguments instead: build the model for the input you want (its image_shape or "
                "input_shape argument) and save it again", "input")  # fmt: skip
        if input_shape is not None:
            with_input(parse_model(config), input_shape)  # the rank is checked before Keras sees it
        if input_shape is not None and parse_model(config).built:  # a lazy model is built below, to count
            config = override_input(config, input_shape)  # what it holds before
            input_shape = None
        config = legacy.translate(config)  # a Keras 2 file (tf_keras): what Keras 3 reads differently
        model = _deserialize(keras, config, unsafe)
    if load_weights:
        _load_weights(keras, model, source)
    before = len(model.weights)
    if input_shape is not None and (_lazy(model) or source.kind is SourceKind.BUILDER):
        _build(keras, model, input_shape, unsafe)
    return model, before


def _lazy(model: Any) -> bool:
    return not getattr(model, "built", False) or (not model.weights and not model.layers)


def _build(keras: Any, model: Any, shape: Shape, unsafe: bool) -> None:
    try:
        model.build(tuple(shape))
    except BaseException as error:  # the user's code: anything it raises is one line
        _reraise_interrupts(error)
        raise InvalidInput(
            f"Keras cannot build the model for input {shown(list(shape))}: {_keras_words(error)}", "input"
        ) from None


def _shape(shape: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in shape)


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


def _functional(model: Any) -> Any:
    """The Functional graph of a model (a Sequential keeps one once built; a subclass, see _graph_model)."""
    return getattr(model, "_functional", None) or getattr(model, "_convinspect_graph", None) or model


def _observe(keras: Any, model: Any, path: tuple[str, ...], found: dict[Key, Observed],
             progress: Progress | None) -> None:  # fmt: skip
    from keras.src.ops.function import make_node_key

    graph = _functional(model)
    operations = list(graph.operations)
    nodes: set[str] = getattr(graph, "_nodes", set())
    for done, operation in enumerate(operations):
        if not path:
            _quiet(progress, "reading layers", done, len(operations))
        if isinstance(operation, keras.layers.InputLayer):
            continue
        call = 0
        for index, node in enumerate(operation._inbound_nodes):
            if make_node_key(operation, index) not in nodes:  # a call outside this model's graph
                continue
            leaf = isinstance(operation, keras.layers.Layer) and not isinstance(operation, keras.Model)
            weights = _weights(keras, operation) if call == 0 and leaf else ()  # ops (x + y) hold none
            outputs = tuple(_shape(t.shape) for t in node.outputs)
            work = _inner_work(keras, operation, node) if leaf and type(operation).__name__ not in RULES else None
            found[(path, operation.name, call)] = Observed(outputs, weights, *(work or (None, None, None)))
            call += 1
        if isinstance(operation, keras.Model):
            _observe(keras, operation, (*path, operation.name), found, progress)


def _inner_work(keras: Any, layer: Any, node: Any) -> tuple[int, int, tuple[str, ...]] | None:
    """A layer the rules do not know, looked into: its call() is traced once on symbolic inputs of this
    call's shapes, and every operation it performs is judged: a sublayer the rules size is counted, a
    layer without a rule is looked into the same way, a MAC-free operation is free, and anything else
    (a matmul, an einsum, a kernel used without its layer) is left uncounted, by name; so is the layer
    itself when it holds variables of its own. None: the call cannot be traced (the walk then judges the
    layer by its class)."""
    from keras.src.models.functional import Functional

    def fresh(value: Any) -> Any:
        if isinstance(value, keras.KerasTensor):
            return keras.Input(batch_shape=value.shape, dtype=value.dtype)
        return value

    args = keras.tree.map_structure(fresh, node.arguments.args)
    kwargs = keras.tree.map_structure(fresh, node.arguments.kwargs)
    inputs = [v for v in keras.tree.flatten((args, kwargs)) if isinstance(v, keras.KerasTensor)]
    try:
        traced = Functional(inputs, layer.call(*args, **kwargs))
    except Exception:  # a call that cannot be traced symbolically
        return None
    macs = bias_adds = 0
    uncounted: list[str] = []
    for operation, shapes, inner in _calls(keras, traced):
        name = type(operation).__name__
        if name == "InputLayer" or (name in MAC_FREE and name not in RULES):
            continue
        if name in RULES and isinstance(operation, keras.layers.Layer):
            try:
                config = keras.saving.serialize_keras_object(operation)["config"]
                sized = size_layer(operation.name, name, config, shapes)
                macs, bias_adds = macs + (sized.macs or 0), bias_adds + (sized.bias_adds or 0)
                continue
            except (InvalidInput, KeyError, TypeError):
                pass
        elif name in MAC_FREE:
            continue
        work = _inner_work(keras, operation, inner) if isinstance(operation, keras.layers.Layer) else None
        if work is None:
            uncounted.append(operation.name)
        else:
            macs, bias_adds, uncounted = macs + work[0], bias_adds + work[1], [*uncounted, *work[2]]
    inside = {id(v) for sub in layer._flatten_layers(include_self=False) for v in sub.weights}
    if any(id(v) not in inside for v in layer.weights):  # its own variables: its own arithmetic, unknown
        uncounted.insert(0, layer.name)
    return macs, bias_adds, tuple(dict.fromkeys(uncounted))


def _calls(keras: Any, graph: Any) -> Iterator[tuple[Any, list[Shape], Any]]:
    """Every call in a traced graph: the operation, its input shapes, the node."""
    from keras.src.ops.function import make_node_key

    nodes: set[str] = getattr(graph, "_nodes", set())
    for operation in graph.operations:
        for index, node in enumerate(operation._inbound_nodes):
            if make_node_key(operation, index) in nodes:
                yield operation, [_shape(t.shape) for t in node.input_tensors], node


def inspect_model(
    source: Source, input_shape: Shape | None = None, *, unsafe: bool = False, imports: Sequence[str] = (),
    load_weights: bool = False, progress: Progress | None = None,
) -> tuple[ModelReport, dict[str, Any]]:  # fmt: skip
    """Every layer of the real model: its real output shapes and variables; and its configuration."""
    keras, _, _ = load()
    with _stdout_aside():  # the user's code and Keras may print; stdout is the report's
        import_modules(imports)
        model, before = real_model(source, input_shape, unsafe=unsafe, load_weights=load_weights, progress=progress)
    serialized = _serialized(keras, model)
    return _report(keras, model, serialized, source, before, progress), serialized


_PLAIN = ("Functional", "Sequential")


def _serialized(keras: Any, model: Any) -> dict[str, Any]:
    """The model's configuration as a graph of layer calls, however it was defined: a subclass keeps
    its class name, with the graph of the built model (see _graph_model) in place of its constructor's
    arguments; nested models likewise."""
    try:
        config = dict(keras.saving.serialize_keras_object(model))
        graph = _graph_model(keras, model)
        if graph is not model:
            inner = dict(keras.saving.serialize_keras_object(graph))["config"]
            config["config"] = {**inner, "name": model.name, "trainable": model.trainable}
        _expand_nested(keras, graph, config)
        return config
    except (InvalidInput, BackendError):
        raise
    except Exception as error:
        raise BackendError(f"Keras cannot serialize the model: {error}") from None


def _expand_nested(keras: Any, model: Any, config: dict[str, Any]) -> None:
    """Each nested model's entry holds its graph too (a nested subclass's saved form holds its arguments)."""
    layers = config.get("config", {}).get("layers")
    if not isinstance(layers, list):
        return
    by_name = {layer.name: layer for layer in getattr(model, "layers", [])}
    for entry in layers:
        live = by_name.get(entry.get("config", {}).get("name") if isinstance(entry, dict) else None)
        if isinstance(live, keras.Model) and type(live).__name__ not in _PLAIN:
            graph = _graph_model(keras, live)
            if graph is not live or _has_graph(entry):
                entry["config"] = {**dict(keras.saving.serialize_keras_object(graph))["config"], "name": live.name}
            _expand_nested(keras, graph, entry)
        elif isinstance(live, keras.Model):
            _expand_nested(keras, live, entry)


def _has_graph(entry: Mapping[str, Any]) -> bool:
    config = entry.get("config")
    return isinstance(config, Mapping) and "layers" in config


def _graph_model(keras: Any, model: Any) -> Any:
    """The model whose layer calls the walk follows: a Functional over the same layers. A subclass of
    Functional (a keras_hub backbone) is re-wrapped from its own inputs and outputs; a model with its own
    call() is traced once on a symbolic input of its build shape; Functional and Sequential are themselves."""
    from keras.src.models.functional import Functional

    if type(model).__name__ in _PLAIN:
        return model
    cached = getattr(model, "_convinspect_graph", None)
    if cached is not None:
        return cached
    if isinstance(model, Functional):
        graph = Functional(model.inputs, model.outputs, name=model.name)
    else:
        graph = _traced(keras, model)
    object.__setattr__(model, "_convinspect_graph", graph)
    return graph


def _traced(keras: Any, model: Any) -> Any:
    from keras.src.models.functional import Functional

    shape = (model.get_build_config() or {}).get("input_shape") if model.built else None
    if shape is None:
        raise InvalidInput(
            f"the model is a {shown(type(model).__name__)}, a subclass of keras.Model that has not been built: "
            "give --input so that Keras can build it and convinspect trace its calls", "input")  # fmt: skip
    try:
        inputs = keras.Input(batch_shape=(None, *tuple(shape)[1:]))
        outputs = model.call(inputs)
        return Functional(inputs, outputs, name=model.name)
    except Exception as error:
        raise InvalidInput(
            f"cannot trace the calls of {shown(type(model).__name__)}.call() on a symbolic input: {_keras_words(error)}"
        ) from None


def model_report(model: Any, source: Source, before: int, progress: Progress | None = None) -> ModelReport:
    """The report of a real model; `before` is how many variables it held before it was built."""
    keras, _, _ = load()
    return _report(keras, model, _serialized(keras, model), source, before, progress)


def _report(keras: Any, model: Any, serialized: dict[str, Any], source: Source, before: int,
            progress: Progress | None) -> ModelReport:  # fmt: skip
    _, _, versions = load()
    graph = parse_model(serialized)
    built = bool(model.built) and graph.built
    if not built:
        rows = tuple(unbuilt_rows(graph))
        shapes: tuple[Shape | None, ...] = graph.input_shapes
    else:
        found: dict[Key, Observed] = {}
        _observe(keras, model, (), found, progress)
        shapes = graph.input_shapes  # the real model's, in its configuration's order
        rows = tuple(walk(graph, shapes, found))  # type: ignore[arg-type]
        own = _own_weights(keras, model)
        if own:  # on a row of their own, after the layers: Keras' summary() counts them too
            params = Params.of(own)
            rows += (LayerRow("(own variables)", graph.class_name, (), 0, 1, (), (), own, params),)
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
        model = _application(keras, source, input_shape)
    return _serialized(keras, model)
