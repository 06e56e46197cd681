"""The Keras engine: build the real layer, run a dummy forward pass, read its variables.

The only module that imports TensorFlow, and only when a Keras report is asked for.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from typing import Any

from convinspect.core.layer import arithmetic, story, xla
from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.forward import DEFAULT_BUDGET, ForwardChoice, choose_forward, pass_bytes
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.measures import measure
from convinspect.core.layer.report import Constructed, ExplicitBuild, FirstCall, Report, Step, SymbolicInput
from convinspect.core.layer.runtime import (
    DTYPE_FEATURES,
    ENV,
    CpuKernels,
    KernelChoice,
    Rule,
    Runtime,
    choose_kernels,
    crash_observed,
    crash_predicted,
    known_crash,
    observed_failure,
)
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Variable
from convinspect.core.layer.verify import Verification, tolerance
from convinspect.core.vocab.choices import Engine, Forward
from convinspect.core.vocab.text import shown
from convinspect.core.vocab.units import human_bytes
from convinspect.engines.machine import set_switch, switch_was_set, this_machine
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


# Keras' backends, and the package each needs (Keras' NumPy backend runs convolutions with jax.lax).
BACKENDS = ("tensorflow", "jax", "numpy", "torch")
PACKAGES = {"tensorflow": ("tensorflow", "tensorflow"), "jax": ("jax", "'convinspect[jax]'"),
            "numpy": ("jax", "'convinspect[jax]'"), "torch": ("torch", "torch")}  # fmt: skip


def backend_name(raw: object, option: str | None = "backend", extra: tuple[str, ...] = ()) -> str:
    """A backend's name; `option` None means it came from KERAS_BACKEND; `extra` names more choices."""
    name = str(raw).strip().lower()
    if name not in BACKENDS:
        where = "unknown backend" if option is not None else "KERAS_BACKEND is set to"
        raise InvalidInput(f"{where} {shown(raw, 40)}; expected one of {', '.join(BACKENDS + extra)}", option)
    return name


def installed(name: str) -> bool:
    """Whether the packages backend `name` needs can be imported (without importing them)."""
    package = PACKAGES[name][0]
    if package in sys.modules:  # imported already, or blocked (None)
        return sys.modules[package] is not None
    return _findable(package)


@functools.lru_cache(maxsize=8)
def _findable(package: str) -> bool:
    """Whether `package` can be imported: asked once per process (a search of sys.path)."""
    import importlib.util

    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def select_backend(name: str | None) -> str:
    """Choose Keras' backend before Keras is imported (KERAS_BACKEND, else tensorflow).

    Keras binds a backend when it is imported, so a process keeps the first one it loads."""
    requested = resolve_backend(name)
    loaded = sys.modules.get("keras")
    if loaded is not None:
        current = loaded.backend.backend()
        if current != requested:
            raise BackendError(
                f"Keras is already loaded with the {current} backend in this process, and a process keeps its "
                f"first backend; run {requested} in a new process (the command line does: --backend all)"
            )
    os.environ["KERAS_BACKEND"] = requested
    return requested


def resolve_backend(name: str | None) -> str:
    """The backend `name` (or KERAS_BACKEND, else tensorflow) names, refused when it is not installed."""
    from_option = name is not None
    requested = backend_name(name if from_option else os.environ.get("KERAS_BACKEND") or "tensorflow",
                             "backend" if from_option else None)  # fmt: skip
    if not installed(requested):
        package, spec = PACKAGES[requested]
        if from_option:  # asked for on the command line: a bad option value
            raise InvalidInput(f"the {requested} backend needs {package}, which is not installed: pip install {spec}",
                               "backend")  # fmt: skip
        if requested == "tensorflow":  # the default: the environment is incomplete
            raise BackendError("TensorFlow/Keras is not available (no tensorflow module); install with: "
                               "pip install 'tensorflow>=2.16'")  # fmt: skip
        raise InvalidInput(f"KERAS_BACKEND={requested} needs {package}, which is not installed: pip install {spec}")
    return requested


def select_kernels(requested: CpuKernels, backend: str) -> None:
    """Set TensorFlow's oneDNN switch for --cpu-kernels before TensorFlow is imported (it reads
    TF_ENABLE_ONEDNN_OPTS once per process); refuse a request this process can no longer honour."""
    if not kernels_request(requested, backend):
        return
    wanted = requested is CpuKernels.ONEDNN
    if "tensorflow" not in sys.modules:
        set_switch("1" if wanted else "0")
        return
    if onednn_switch() != wanted:
        raise InvalidInput(
            f"TensorFlow is already loaded in this process with oneDNN {'off' if wanted else 'on'}, and it reads "
            f"{ENV} once; run it in a new process with {ENV}={int(wanted)}, or predict with --engine analytic",
            "cpu_kernels",
        )


def kernels_request(requested: CpuKernels, backend: str) -> bool:
    """Whether --cpu-kernels asks for a kernel set; refused on a backend that has none."""
    if requested is CpuKernels.AUTO:
        return False
    if backend != "tensorflow":
        raise InvalidInput(f"chooses TensorFlow's CPU kernels; the {backend} backend has none (use auto)",
                           "cpu_kernels")  # fmt: skip
    return True


def onednn_switch() -> bool | None:
    """TensorFlow's own oneDNN flag (IsMklEnabled), once TensorFlow is loaded; None when it cannot say."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def kernels(compute_dtype: str, requested: CpuKernels) -> KernelChoice:
    """The kernel set TensorFlow in this process runs `compute_dtype` on, with its own oneDNN flag."""
    observed = onednn_switch()
    choice = choose_kernels(this_machine(), compute_dtype, requested, observed)
    if requested is CpuKernels.AUTO and switch_was_set() and observed is not None:
        default = choose_kernels(this_machine(), compute_dtype).onednn
        if default != observed:  # an earlier --cpu-kernels request set this process's switch
            raise InvalidInput(
                f"auto means this machine's kernels, but TensorFlow in this process was started with oneDNN "
                f"{'on' if observed else 'off'} for an earlier cpu_kernels request, and reads {ENV} once; give "
                "this entry cpu_kernels too, or check it in a run of its own",
                "cpu_kernels",
            )
    if requested is CpuKernels.ONEDNN and choice.onednn and not choice.takes_dtype and compute_dtype in DTYPE_FEATURES:
        raise InvalidInput(
            f"TensorFlow cannot run {compute_dtype} on oneDNN on this CPU: {choice.because}; "
            "predict another machine's verdict with --engine analytic",
            "cpu_kernels",
        )
    return choice


@functools.lru_cache(maxsize=1)
def load() -> tuple[Any, Any, dict[str, str | None]]:
    """Import Keras on the chosen backend once: (keras, numpy, versions).

    Only log levels are set here; a program that calls the API keeps its own stderr
    (the command line silences file descriptor 2 itself, see convinspect/streams.py).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    backend = select_backend(None)
    try:
        import keras
        import numpy
    except ImportError as err:
        raise BackendError(f"Keras is not available ({err}); install with: pip install 'tensorflow>=2.16'") from None
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    if not keras.__version__.startswith("3."):
        raise BackendError(f"convinspect needs Keras 3; found Keras {keras.__version__}")
    tensorflow = __import__("tensorflow") if backend == "tensorflow" else None
    if tensorflow is None and "tensorflow" not in sys.modules:
        # Keras' serializer asks whether TensorFlow is importable (to recognise tf.TensorShape), which
        # imports it: 2 s and 400 MiB for nothing on another backend. A conv layer holds no TF objects.
        from keras.src.utils import module_utils

        module_utils.tensorflow._available = False
    package = "numpy" if backend == "numpy" else PACKAGES[backend][0]
    module = sys.modules.get(package) or __import__(package)
    versions = {
        "convinspect": __version__, "keras": keras.__version__,
        "tensorflow": None if tensorflow is None else tensorflow.__version__,
        "backend": backend, "backend_version": getattr(module, "__version__", None),
    }  # fmt: skip
    return keras, numpy, versions


def loaded_backend() -> str:
    """The backend Keras runs on in this process (loading Keras first if it is not yet)."""
    return str(load()[2]["backend"])


def backend_errors() -> tuple[type[Exception], ...]:
    """What the backend raises when its kernels refuse a layer Keras accepted."""
    _, _, versions = load()
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        return (tf.errors.OpError,)
    return (RuntimeError, NotImplementedError)


def _rejections() -> tuple[type[Exception], ...]:
    _, _, versions = load()
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        return (ValueError, TypeError, tf.errors.InvalidArgumentError)
    return (ValueError, TypeError)


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
    explain: bool = False, verify: bool = False, cpu_kernels: CpuKernels = CpuKernels.AUTO,
    crashed: str | None = None, run_known_crashes: bool = False,
) -> Report:  # fmt: skip
    """Build the real Keras layer for `spec`, call it once, and report its variables.

    With `explain`, also record the lazy-build story as it happens (see `_story`); with
    `verify`, also check its output against the float64 reference (see `_verify`).
    `crashed` (a signal's name) says the forward pass killed an earlier process
    (engines/worker.py): the layer is then built and called symbolically only, no kernel runs.
    A layer the rules know to crash TensorFlow here (runtime.KNOWN_CRASHES) is not run either, and
    its runtime is the prediction, unless `run_known_crashes` (benchmarks/runtime_rules.py, in a
    worker that may die) asks to see it happen.
    """
    _fits_in_memory(spec)
    keras, np, versions = load()
    backend = str(versions["backend"])
    cpu = kernels(spec.compute_dtype, cpu_kernels) if backend == "tensorflow" else None
    dead = None if crashed is None else crash_observed(crashed, backend, cpu)
    if dead is None and cpu is not None and not run_known_crashes and arithmetic.runtime(spec, cpu).crashed:
        known = known_crash(spec.kind.class_name, spec.config.dilation_rate, cpu)
        assert known is not None
        dead = crash_predicted(known, cpu)  # never run what kills the process: say what would happen
    if dead is None and backend == "jax" and not run_known_crashes and xla.aborts(spec):
        dead = xla.abort_predicted()
    report = _inspect(keras, np, versions, spec, forward, budget, seed, explain, cpu, dead)
    if not verify:
        return report
    if not report.runtime.runs:  # nothing to compare: say so rather than pass quietly
        on = "" if cpu is None else f" on its {cpu.kernels.label} CPU kernels"
        skipped = Verification(None, 0.0, 0.0, 0.0, spec.compute_dtype, _terms(spec), tuple(
            1 if d is None else d for d in spec.input_shape), False, False, None, backend,
            skipped=f"{backend} cannot run this layer{on} ({report.runtime.rule})")  # fmt: skip
        return dataclasses.replace(report, verification=skipped)
    return dataclasses.replace(report, verification=_verify(keras, np, spec, budget, seed, backend))


def _fits_in_memory(spec: LayerSpec) -> None:
    """The real layer's variables must fit in this machine's memory: Keras would try to allocate them."""
    from convinspect.core.layer.arithmetic import variable_shapes
    from convinspect.core.vocab.dtypes import itemsize
    from convinspect.core.vocab.units import human_bytes
    from convinspect.engines.machine import physical_memory

    memory = physical_memory()
    count = sum(math.prod(shape) for _, shape in variable_shapes(spec))
    need = count * itemsize(spec.variable_dtype)
    if memory is not None and need > memory:
        raise InvalidInput(
            f"the layer's variables need {human_bytes(need)} ({count:,} parameters), more than this machine's "
            f"{human_bytes(memory)} of memory, so Keras cannot build it; --engine analytic sizes it without building"
        )


def _terms(spec: LayerSpec) -> int:
    """Products summed into one output: what rounding errors accumulate over."""
    c = spec.config
    taps = math.prod(c.kernel_size)
    channels = spec.channels
    family = spec.kind.family.value
    if family == "conv":
        return taps * channels // (c.groups or 1)
    if family == "depthwise":
        return taps
    if family == "separable":
        return taps + channels * (c.depth_multiplier or 1)
    return taps * channels


def _float64(keras: Any, tensor: Any) -> Any:
    """A backend tensor's exact values as a float64 NumPy array (16-bit floats widen exactly via float32)."""
    if keras.backend.standardize_dtype(tensor.dtype) != "float64":
        tensor = keras.ops.cast(tensor, "float32")
    return keras.ops.convert_to_numpy(tensor).astype("float64")


def _without_activation(keras: Any, spec: LayerSpec, layer: Any) -> Any:
    """The same layer, with the same weights, and a linear activation."""
    bare = getattr(keras.layers, spec.kind.class_name)(**dict(spec.keras_kwargs(), activation="linear"))
    bare.build(spec.input_shape)
    for mine, theirs in zip(bare.weights, layer.weights):
        mine.assign(theirs)
    return bare


def _verify(keras: Any, np: Any, spec: LayerSpec, budget: int, seed: int | None, backend: str) -> Verification:
    """Seeded random weights and input, the real forward pass, and the float64 reference beside it.

    The real input is used when its forward pass fits the budget; otherwise a probe with the same
    configuration: batch 1, each spatial axis twice the effective kernel (at least 4)."""
    from convinspect.engines import reference

    shape = tuple(1 if d is None else d for d in spec.input_shape)
    out = arithmetic.output_shape(dataclasses.replace(spec, input_shape=shape))
    probe = pass_bytes(spec, shape, out) > budget
    if probe:
        c = spec.config
        spatial = tuple(max(4, 2 * effective_kernel(k, d)) for k, d in zip(c.kernel_size, c.dilation_rate))
        shape = spec.data_format.assemble(1, spatial, spec.channels)  # type: ignore[assignment]
        small = dataclasses.replace(spec, input_shape=shape)
        if pass_bytes(small, shape, arithmetic.output_shape(small)) > budget:
            raise InvalidInput(f"even a probe of this layer (input {shape}) would allocate more than the budget of "
                               f"{human_bytes(budget)}; raise --budget to verify it", "verify")  # fmt: skip
    spec = dataclasses.replace(spec, input_shape=shape)
    rng = np.random.default_rng(0 if seed is None else seed)
    layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
    layer.build(shape)
    terms = _terms(spec)
    weights = {}
    for variable in layer.weights:
        scale = 1.0 if variable.name == "bias" else 1 / math.sqrt(terms)  # outputs of order 1
        variable.assign(keras.ops.cast(rng.standard_normal(tuple(variable.shape)) * scale, variable.dtype))
        weights[variable.name] = _float64(keras, variable)
    x = keras.ops.cast(rng.standard_normal(shape), layer.compute_dtype)
    x64 = _float64(keras, x)
    try:
        y = layer(x)
    except Exception as err:  # the backend could not run it after all
        raise BackendError(f"{backend} failed while verifying: {type(err).__name__}: {err}") from None
    # The dtype the backend really computed in (JAX computes float64 layers in float32 unless
    # JAX_ENABLE_X64 is set): rounding is judged by it.
    computed = keras.backend.standardize_dtype(y.dtype)
    real = _float64(keras, y)
    expected, activation_checked = reference.forward(spec, x64, weights, real.shape)
    if not activation_checked:  # compare before the activation: run the layer again without it
        real = _float64(keras, _without_activation(keras, spec, layer)(x))
    error = real - expected
    # Rounding error grows with the sum of |products| an output adds, not with the output: where they
    # cancel, the output is small and its error is not. The same layer on |x| and |w| gives those sums.
    absolute = {name: np.abs(value) for name, value in weights.items()}
    magnitude, _ = reference.forward(spec, np.abs(x64), absolute, real.shape, activate=False)
    scale = max(float(np.abs(expected).max()), float(np.abs(magnitude).max())) or 1.0
    max_abs = float(np.abs(error).max()) if np.isfinite(error).all() else float("inf")
    limit = tolerance(computed if computed in ("float64", "float32", "float16", "bfloat16") else "float32", terms)
    ok = max_abs / scale <= limit
    found = None
    if not ok:  # where the error sits, judged before the activation (a bias is added before it)
        if activation_checked and spec.config.activation != "linear":
            pre, _ = reference.forward(spec, x64, weights, real.shape, activate=False)
            error, expected = _float64(keras, _without_activation(keras, spec, layer)(x)) - pre, pre
        atol = max(limit * float(np.abs(expected).max() or 1.0), 1e-12)
        found = reference.finding(error, expected, weights.get("bias"), spec.data_format.channel_axis, atol)
    return Verification(ok, max_abs, max_abs / scale, limit, computed, terms, shape, probe,
                        activation_checked, found, backend)  # fmt: skip


def _dummy(np: Any, shape: tuple[int | None, ...], dtype: str, seed: int | None) -> Any:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)


def _probe(
    np: Any, cls: Any, spec: LayerSpec, dtype: str, budget: int, seed: int | None, backend: str,
    cpu: KernelChoice | None,
) -> Runtime:  # fmt: skip
    """Whether TensorFlow runs this layer, observed on the smallest input it takes (batch 1, each
    spatial axis max(2, effective kernel)), when the real input is too big for an eager pass.
    A probe that would itself pass the budget is not run; the rules predict the verdict instead."""
    config = spec.config
    spatial = tuple(max(2, effective_kernel(k, d)) for k, d in zip(config.kernel_size, config.dilation_rate))
    shape = spec.data_format.assemble(1, spatial, spec.channels)
    layer = cls(**spec.keras_kwargs())
    output = _shape(layer.compute_output_shape(shape))
    if pass_bytes(spec, shape, output) > budget:
        # The rules describe TensorFlow's CPU kernels; other backends are not predicted.
        return arithmetic.runtime(spec, cpu) if cpu is not None else Runtime(True, False, backend=backend)
    try:
        layer(_dummy(np, shape, dtype, seed))
    except backend_errors() as err:
        return _failure(str(err), backend, cpu)
    return Runtime(runs=True, observed=True, backend=backend, kernels=cpu)


def _failure(message: str, backend: str, cpu: KernelChoice | None) -> Runtime:
    runtime = observed_failure(message, cpu)
    if backend == "tensorflow":
        return runtime
    return dataclasses.replace(runtime, backend=backend, rule=Rule.BACKEND)


def _constructed(layer: Any) -> tuple[bool, tuple[str, ...], str | None]:
    """What a freshly constructed layer shows (built, trainable variables), and count_params()' own complaint."""
    try:
        layer.count_params()
        error = None
    except ValueError as err:
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return bool(layer.built), tuple(v.path for v in layer.trainable_variables), error


def _record_build(layer: Any, calls: list[Any]) -> None:
    """Wrap this layer's build() so the shape Keras passes it is recorded."""
    original = layer.build

    def build(input_shape: Any) -> Any:  # one parameter: Keras hands it the first input's shape
        calls.append(input_shape)
        return original(input_shape)

    layer.build = build


def _story(
    keras: Any, cls: Any, spec: LayerSpec, constructed: tuple[bool, tuple[str, ...], str | None], layer: Any,
    build_calls: list[Any],
    output_shape: tuple[int | None, ...], layouts: tuple[Layout, ...],
) -> tuple[Step, ...]:  # fmt: skip
    """The four steps, each observed on a real layer: construct, first call, and two other triggers."""
    first_call = Step("first_call", True, FirstCall(
        spec.input_shape, _shape(build_calls[0]) if build_calls else None, spec.data_format.channel_axis,
        spec.channels, story.variable_facts(_variables(layer), layouts), bool(layer.built), output_shape,
    ))  # fmt: skip
    built_explicitly = cls(**spec.keras_kwargs())
    built_explicitly.build(spec.input_shape)
    explicit = Step("explicit_build", True, ExplicitBuild(
        spec.input_shape, bool(built_explicitly.built), story.variable_facts(_variables(built_explicitly), layouts),
    ))  # fmt: skip
    called_symbolically = cls(**spec.keras_kwargs())
    output = called_symbolically(keras.Input(shape=spec.input_shape[1:], batch_size=spec.batch))
    on_input = Step("symbolic_input", True, SymbolicInput(
        spec.input_shape[1:], spec.batch, type(output).__name__, _shape(output.shape),
        story.variable_facts(_variables(called_symbolically), layouts),
    ))  # fmt: skip
    construct = Step("construct", True, Constructed(story.constructor(spec), *constructed))
    return (construct, first_call, explicit, on_input)


def _inspect(
    keras: Any, np: Any, versions: dict[str, str | None], spec: LayerSpec,
    forward: Forward, budget: int, seed: int | None, explain: bool, cpu: KernelChoice | None,
    crashed: Runtime | None = None,
) -> Report:  # fmt: skip
    backend = str(versions["backend"])
    if seed is not None:
        keras.utils.set_random_seed(seed)
    cls = getattr(keras.layers, spec.kind.class_name)
    try:
        layer = cls(**spec.keras_kwargs())
    except (ValueError, TypeError) as err:
        raise rejected(err, "layer") from None
    before = _variables(layer)
    constructed: tuple[bool, tuple[str, ...], str | None] = (False, (), None)
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
    if crashed is None:
        output, runtime = _forward(keras, np, cls, layer, spec, choice, budget, seed, backend, cpu)
    else:  # the forward pass killed a process already: Keras' symbolic call gives the shapes
        output, runtime = layer(keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype)), crashed
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


def _forward(
    keras: Any, np: Any, cls: Any, layer: Any, spec: LayerSpec, choice: ForwardChoice, budget: int,
    seed: int | None, backend: str, cpu: KernelChoice | None,
) -> tuple[Any, Runtime]:  # fmt: skip
    """The forward pass the choice asks for: the output, and whether the backend ran the layer."""
    symbolic = keras.KerasTensor(spec.input_shape, dtype=layer.compute_dtype)
    try:
        if choice.mode is Forward.EAGER:
            try:
                output = layer(_dummy(np, spec.input_shape, layer.compute_dtype, seed))
                runtime = Runtime(runs=True, observed=True, backend=backend, kernels=cpu)
            except backend_errors() as err:  # valid for Keras, refused by the backend's kernels
                runtime = _failure(str(err), backend, cpu)
                output = layer(symbolic)  # the layer is built; its output shape is still Keras' to say
        else:
            output = layer(symbolic)
            runtime = _probe(np, cls, spec, layer.compute_dtype, budget, seed, backend, cpu)
    except _rejections() as err:
        verdict = rejected(err, "input")
        if backend != "tensorflow" and verdict.rule == "keras":  # not one of Keras' rules: the backend failed
            raise BackendError(f"{backend} failed during the {choice.mode} forward pass: {err}") from None
        raise verdict from None
    except Exception as err:  # any other failure is the backend's, not the user's
        raise BackendError(
            f"{backend} failed during the {choice.mode} forward pass: {type(err).__name__}: {err}"
        ) from None
    return output, runtime
