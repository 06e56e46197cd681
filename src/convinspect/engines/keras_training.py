"""`--training --measure`: XLA's memory figures for the model's real train step.

Keras binds one backend per process, so the step is compiled in a child on Keras' JAX backend:
the model is loaded as the Keras engine loads it, compiled with the optimizer and a mean
squared error loss, and Keras' own `train_step` is lowered with `jax.jit(..., donate_argnums=0)`
as `fit()` does, on abstract arrays (nothing is allocated or run). `memory_analysis()` of the
compiled step gives the argument, output, aliased and temporary bytes; the peak is
arguments + outputs - aliased + temporaries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from convinspect.core.model.graph import Shape
from convinspect.core.model.training import OptimizerChoice
from convinspect.core.vocab.text import shown
from convinspect.engines.session import installed
from convinspect.errors import BackendError, InvalidInput

_CHILD = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from convinspect.engines.keras_training import child; child()"
)
NO_JAX = "compiling the train step needs Keras' JAX backend, and JAX is not installed: pip install 'convinspect[jax]'"
MEASURING = "measuring: compiling the train step with XLA on Keras' JAX backend"


def measure(
    source: str, input_shape: Shape | None, batch: int, optimizer: OptimizerChoice, *, unsafe: bool = False,
    imports: Sequence[str] = (), progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """XLA's figures for one train step at `batch` (a child process on the JAX backend)."""
    if not installed("jax"):
        raise InvalidInput(NO_JAX, "measure")
    if progress is not None:
        progress(MEASURING, 0, 0)
    request = {
        "source": source, "input": None if input_shape is None else list(input_shape), "batch": batch,
        "optimizer": optimizer.name, "options": dict(optimizer.options), "unsafe": unsafe, "imports": list(imports),
    }  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(request)], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise BackendError(f"the XLA measurement ended with exit {proc.returncode}"
                           + (f": {lines[-1][:300]}" if lines else "")) from None  # fmt: skip
    if "error" in answer:
        error = InvalidInput if answer.get("invalid") else BackendError
        raise error(str(answer["error"]), "measure" if answer.get("invalid") else None)
    return dict(answer["measured"])


# -- the child ----------------------------------------------------------------------------


def child() -> None:
    """Read the request from argv, print one JSON line: {"measured": {...}} or {"error": ...}."""
    import io

    request = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    sys.stdout = io.StringIO()  # the user's code and Keras may print; the answer is the last line
    try:
        answer: dict[str, Any] = {"measured": _measure(request)}
    except InvalidInput as err:
        answer = {"error": str(err), "invalid": True}
    except BackendError as err:
        answer = {"error": str(err)}
    except Exception as err:
        answer = {"error": f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"}
    sys.stdout = real_stdout
    print(json.dumps(answer))


def _optimizer(keras: Any, name: str, options: dict[str, Any]) -> Any:
    config = {k: v for k, v in options.items() if k not in ("gradient_accumulation_steps", "exclude_layers")}
    if options.get("gradient_accumulation_steps"):
        config["gradient_accumulation_steps"] = int(options["gradient_accumulation_steps"])
    if options.get("exclude_layers"):
        config["exclude_layers"] = [options["exclude_layers"]]
    return getattr(keras.optimizers, name)(**config)


def _measure(request: dict[str, Any]) -> dict[str, Any]:
    from convinspect.engines import session
    from convinspect.engines.loading import import_modules, real_model
    from convinspect.engines.sources import resolve

    begun = time.perf_counter()
    session.select_backend("jax")
    keras, numpy, versions = session.load()
    import jax

    import_modules(request["imports"])
    shape = None if request["input"] is None else tuple(request["input"])
    model, _ = real_model(resolve(request["source"]), shape, unsafe=request["unsafe"])
    batch = int(request["batch"])

    def spec(tensor: Any) -> tuple[int, ...]:
        dims = tuple(tensor.shape[1:])
        if any(d is None for d in dims):
            raise InvalidInput(f"{shown(tensor.name)} has an unknown size {list(tensor.shape)}: give --input")
        return (batch, *dims)

    inputs = [(spec(t), str(t.dtype)) for t in model.inputs]
    outputs = [(spec(t), "float32") for t in model.outputs]
    model.compile(optimizer=_optimizer(keras, request["optimizer"], request["options"]), loss="mse")

    def data(specs: list[tuple[tuple[int, ...], str]], make: Callable[..., Any]) -> Any:
        arrays = [make(s, d) for s, d in specs]
        return arrays[0] if len(arrays) == 1 else arrays

    one = [((1, *s[1:]), d) for s, d in inputs], [((1, *s[1:]), d) for s, d in outputs]
    model._symbolic_build(data_batch=(data(one[0], numpy.zeros), data(one[1], numpy.zeros)))
    model.optimizer.build(model.trainable_variables)
    state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                 optimizer_variables=True, metrics_variables=True)  # fmt: skip
    abstract: Callable[..., Any] = jax.ShapeDtypeStruct
    state = jax.tree_util.tree_map(lambda a: abstract(a.shape, a.dtype), state)
    batch_data = (data(inputs, abstract), data(outputs, abstract))
    started = time.perf_counter()
    prepared = started - begun
    compiled = jax.jit(model.train_step, donate_argnums=0).lower(state, batch_data).compile()
    seconds = time.perf_counter() - started
    figures = compiled.memory_analysis()
    if figures is None:
        raise BackendError("XLA gave no memory analysis for the compiled step")
    arguments = int(figures.argument_size_in_bytes)
    out = int(figures.output_size_in_bytes)
    alias = int(figures.alias_size_in_bytes)
    temp = int(figures.temp_size_in_bytes)
    return {
        "arguments": arguments, "outputs": out, "aliased": alias, "temporaries": temp,
        "peak": arguments + out - alias + temp, "compile_seconds": round(seconds, 3),
        "load_seconds": round(prepared, 3),
        "weights": sum(int(v.value.nbytes) for v in model.weights),
        "optimizer": sum(int(v.value.nbytes) for v in model.optimizer.variables),
        "optimizer_class": type(model.optimizer).__name__, "jax": jax.__version__, "keras": versions.get("keras"),
    }  # fmt: skip
