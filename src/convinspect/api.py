"""The public entry point: spec -> engine(s) -> Report."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from convinspect.core.report import Report, compare
from convinspect.core.spec import LayerSpec, parse_choice, parse_spec
from convinspect.engines import analytic
from convinspect.engines import keras as keras_engine
from convinspect.engines.keras import DEFAULT_BUDGET
from convinspect.errors import BackendError, InvalidInput

ENGINES = ("keras", "analytic", "both")


def inspect_layer(
    spec: LayerSpec | Mapping[str, object],
    *,
    engine: str = "keras",
    forward: str = "auto",
    budget: int = DEFAULT_BUDGET,
    seed: int | None = None,
    explain: bool = False,
) -> Report:
    """Inspect one conv layer.

    `spec` is a LayerSpec or a mapping of option values (`{"filters": 64, "kernel": 5,
    "input": "2,32,32,1"}`). `engine` is `keras` (build the real layer), `analytic`
    (arithmetic only, no TensorFlow) or `both` (run both; any disagreement raises
    BackendError). `explain` adds the lazy-build story (observed with Keras, computed
    without). Raises InvalidInput for configs Keras would reject.
    """
    if not isinstance(spec, LayerSpec):
        spec = parse_spec(spec)
    engine = parse_choice(engine, "engine", ENGINES)
    if engine == "analytic":
        return analytic.inspect(spec, explain=explain)
    # The Keras engine imports TensorFlow inside inspect(), never at import time.
    if engine == "keras":
        return keras_engine.inspect(spec, forward=forward, budget=budget, seed=seed, explain=explain)
    return _both(spec, forward=forward, budget=budget, seed=seed, explain=explain)


def _both(spec: LayerSpec, *, forward: str, budget: int, seed: int | None, explain: bool) -> Report:
    verdicts: dict[str, Report | InvalidInput] = {}
    for name in ("keras", "analytic"):
        try:
            if name == "keras":
                verdicts[name] = keras_engine.inspect(spec, forward=forward, budget=budget, seed=seed, explain=explain)
            else:
                verdicts[name] = analytic.inspect(spec)
        except InvalidInput as err:
            verdicts[name] = err
    keras_result, analytic_result = verdicts["keras"], verdicts["analytic"]
    if isinstance(keras_result, InvalidInput) and isinstance(analytic_result, InvalidInput):
        raise keras_result
    if isinstance(keras_result, InvalidInput) or isinstance(analytic_result, InvalidInput):
        rejected, accepted = ("keras", "analytic") if isinstance(keras_result, InvalidInput) else ("analytic", "keras")
        reason = verdicts[rejected]
        raise BackendError(f"engines disagree: {accepted} accepted the layer, {rejected} rejected it ({reason})")
    fields = compare(keras_result, analytic_result)
    if fields:
        k, a = keras_result.to_dict(), analytic_result.to_dict()
        detail = "; ".join(f"{f}: keras {_lookup(k, f)!r}, analytic {_lookup(a, f)!r}" for f in fields[:5])
        raise BackendError(f"engines disagree on {len(fields)} field(s): {detail}")
    note = "analytic engine agrees with Keras on every shared field"
    return dataclasses.replace(keras_result, notes=(*keras_result.notes, note))


def _lookup(data: object, path: str) -> object:
    """Follow a dotted/indexed path such as `variables_after[0].shape[2]`."""
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            data = data[index] if isinstance(data, list) and index < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data
