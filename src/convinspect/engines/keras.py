"""The Keras engine: build the real layer, run a dummy forward pass, read its variables.

The only module that imports TensorFlow, and only when a Keras report is asked for.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from convinspect import __version__
from convinspect.core import arithmetic, story
from convinspect.core.layouts import Layout
from convinspect.core.measures import measure
from convinspect.core.report import Report, Step, Variable
from convinspect.core.spec import ITEMSIZE, LayerSpec, parse_choice
from convinspect.core.units import human_bytes
from convinspect.errors import BackendError, InvalidInput

DEFAULT_BUDGET = 256 * 2**20
FORWARD_MODES = ("auto", "eager", "symbolic")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence TensorFlow's C++/absl logging, which writes to fd 2 directly.

    TF 2.21 ignores TF_CPP_MIN_LOG_LEVEL for some start-up lines (oneDNN, CUDA
    probing), so fd 2 points at /dev/null while TensorFlow runs. Python errors
    still surface as exceptions. CONVINSPECT_DEBUG=1 lets everything through.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if os.environ.get("CONVINSPECT_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@functools.lru_cache(maxsize=1)
def load() -> tuple[Any, Any, dict[str, str | None]]:
    """Import Keras (TensorFlow backend) once: (keras, numpy, versions)."""
    with quiet():
        try:
            import keras
            import numpy
            import tensorflow
        except ImportError as err:
            raise BackendError(
                f"TensorFlow/Keras is not available ({err}); install with: pip install 'tensorflow>=2.16'"
            ) from None
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:
            pass
    if not keras.__version__.startswith("3."):
        raise BackendError(f"convinspect needs Keras 3; found Keras {keras.__version__}")
    versions = {"convinspect": __version__, "keras": keras.__version__, "tensorflow": tensorflow.__version__}
    return keras, numpy, versions


def _variables(layer: Any) -> tuple[Variable, ...]:
    return tuple(
        Variable(
            name=v.name,
            path=v.path,
            shape=tuple(int(d) for d in v.shape),
            dtype=str(v.dtype),
            trainable=bool(v.trainable),
        )
        for v in layer.variables
    )


def _config(layer: Any, spec: LayerSpec) -> dict[str, Any]:
    """The resolved hyperparameters as the real layer holds them."""
    raw = layer.get_config()
    config: dict[str, Any] = {}
    for key in spec.config():
        value = layer.dtype_policy.name if key == "dtype" else raw[key]
        config[key] = list(value) if isinstance(value, tuple) else value
    return config


def _shape(shape: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in shape)


def choose_forward(spec: LayerSpec, output_shape: tuple[int | None, ...], forward: str, budget: int) -> tuple[str, str]:
    """Pick eager or symbolic and say why, keeping activations within `budget` bytes."""
    forward = parse_choice(forward, "forward", FORWARD_MODES)
    if spec.batch is None:
        if forward == "eager":
            raise InvalidInput("an eager forward pass needs a known batch size; got '?'", "forward")
        return "symbolic", "symbolic forward pass: the batch size is unknown"
    itemsize = ITEMSIZE[spec.compute_dtype]
    need = (math.prod(spec.input_shape) + math.prod(output_shape)) * itemsize  # type: ignore[arg-type]
    fits = need <= budget
    if forward == "symbolic":
        return "symbolic", "symbolic forward pass on a KerasTensor (asked for): no activation memory"
    if forward == "eager" and not fits:
        raise InvalidInput(
            f"an eager forward pass needs {human_bytes(need)} of input and output activations, "
            f"over the budget of {human_bytes(budget)}; raise --budget or use --forward symbolic",
            "forward",
        )
    if fits:
        how = "asked for" if forward == "eager" else "auto"
        return "eager", f"eager forward pass on a dummy input ({how}): {human_bytes(need)} of activations"
    return "symbolic", (
        f"symbolic forward pass (auto): activations would take {human_bytes(need)}, "
        f"over the {human_bytes(budget)} budget"
    )


def inspect(
    spec: LayerSpec, *, forward: str = "auto", budget: int = DEFAULT_BUDGET, seed: int | None = None,
    explain: bool = False,
) -> Report:  # fmt: skip
    """Build the real Keras layer for `spec`, call it once, and report its variables.

    With `explain`, also record the lazy-build story as it happens (see `_story`).
    """
    keras, np, versions = load()
    with quiet():
        return _inspect(keras, np, versions, spec, forward, budget, seed, explain)


def _constructed(layer: Any) -> dict[str, Any]:
    """What a freshly constructed layer shows, including count_params()' own complaint."""
    try:
        layer.count_params()
        error = None
    except ValueError as err:
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return {
        "built": bool(layer.built),
        "trainable_variables": [v.path for v in layer.trainable_variables],
        "count_params_error": error,
    }


def _record_build(layer: Any, calls: list[Any]) -> None:
    """Wrap this layer's build() so the shape Keras passes it is recorded."""
    original = layer.build

    def build(input_shape: Any) -> Any:  # one parameter: Keras hands it the first input's shape
        calls.append(input_shape)
        return original(input_shape)

    layer.build = build


def _story(
    keras: Any, cls: Any, spec: LayerSpec, constructed: dict[str, Any], layer: Any, build_calls: list[Any],
    output_shape: tuple[int | None, ...], layouts: tuple[Layout, ...],
) -> tuple[Step, ...]:  # fmt: skip
    """The four steps, each observed on a real layer: construct, first call, and two other triggers."""
    first_call = Step("first_call", True, {
        "input_shape": list(spec.input_shape),
        "build_input_shape": list(_shape(build_calls[0])) if build_calls else None,
        "channel_axis": -1 if spec.channels_last else 1,
        "input_channels": spec.channels,
        "variables": story.variable_facts(_variables(layer), layouts),
        "built": bool(layer.built),
        "output_shape": list(output_shape),
    })  # fmt: skip
    built_explicitly = cls(**spec.keras_kwargs())
    built_explicitly.build(spec.input_shape)
    explicit = Step("explicit_build", True, {
        "input_shape": list(spec.input_shape),
        "built": bool(built_explicitly.built),
        "variables": story.variable_facts(_variables(built_explicitly), layouts),
    })  # fmt: skip
    called_symbolically = cls(**spec.keras_kwargs())
    symbolic = story.symbolic_input(spec)
    output = called_symbolically(keras.Input(shape=tuple(symbolic["shape"]), batch_size=symbolic["batch_size"]))
    on_input = Step("symbolic_input", True, {
        "input": symbolic,
        "output_type": type(output).__name__,
        "output_shape": list(_shape(output.shape)),
        "variables": story.variable_facts(_variables(called_symbolically), layouts),
    })  # fmt: skip
    construct = Step("construct", True, {"call": story.constructor(spec), **constructed})
    return (construct, first_call, explicit, on_input)


def _inspect(
    keras: Any, np: Any, versions: dict[str, str | None], spec: LayerSpec,
    forward: str, budget: int, seed: int | None, explain: bool = False,
) -> Report:  # fmt: skip
    import tensorflow as tf

    if seed is not None:
        keras.utils.set_random_seed(seed)
    cls = getattr(keras.layers, spec.kind.class_name)
    try:
        layer = cls(**spec.keras_kwargs())
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"Keras rejected the layer: {err}") from None
    before = _variables(layer)
    constructed: dict[str, Any] = {}
    build_calls: list[Any] = []
    if explain:  # read the fresh layer before anything builds it
        constructed = _constructed(layer)
        _record_build(layer, build_calls)
    try:
        predicted = _shape(layer.compute_output_shape(spec.input_shape))
    except ValueError as err:
        raise InvalidInput(f"Keras rejected the input: {err}") from None
    arithmetic.check_runnable(spec, predicted)
    mode, note = choose_forward(spec, predicted, forward, budget)
    try:
        if mode == "eager":
            rng = np.random.default_rng(seed)
            dummy = rng.standard_normal(spec.input_shape, dtype=np.float32).astype(layer.compute_dtype)
            output = layer(dummy)
        else:
            output = layer(keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype))
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
        raise InvalidInput(f"Keras rejected the input: {err}") from None
    except Exception as err:  # any other failure is TensorFlow's, not the user's
        raise BackendError(f"TensorFlow failed during the {mode} forward pass: {type(err).__name__}: {err}") from None
    output_shape = _shape(output.shape)
    arithmetic.check_runnable(spec, output_shape)
    after = _variables(layer)
    config = _config(layer, spec)
    measures = measure(
        spec.kind, config, spec.input_shape, output_shape, {v.name: v.shape for v in after},
        sum(v.bytes for v in after), str(layer.dtype_policy.variable_dtype), str(layer.compute_dtype),
    )  # fmt: skip
    steps = _story(keras, cls, spec, constructed, layer, build_calls, output_shape, measures.layouts) if explain else ()
    return Report(
        class_name=type(layer).__name__,
        name=layer.name,
        config=config,
        engine="keras",
        forward=mode,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=before,
        variables_after=after,
        versions=dict(versions),
        measures=measures,
        notes=(note,),
        story=steps,
    )
