"""The Keras session of this process: which backend, which TensorFlow CPU kernels, Keras loaded once.

Keras binds its backend when it is first imported and TensorFlow reads its oneDNN switch once, so
both are chosen here before the import, and a request this process can no longer honour is refused.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import sys
from collections.abc import Iterator
from typing import Any

from convinspect.core.layer.runtime import DTYPE_FEATURES, ENV, CpuKernels, KernelChoice, choose_kernels
from convinspect.core.vocab.text import shown
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


def rejections() -> tuple[type[Exception], ...]:
    _, _, versions = load()
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        return (ValueError, TypeError, tf.errors.InvalidArgumentError)
    return (ValueError, TypeError)


def release() -> None:
    """Drop Keras' global state (every layer built so far): keeps a long check run's memory flat."""
    keras, _, _ = load()
    keras.utils.clear_session(free_memory=True)


_COUNTERS = "object_name_uids"  # Keras' global name counters (keras/src/utils/naming.py)


def _counters() -> Any:
    state = sys.modules.get("keras.src.backend.common.global_state")
    return None if state is None else state.get_global_attribute(_COUNTERS)


@contextlib.contextmanager
def names_kept() -> Iterator[None]:
    """Keras' global name counters as they were before the block, whether Keras was loaded or not:
    the inputs, clones and graphs built to read a user's model must not rename their next layer."""
    saved = copy.copy(_counters())
    try:
        yield
    finally:
        state = sys.modules.get("keras.src.backend.common.global_state")
        if state is not None:
            state.set_global_attribute(_COUNTERS, saved)
