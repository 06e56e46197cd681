"""The Keras engine: build the real layer, run a dummy forward pass, read its variables.

The only module that imports TensorFlow, and only when a Keras report is asked for.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

from convinspect.core import arithmetic, story
from convinspect.core.choices import Engine, Forward
from convinspect.core.config import LayerConfig
from convinspect.core.forward import DEFAULT_BUDGET, choose_forward, eager_bytes
from convinspect.core.geometry import effective_kernel
from convinspect.core.layouts import Layout
from convinspect.core.measures import measure
from convinspect.core.report import Report, Step, Variable
from convinspect.core.runtime import Runtime, observed_failure
from convinspect.core.spec import LayerSpec
from convinspect.core.text import shown
from convinspect.errors import BackendError, InvalidInput
from convinspect.version import __version__

# Keras' own error messages -> the rule codes the analytic engine raises for the same rule.
_KERAS_RULES = (
    ("`strides > 1` not supported in conjunction with `dilation_rate > 1`", "strided_dilation"),
    ("number of filters must be evenly divisible by the number of groups", "groups_filters"),
    ("number of input channels must be evenly divisible by the number of groups", "groups_channels"),
    ("`output_padding` must be strictly less than `strides`", "output_padding"),
    ("Computed output size would be zero or negative", "empty_output"),
    ("negative dimensions are not allowed", "empty_output"),
)


def rejected(err: Exception, what: str) -> InvalidInput:
    """Keras' refusal as InvalidInput, with the rule it broke when the message names one."""
    text = str(err)
    rule = next((code for phrase, code in _KERAS_RULES if phrase in text), "keras")
    return InvalidInput(f"Keras rejected the {what}: {text}", rule=rule)


@functools.lru_cache(maxsize=1)
def load() -> tuple[Any, Any, dict[str, str | None]]:
    """Import Keras (TensorFlow backend) once: (keras, numpy, versions).

    Only log levels are set here; a program that calls the API keeps its own stderr
    (the command line silences file descriptor 2 itself, see convinspect/streams.py).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if backend.strip().lower() != "tensorflow":
        raise BackendError(
            f"KERAS_BACKEND={shown(backend, 40)} asks Keras for another backend, and convinspect's Keras engine "
            "runs on TensorFlow: unset KERAS_BACKEND or set it to tensorflow (or use --engine analytic)"
        )
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


def release() -> None:
    """Drop Keras' global state (every layer built so far): keeps a long check run's memory flat."""
    keras, _, _ = load()
    keras.utils.clear_session(free_memory=True)


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


def _shape(shape: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in shape)


def inspect(
    spec: LayerSpec, *, forward: Forward = Forward.AUTO, budget: int = DEFAULT_BUDGET, seed: int | None = None,
    explain: bool = False,
) -> Report:  # fmt: skip
    """Build the real Keras layer for `spec`, call it once, and report its variables.

    With `explain`, also record the lazy-build story as it happens (see `_story`).
    """
    keras, np, versions = load()
    return _inspect(keras, np, versions, spec, forward, budget, seed, explain)


def _dummy(np: Any, shape: tuple[int | None, ...], dtype: str, seed: int | None) -> Any:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)


def _probe(tf: Any, np: Any, cls: Any, spec: LayerSpec, dtype: str, budget: int, seed: int | None) -> Runtime:
    """Whether TensorFlow runs this layer, observed on the smallest input it takes (batch 1, each
    spatial axis max(2, effective kernel)), when the real input is too big for an eager pass.
    A probe that would itself pass the budget is not run; the rules predict the verdict instead."""
    config = spec.config
    spatial = tuple(max(2, effective_kernel(k, d)) for k, d in zip(config.kernel_size, config.dilation_rate))
    shape = spec.data_format.assemble(1, spatial, spec.channels)
    layer = cls(**spec.keras_kwargs())
    output = _shape(layer.compute_output_shape(shape))
    if eager_bytes(math.prod(shape), math.prod(output), dtype) > budget:  # type: ignore[arg-type]
        return arithmetic.runtime(spec)
    try:
        layer(_dummy(np, shape, dtype, seed))
    except tf.errors.OpError as err:
        return observed_failure(str(err))
    return Runtime(runs=True, observed=True)


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
        "channel_axis": spec.data_format.channel_axis,
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
    forward: Forward, budget: int, seed: int | None, explain: bool = False,
) -> Report:  # fmt: skip
    import tensorflow as tf

    if seed is not None:
        keras.utils.set_random_seed(seed)
    cls = getattr(keras.layers, spec.kind.class_name)
    try:
        layer = cls(**spec.keras_kwargs())
    except (ValueError, TypeError) as err:
        raise rejected(err, "layer") from None
    before = _variables(layer)
    constructed: dict[str, Any] = {}
    build_calls: list[Any] = []
    if explain:  # read the fresh layer before anything builds it
        constructed = _constructed(layer)
        _record_build(layer, build_calls)
    try:
        predicted = _shape(layer.compute_output_shape(spec.input_shape))
    except ValueError as err:
        raise rejected(err, "input") from None
    arithmetic.check_runnable(spec, predicted)
    choice = choose_forward(spec, predicted, forward, budget)
    symbolic = keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype)
    try:
        if choice.mode is Forward.EAGER:
            try:
                output = layer(_dummy(np, spec.input_shape, layer.compute_dtype, seed))
                runtime = Runtime(runs=True, observed=True)
            except tf.errors.OpError as err:  # valid for Keras, refused by TensorFlow's kernels
                runtime = observed_failure(str(err))
                output = layer(symbolic)  # the layer is built; its output shape is still Keras' to say
        else:
            output = layer(symbolic)
            runtime = _probe(tf, np, cls, spec, layer.compute_dtype, budget, seed)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
        raise rejected(err, "input") from None
    except Exception as err:  # any other failure is TensorFlow's, not the user's
        raise BackendError(
            f"TensorFlow failed during the {choice.mode} forward pass: {type(err).__name__}: {err}"
        ) from None
    output_shape = _shape(output.shape)
    arithmetic.check_runnable(spec, output_shape)
    after = _variables(layer)
    config = LayerConfig.from_keras(layer.get_config(), layer.dtype_policy.name)
    measures = measure(
        spec.kind, config, spec.input_shape, output_shape, {v.name: v.shape for v in after},
        sum(v.bytes for v in after), str(layer.dtype_policy.variable_dtype), str(layer.compute_dtype),
    )  # fmt: skip
    steps = _story(keras, cls, spec, constructed, layer, build_calls, output_shape, measures.layouts) if explain else ()
    return Report(
        kind=spec.kind,
        name=layer.name,
        config=config,
        engine=Engine.KERAS,
        forward=choice,
        input_shape=spec.input_shape,
        output_shape=output_shape,
        variables_before=before,
        variables_after=after,
        versions=dict(versions),
        measures=measures,
        runtime=runtime,
        story=steps,
    )
