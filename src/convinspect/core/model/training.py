"""Training memory of a model's rows: weights, gradients, optimizer state, activations kept for the
backward pass, and the peak, at any batch.

Weights, gradients and optimizer state are exact: the optimizer's variables follow each Keras
optimizer's `build()` (one recipe per class below). Activations follow core/model/backward.py,
and the peak replays the walk's order: what is alive at each call of the forward pass, then at
each call of the backward pass in reverse, beside the arguments of the step (weights, optimizer
state, the batch and its targets) that live throughout. All of it is arithmetic on the rows, so
`--fit` searches the batch without walking again.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from convinspect.core.layer.variables import Variable
from convinspect.core.model.backward import NORMALIZATIONS, Keeps, Part
from convinspect.core.vocab.dtypes import itemsize
from convinspect.core.vocab.text import shown
from convinspect.core.vocab.units import human_bytes
from convinspect.errors import InvalidInput


class Row(Protocol):
    """What the memory of a step reads from a model's row (core/model/report.py's LayerRow)."""

    @property
    def key(self) -> str: ...
    @property
    def qualified(self) -> str: ...
    @property
    def class_name(self) -> str: ...
    @property
    def path(self) -> tuple[str, ...]: ...
    @property
    def container(self) -> bool: ...
    @property
    def outputs(self) -> tuple[tuple[int | None, ...], ...] | None: ...
    @property
    def weights(self) -> tuple[Variable, ...]: ...
    @property
    def reads(self) -> tuple[int, ...]: ...
    @property
    def writes(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def keeps(self) -> Keeps | None: ...
    @property
    def trains(self) -> bool: ...
    @property
    def same_as(self) -> str | None: ...


MAX_BATCH = 2**31 - 1  # a batch Keras' int32 shapes can hold
FIT_BATCH = 32  # Keras' fit() batch_size when none is given

Option = bool | int | float | str


# -- optimizers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """One Keras optimizer class: its slot variables per trainable variable (each of the variable's
    dtype), the options that change them, and scalars beyond `iteration` and `learning_rate`."""

    name: str  # the Keras class
    slots: Callable[[Variable, Mapping[str, Option]], tuple[tuple[int, ...], ...]]
    options: Mapping[str, Option] = field(default_factory=dict)  # the state-changing options and defaults
    scalars: tuple[str, ...] = ()  # more scalar variables, by dtype ("float" is the first variable's dtype)


def _full(
    count: int | Callable[[Mapping[str, Option]], int],
) -> Callable[[Variable, Mapping[str, Option]], tuple[tuple[int, ...], ...]]:
    def slots(variable: Variable, options: Mapping[str, Option]) -> tuple[tuple[int, ...], ...]:
        n = count(options) if callable(count) else count
        return (variable.shape,) * n

    return slots


def _adafactor(variable: Variable, options: Mapping[str, Option]) -> tuple[tuple[int, ...], ...]:
    shape = variable.shape
    if len(shape) < 2:  # two scalar placeholders (int32) and the velocity
        return ((-1,), (-1,), shape)
    return (shape[:-1], shape[:-2] + shape[-1:], shape)


def _muon(variable: Variable, options: Mapping[str, Option]) -> tuple[tuple[int, ...], ...]:
    """Momentum for every variable; an Adam velocity too for those Muon leaves to AdamW."""
    adam = len(variable.shape) != 2
    adam = adam or (bool(options["exclude_embeddings"]) and "embedding" in variable.path.lower())
    pattern = str(options["exclude_layers"])
    adam = adam or (bool(pattern) and re.search(pattern, variable.path) is not None)
    return (variable.shape,) * (2 if adam else 1)


OPTIMIZERS: dict[str, Recipe] = {
    recipe.name.lower(): recipe
    for recipe in (
        Recipe("SGD", _full(lambda o: 1 if float(o["momentum"]) != 0 else 0), {"momentum": 0.0}),
        Recipe(
            "RMSprop",
            _full(lambda o: 1 + (float(o["momentum"]) > 0) + bool(o["centered"])),
            {"momentum": 0.0, "centered": False},
        ),
        Recipe("Adam", _full(lambda o: 2 + bool(o["amsgrad"])), {"amsgrad": False}),
        Recipe("AdamW", _full(lambda o: 2 + bool(o["amsgrad"])), {"amsgrad": False}),
        Recipe("Adamax", _full(2)),
        Recipe("Adadelta", _full(2)),
        Recipe("Adagrad", _full(1)),
        Recipe("Adafactor", _adafactor),
        Recipe("Ftrl", _full(2)),
        Recipe("Lamb", _full(2)),
        Recipe("Lion", _full(1)),
        Recipe("Nadam", _full(2), scalars=("float",)),  # its u_product
        Recipe("Muon", _muon, {"exclude_embeddings": True, "exclude_layers": ""}),
        Recipe("ScheduleFreeAdamW", _full(2)),
    )
}
COMMON = {"use_ema": False, "gradient_accumulation_steps": 0}  # options every optimizer takes


@dataclass(frozen=True)
class OptimizerChoice:
    recipe: Recipe
    options: Mapping[str, Option]
    loss_scale: bool = False  # wrapped in a LossScaleOptimizer (a mixed_float16 model, as compile() does)

    @property
    def name(self) -> str:
        return self.recipe.name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options), "loss_scale": self.loss_scale}


def _option(name: str, raw: str, default: Option, optimizer: str) -> Option:
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() in ("", "true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise InvalidInput(f"{optimizer} option {name}={shown(raw, 40)}: expected true or false", "optimizer")
    if isinstance(default, str):
        try:
            re.compile(text)
        except re.error as err:
            raise InvalidInput(f"{optimizer} option {name}={shown(raw, 40)} is not a regular expression: {err}",
                               "optimizer") from None  # fmt: skip
        return text
    try:
        value = float(text) if isinstance(default, float) else int(text)
    except ValueError:
        kind = "a number" if isinstance(default, float) else "an integer"
        raise InvalidInput(f"{optimizer} option {name}={shown(raw, 40)}: expected {kind}", "optimizer") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{optimizer} option {name}={shown(raw, 40)}: expected a finite value >= 0", "optimizer")
    if name == "gradient_accumulation_steps" and value == 1:
        raise InvalidInput("gradient_accumulation_steps must be >= 2 (Keras' rule), or 0 for none", "optimizer")
    return value


def parse_optimizer(raw: str, loss_scale: bool = False) -> OptimizerChoice:
    """`NAME[:option=value,...]`, e.g. `adam`, `adam:amsgrad`, `sgd:momentum=0.9` (names as Keras spells
    its classes, any case)."""
    name, _, rest = str(raw).partition(":")
    recipe = OPTIMIZERS.get(name.strip().lower().replace("_", ""))
    if recipe is None:
        known = ", ".join(r.name for r in OPTIMIZERS.values())
        raise InvalidInput(f"unknown optimizer {shown(name, 40)}; known: {known}", "optimizer")
    allowed = {**recipe.options, **COMMON}
    options: dict[str, Option] = dict(allowed)
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in allowed:
            raise InvalidInput(f"{recipe.name} has no option {shown(key, 40)} that changes its state; "
                               f"known: {', '.join(allowed)}", "optimizer")  # fmt: skip
        options[key] = _option(key, value, allowed[key], recipe.name)
    return OptimizerChoice(recipe, options, loss_scale)


_NARROWED = {"int64": "int32", "uint64": "uint32", "float64": "float32"}  # JAX without jax_enable_x64


def held(variable: Variable, backend: str) -> Variable:
    """The variable as the backend holds it: JAX (64-bit types off, as Keras runs it) keeps int64 and
    float64 variables in 32 bits."""
    if backend == "jax" and variable.dtype in _NARROWED:
        return dataclasses.replace(variable, dtype=_NARROWED[variable.dtype])
    return variable


def int_bytes(backend: str) -> int:
    """Keras' "int" variables (the iteration count): int64 on TensorFlow, int32 elsewhere."""
    return 8 if backend == "tensorflow" else 4


def slot_bytes(choice: OptimizerChoice, variable: Variable) -> int:
    """The optimizer variables Keras creates for one trainable variable."""
    size = itemsize(variable.dtype)
    total = 0
    for shape in choice.recipe.slots(variable, choice.options):
        total += 4 if shape == (-1,) else math.prod(shape) * size  # (-1,): an int32 scalar placeholder
    options = choice.options
    total += variable.bytes * (bool(options["use_ema"]) + (int(options["gradient_accumulation_steps"]) >= 2))
    return total


def scalar_bytes(choice: OptimizerChoice, backend: str, first_dtype: str) -> int:
    """The optimizer's own scalars: iteration and learning_rate (and its recipe's, and a loss scale's)."""
    total = int_bytes(backend) + 4
    total += sum(itemsize(first_dtype) if kind == "float" else itemsize(kind) for kind in choice.recipe.scalars)
    if choice.loss_scale:  # LossScaleOptimizer: its own iteration and learning_rate, step_counter, dynamic_scale
        total += 2 * int_bytes(backend) + 2 * 4
    return total


# -- the memory of one step --------------------------------------------------------------


@dataclass(frozen=True)
class RowMemory:
    """One row's part: the bytes it owns, and what is in use at its heaviest moment."""

    weights: int
    gradients: int
    optimizer: int
    activations: int | None  # its outputs kept for the backward pass, and buffers of its own
    peak: int | None  # in use while this call runs, forward or backward (all of the step's memory)

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer,
                "activations": self.activations, "peak": self.peak}  # fmt: skip


@dataclass(frozen=True)
class TrainingMemory:
    batch: int
    batch_from: str  # "option", "input" or "default" (Keras fit()'s 32)
    optimizer: OptimizerChoice
    backend: str
    rows: Mapping[str, RowMemory]  # by row key
    weights: int
    gradients: int
    optimizer_bytes: int
    activations: int | None
    data: int | None  # the batch and its targets
    peak: int | None
    peak_at: str | None  # the row key where the peak is reached
    peak_pass: str | None  # "forward" or "backward"
    unruled: tuple[str, ...]  # row keys of calls with no activation rule: the figures leave them out
    measured: Mapping[str, Any] | None = None  # XLA's figures (--measure), beside the prediction
    fit: int | None = None  # --fit: the byte budget the batch was searched for

    @property
    def complete(self) -> bool:
        return not self.unruled and self.peak is not None

    def totals_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer_bytes,
            "activations": self.activations, "data": self.data,
            "peak": self.peak, "peak_at": self.peak_at, "peak_pass": self.peak_pass, "complete": self.complete,
            "no_rule": list(self.unruled), "batch": self.batch, "batch_from": self.batch_from,
            "optimizer_used": self.optimizer.to_dict(), "backend": self.backend,
        }  # fmt: skip
        if self.fit is not None:
            out["fit"] = {"budget": self.fit, "batch": self.batch}
        if self.measured is not None:
            out["measured"] = dict(self.measured)
            out["error"] = self.error
        return out

    @property
    def error(self) -> float | None:
        """(predicted - measured) / measured peak, when both are known."""
        if self.measured is None or self.peak is None or not self.measured.get("peak"):
            return None
        measured = int(self.measured["peak"])
        return round((self.peak - measured) / measured, 4)


def _per_example(shape: Sequence[int | None], dtype: str) -> int | None:
    if any(d is None for d in shape[1:]):
        return None
    return math.prod(shape[1:]) * itemsize(dtype)  # type: ignore[arg-type]


Bytes = tuple[int, int]  # (whatever the batch, per example): every figure of a step is affine in its batch


@dataclass(frozen=True)
class Step:
    """One train step of a model, counted once for any batch: each call's moments, its owned parts."""

    keys: tuple[str, ...]  # the leaf rows, in call order
    forward: tuple[Bytes, ...]  # per call: the memory in use while it runs forward
    backward: tuple[Bytes, ...]  # and while its backward step runs
    kept: tuple[Bytes, ...]  # per call: its outputs kept for the backward pass, and its own buffers
    owned: tuple[tuple[int, int, int], ...]  # per call: weights, gradients, optimizer state (bytes)
    state: int  # every variable and the optimizer's state: the step's arguments besides the batch
    gradients: int
    data: int  # per example: the batch and its targets
    targets: int  # per example: the targets (the loss reads them beside the heaviest moment)
    known: bool  # False: some size is unknown
    unruled: tuple[str, ...]

    def at(self, batch: int) -> int | None:
        if not self.known:
            return None
        return (
            max((self.moment(i, batch)[0] for i in range(len(self.keys))), default=0)
            + self.state
            + self.targets * batch
        )

    def moment(self, call: int, batch: int) -> tuple[int, str]:
        """The memory in use at a call's heavier moment (beside the step's state), and which pass it is in."""
        fixed, per = self.forward[call]
        forward = fixed + per * batch
        fixed, per = self.backward[call]
        backward = fixed + per * batch
        return (backward, "backward") if backward >= forward else (forward, "forward")


def _step(rows: Sequence[Row], choice: OptimizerChoice, backend: str) -> Step:
    """Replay the walk's calls: forward in order, then backward in reverse, tracking what is alive."""
    leaves = _merged([row for row in rows if not row.container])
    # a variable's Keras path (Muon tells embeddings and excluded layers apart by it), held as the backend holds it
    owned = [tuple(held(dataclasses.replace(w, path=w.path or f"{row.qualified}/{w.name}"), backend)
                   for w in row.weights) for row in leaves]  # fmt: skip
    known = True
    size: dict[int, int] = {}  # tensor -> bytes per example
    inputs: set[int] = set()
    for row in leaves:
        for tensor, shape in zip(row.writes, row.outputs or (), strict=False):
            per = _per_example(shape, row.dtype)
            known = known and per is not None
            size[tensor] = per or 0
        if row.class_name == "InputLayer":
            inputs.update(row.writes)
    outputs = _model_outputs(rows)

    # which tensors need a gradient; which are kept, until the backward step of which call
    needs: set[int] = set()
    keepers: dict[int, int] = {}  # tensor -> the earliest call whose backward step reads it
    own: list[Bytes] = [(0, 0)] * len(leaves)  # per call: its own buffers
    runs: list[bool] = []
    unruled = []
    normalized: set[int] = set()  # outputs of normalizations that keep their input (recomputable)
    biased: set[int] = set()  # outputs of a product plus a bias
    for i, row in enumerate(leaves):
        grad_in = any(t in needs for t in row.reads)
        runs.append(row.trains or grad_in)
        keeps = row.keeps
        if keeps is None:
            unruled.append(row.key)
        if runs[i]:
            needs.update(row.writes)
        if not runs[i] or keeps is None or getattr(row, "repeat", False):
            continue
        parts = (keeps.weights if row.trains else frozenset()) | (keeps.inputs if grad_in else frozenset())
        read = (row.reads if Part.INPUTS in parts else ()) + (row.writes if Part.OUTPUTS in parts else ())
        if keeps.elementwise:
            read = tuple(t for t in read if t not in normalized)
        if row.class_name in NORMALIZATIONS and Part.INPUTS in parts:
            normalized.update(row.writes)
        elif keeps.moves and row.reads and all(t in normalized for t in row.reads):
            normalized.update(row.writes)  # moved, not computed: recomputable as its inputs are
        copies = sum(size[t] for t in row.reads if t in biased) if keeps.sums and Part.INPUTS in parts else 0
        if keeps.biased:
            biased.update(row.writes)
        for tensor in read:
            keepers[tensor] = min(keepers.get(tensor, i), i)
        known = known and keeps.private is not None
        own[i] = (keeps.fixed, (keeps.private or 0) + copies)
    last_read: dict[int, int] = {}
    for i, row in enumerate(leaves):
        for tensor in row.reads:
            last_read[tensor] = i
    end = len(leaves)
    for tensor in outputs:
        last_read[tensor] = end  # the loss reads them
    released: dict[int, list[int]] = {}  # call -> the kept tensors its backward step is the last to read
    for tensor, keeper in keepers.items():
        if tensor not in inputs:
            released.setdefault(keeper, []).append(tensor)

    # forward: each call's outputs join what is alive; a tensor leaves after its last reader, unless kept
    live = {t: size[t] for t in inputs}
    live_per, own_fixed, own_per = sum(live.values()), 0, 0
    forward: list[Bytes] = []
    for i, row in enumerate(leaves):
        for tensor in row.writes:
            if tensor not in live:
                live[tensor] = size[tensor]
                live_per += size[tensor]
        own_fixed, own_per = own_fixed + own[i][0], own_per + own[i][1]
        forward.append((own_fixed, live_per + own_per))
        for tensor in (*row.reads, *row.writes):
            if tensor in live and tensor not in inputs and tensor not in keepers and last_read.get(tensor, -1) <= i:
                live_per -= live.pop(tensor)
    for tensor in outputs:  # the loss has read them
        if tensor in live and tensor not in keepers and tensor not in inputs:
            live_per -= live.pop(tensor)

    # backward, in reverse call order: the gradients of the tensors, and of the weights (kept to the update)
    row_grads = [sum(w.bytes for w in weights if w.trainable) for weights in owned]
    grads = {t: size[t] for t in outputs if t in needs}
    grads_per, weight_grads = sum(grads.values()), 0
    backward: list[Bytes] = [(0, 0)] * len(leaves)
    for i in range(end - 1, -1, -1):
        row = leaves[i]
        if not runs[i]:
            continue
        for tensor in row.reads:
            if tensor in needs and tensor not in grads:
                grads[tensor] = size[tensor]
                grads_per += size[tensor]
        weight_grads += row_grads[i]
        workspace = row.keeps.workspace if row.keeps is not None else 0
        backward[i] = (own_fixed + weight_grads + workspace, live_per + own_per + grads_per)
        for tensor in row.writes:
            if tensor in grads:
                grads_per -= grads.pop(tensor)
        for tensor in released.get(i, ()):
            if tensor in live:
                live_per -= live.pop(tensor)
        own_fixed, own_per = own_fixed - own[i][0], own_per - own[i][1]

    trainable = [w for weights in owned for w in weights if w.trainable]
    optimizer = sum(slot_bytes(choice, w) for w in trainable)
    optimizer += scalar_bytes(choice, backend, trainable[0].dtype if trainable else "float32")
    state = sum(w.bytes for weights in owned for w in weights) + optimizer
    kept = []
    for i, row in enumerate(leaves):  # a repeated call keeps nothing of its own: its tensors are the first's
        outputs_kept = 0 if getattr(row, "repeat", False) else sum(size[t] for t in row.writes if t in keepers)
        kept.append((own[i][0], own[i][1] + outputs_kept))
    return Step(
        keys=tuple(row.key for row in leaves), forward=tuple(forward), backward=tuple(backward), kept=tuple(kept),
        owned=tuple((sum(w.bytes for w in ws), row_grads[i], sum(slot_bytes(choice, w) for w in ws if w.trainable))
                    for i, ws in enumerate(owned)),
        state=state, gradients=sum(w.bytes for w in trainable), data=sum(size[t] for t in (*inputs, *outputs)),
        targets=sum(size[t] for t in outputs), known=known, unruled=tuple(unruled),
    )  # fmt: skip


@dataclass(frozen=True)
class _Alias:
    """A row read through XLA's eyes: a call that repeats an earlier one on the same inputs (NASNet's
    `relu(p)` in each branch) computes nothing new; its outputs are the earlier call's tensors."""

    row: Row
    reads: tuple[int, ...]
    writes: tuple[int, ...]
    repeat: bool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def _merged(leaves: Sequence[Row]) -> list[Any]:
    alias: dict[int, int] = {}
    seen: dict[tuple[str, tuple[int, ...]], tuple[int, ...]] = {}
    out: list[Any] = []
    for row in leaves:
        reads = tuple(alias.get(t, t) for t in row.reads)
        key = None if row.same_as is None else (row.same_as, reads)
        if key is not None and key in seen and len(seen[key]) == len(row.writes):
            alias.update(zip(row.writes, seen[key], strict=True))
            out.append(_Alias(row, reads, seen[key], True))
            continue
        if key is not None:
            seen[key] = row.writes
        out.append(_Alias(row, reads, row.writes, False) if reads != row.reads else row)
    return out


def training_memory(
    rows: Sequence[Row], batch: int, choice: OptimizerChoice, backend: str, batch_from: str = "option"
) -> TrainingMemory:
    """The step's memory at `batch`, from the walk's rows (their order is Keras' call order)."""
    check_batch(batch)
    return _memory(rows, _step(rows, choice, backend), batch, choice, backend, batch_from)


def _memory(
    rows: Sequence[Row], step: Step, batch: int, choice: OptimizerChoice, backend: str, batch_from: str
) -> TrainingMemory:
    per_row: dict[str, RowMemory] = {}
    peak_at, peak_pass, heaviest = None, None, -1
    for i, key in enumerate(step.keys):
        moment, pass_ = step.moment(i, batch)
        if moment > heaviest:
            heaviest, peak_at, peak_pass = moment, key, pass_
        kept = step.kept[i][0] + step.kept[i][1] * batch
        weights, gradients, optimizer = step.owned[i]
        in_use = moment + step.state + step.targets * batch  # the targets live throughout, as the batch does
        per_row[key] = RowMemory(weights, gradients, optimizer, kept if step.known else None,
                                 in_use if step.known else None)  # fmt: skip
    _containers(rows, per_row)
    optimizer_bytes = step.state - sum(o[0] for o in step.owned)
    activations = sum(f + p * batch for f, p in step.kept)
    return TrainingMemory(
        batch=batch, batch_from=batch_from, optimizer=choice, backend=backend, rows=per_row,
        weights=sum(o[0] for o in step.owned), gradients=step.gradients, optimizer_bytes=optimizer_bytes,
        activations=activations if step.known else None, data=step.data * batch if step.known else None,
        peak=step.at(batch), peak_at=peak_at if step.known else None, peak_pass=peak_pass if step.known else None,
        unruled=step.unruled,
    )  # fmt: skip


def _model_outputs(rows: Sequence[Row]) -> list[int]:
    """The tensors no later call reads at the top level: the model's outputs."""
    read = {t for row in rows if not row.container for t in row.reads}
    top = [row for row in rows if not row.path]
    written = [t for row in top for t in row.writes]
    return [t for t in dict.fromkeys(written) if t not in read]


def _containers(rows: Sequence[Row], per_row: dict[str, RowMemory]) -> None:
    """A nested model's row: the sums of its rows, and the peak of its heaviest."""
    for row in rows:
        if not row.container:
            continue
        prefix = row.key + "/"
        inner = [m for key, m in per_row.items() if key.startswith(prefix)]
        per_row[row.key] = RowMemory(
            weights=sum(m.weights for m in inner),
            gradients=sum(m.gradients for m in inner),
            optimizer=sum(m.optimizer for m in inner),
            activations=None if any(m.activations is None for m in inner) else sum(m.activations or 0 for m in inner),
            peak=None if any(m.peak is None for m in inner) else max((m.peak or 0 for m in inner), default=0),
        )


def check_batch(batch: int) -> None:
    if not 1 <= batch <= MAX_BATCH:
        raise InvalidInput(f"--batch {batch}: expected a batch of 1 to {MAX_BATCH:,}", "batch")


@dataclass(frozen=True)
class TrainingRequest:
    """`--training`: the optimizer (`NAME[:option=value,...]`), the batch (None: the input's, else Keras
    fit()'s 32), `--fit BYTES` (search the largest batch under it) and `--measure` (compile it with XLA)."""

    optimizer: str = "adam"
    batch: int | None = None
    fit: int | None = None
    measure: bool = False


def mixed_float16(rows: Sequence[Row]) -> bool:
    """A mixed_float16 model (float32 variables, float16 compute): Keras' compile() wraps its optimizer in a
    LossScaleOptimizer."""
    return any(row.dtype == "float16" and any(w.dtype == "float32" for w in row.weights) for row in rows)


def plan(rows: Sequence[Row], request: TrainingRequest, backend: str, input_batch: int | None) -> TrainingMemory:
    """The step's memory for a request: at its batch, or at the largest batch that fits its budget."""
    choice = parse_optimizer(request.optimizer, loss_scale=mixed_float16(rows))
    if request.fit is None:
        if request.batch is not None:
            return training_memory(rows, request.batch, choice, backend, "option")
        if input_batch is not None:
            return training_memory(rows, input_batch, choice, backend, "input")
        return training_memory(rows, FIT_BATCH, choice, backend, "default")
    if request.batch is not None:
        raise InvalidInput("searches the batch: give --fit or --batch, not both", "fit")
    step = _step(rows, choice, backend)
    smallest = _memory(rows, step, 1, choice, backend, "fit")
    if smallest.peak is None:
        raise InvalidInput("needs a known peak, and some sizes are unknown: give --input", "fit")
    if smallest.peak > request.fit:
        state = smallest.weights + smallest.gradients + smallest.optimizer_bytes
        raise InvalidInput(
            f"{request.fit:,} bytes ({human_bytes(request.fit)}) is below the smallest training step: "
            f"{human_bytes(smallest.peak)} "
            f"at batch 1 (weights, gradients and optimizer state alone take {human_bytes(state)})", "fit"
        )  # fmt: skip

    def peak(batch: int) -> int:
        found = step.at(batch)
        assert found is not None
        return found

    low, high = 1, 2  # peak(low) fits; the peak grows with the batch, so search up then halve
    while high <= MAX_BATCH and peak(high) <= request.fit:
        low, high = high, high * 2
    high = min(high, MAX_BATCH + 1)
    while high - low > 1:
        middle = (low + high) // 2
        if peak(middle) <= request.fit:
            low = middle
        else:
            high = middle
    return dataclasses.replace(_memory(rows, step, low, choice, backend, "fit"), fit=request.fit)
