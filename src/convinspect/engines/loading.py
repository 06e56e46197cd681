"""The real Keras model for a source, loaded with the user's code kept in its place.

Configurations are deserialized with Keras' safe mode on (a Lambda's bytecode is refused) unless
the user passes --unsafe. Builders and applications are code the user named, and run: anything
they raise or print becomes one line, never a traceback, and nothing they print reaches stdout.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import io
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from convinspect.core.model import legacy
from convinspect.core.model.graph import Shape, holds_graph, override_input, parse_model
from convinspect.core.model.source import Source, SourceKind
from convinspect.core.model.walk import check_size, with_input
from convinspect.core.vocab.text import shown
from convinspect.engines.session import load
from convinspect.errors import InvalidInput, Terminated

Progress = Callable[[str, int, int], None]  # (what, done, total)


def reraise_interrupts(error: BaseException) -> None:
    if isinstance(error, (KeyboardInterrupt, GeneratorExit, Terminated)):
        raise error


def keras_words(error: BaseException) -> str:
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
def stdout_aside() -> Iterator[None]:
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


def report_progress(progress: Progress | None, what: str, done: int = 0, total: int = 0) -> None:
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
            reraise_interrupts(error)
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
        reraise_interrupts(error)
        raise InvalidInput(f"cannot import {shown(source.target)}: {type(error).__name__}: {error}") from None
    function = getattr(module, source.function, None)
    if not callable(function):
        raise InvalidInput(f"{shown(source.target)} has no function {shown(source.function)}")
    try:
        return function()
    except BaseException as error:  # the user's code: anything it raises is one line
        reraise_interrupts(error)
        raise InvalidInput(f"the builder {shown(source.text)} raised {type(error).__name__}: {error}") from None


def application(keras: Any, source: Source, input_shape: Shape | None) -> Any:
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
        raise InvalidInput(f"keras.applications.{name} refused: {keras_words(error)}", "input") from None


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
        reraise_interrupts(error)
        text = str(error)
        if "unsafe" in text.lower() or "safe_mode" in text:
            raise InvalidInput(
                "the model holds code (a Lambda layer's bytecode, say) that safe mode refuses to run; "
                "pass --unsafe only if you trust the file, or use --engine analytic, which runs nothing"
            ) from None
        raise InvalidInput(f"Keras cannot build the model: {keras_words(error)}") from None
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
        reraise_interrupts(error)
        raise InvalidInput(
            f"the stored weights do not match the configuration: {keras_words(error)}", "load_weights"
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
    report_progress(progress, "building the model")
    if source.kind is SourceKind.APPLICATION:
        model = application(keras, source, input_shape)
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
        reraise_interrupts(error)
        raise InvalidInput(
            f"Keras cannot build the model for input {shown(list(shape))}: {keras_words(error)}", "input"
        ) from None
