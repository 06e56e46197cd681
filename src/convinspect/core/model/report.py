"""A whole model's report: one row per layer call, the totals (equal to Keras'), and the model's CPU kernels.

The walk (core/model/walk.py) makes the rows; both engines fill them, so this is the
model's JSON contract (`convinspect.model/1`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convinspect.core.layer.report import Disagreement
from convinspect.core.layer.runtime import RULES, KernelChoice, Rule
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.layer.variables import Params, Variable
from convinspect.core.model.backward import Keeps
from convinspect.core.model.source import Source
from convinspect.core.model.training import TrainingMemory
from convinspect.core.vocab.choices import Engine
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

SCHEMA = "convinspect.model/1"
Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class AxisField:
    """Output cell i of an axis reads input cells start + i·jump … start + i·jump + size − 1."""

    size: int
    jump: int
    start: int


@dataclass(frozen=True)
class ReceptiveField:
    """What a conv or pooling row reports: per spatial axis, or the whole input."""

    whole: bool
    axes: tuple[tuple[int, AxisField], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        axes = [{"axis": a, "size": f.size, "jump": f.jump, "start": f.start} for a, f in self.axes]
        return {"whole_input": self.whole, "axes": axes}


def key_part(name: str) -> str:
    """A layer's name as a part of a row's key: `#` doubled (a single `#` starts a call number)."""
    return name.replace("#", "##")


@dataclass(frozen=True)
class LayerRow:
    name: str
    class_name: str
    path: tuple[str, ...]  # the nested models holding it, outermost first
    call: int  # 0 for the first call of a layer
    calls: int
    inbound: tuple[str, ...]
    outputs: tuple[Shape, ...] | None  # None: unbuilt
    weights: tuple[Variable, ...]  # the variables this row owns (a shared layer's first call)
    params: Params
    macs: int | None = 0  # None: unknown (an input of unknown spatial size)
    bias_adds: int | None = 0
    activation_bytes: int | None = 0
    receptive_field: ReceptiveField | None = None
    container: bool = False  # a nested model; its figures sum its own rows
    shared: bool = False  # its variables belong to an earlier row (a shared layer's, or a shared model's)
    conv: LayerSpec | None = None
    sized: bool = True  # False: the analytic rules do not know the class (Keras engine only)
    uncounted: tuple[str, ...] = ()  # what `macs` leaves out: the layer itself, or sublayers it calls
    # For training memory (core/model/training.py): the walk's ids of the tensors this call reads and
    # writes, its compute dtype, and what its backward pass keeps (None: no rule for its class).
    reads: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()
    dtype: str = "float32"
    keeps: Keeps | None = None
    trains: bool = False  # it has trainable variables (a shared layer's later calls too): they get gradients
    same_as: str | None = None  # backward.signature: calls with the same one and inputs compute one tensor

    @property
    def complete(self) -> bool:
        """Whether `macs` counts all the multiply-accumulates of this row."""
        return not self.uncounted

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def qualified(self) -> str:
        return "/".join((*self.path, self.name))

    @property
    def key(self) -> str:
        """Unique within a report: the path, and `#call` for a shared layer's later calls (a `#` in a
        layer's own name is written `##`, so `c#1` is c's second call and `c##1` the layer named c#1)."""
        return "/".join((*self.path, key_part(self.name))) + (f"#{self.call}" if self.call else "")

    @property
    def output_shape(self) -> Shape | None:
        return None if not self.outputs else self.outputs[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "class": self.class_name,
            "path": self.qualified,
            "depth": self.depth,
            "call": self.call,
            "calls": self.calls,
            "container": self.container,
            "inbound": list(self.inbound),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params.counts(),
            "macs": self.macs,
            "bias_adds": self.bias_adds,
            "activation_bytes": self.activation_bytes,
            "complete": self.complete,
            "uncounted": list(self.uncounted),
            "receptive_field": None if self.receptive_field is None else self.receptive_field.to_dict(),
            "variables": [
                {"name": w.name, "shape": list(w.shape), "dtype": w.dtype, "trainable": w.trainable}
                for w in self.weights
            ],
        }
        if self.outputs is not None and len(self.outputs) > 1:
            out["output_shapes"] = [list(s) for s in self.outputs]
        return out


@dataclass(frozen=True)
class Totals:
    params: Params
    bytes_by_dtype: Mapping[str, int]
    macs: int | None  # None when any layer's is unknown
    bias_adds: int | None
    activation_bytes: int | None
    uncounted: tuple[str, ...] = ()  # the rows whose MACs leave work out (their keys)

    @property
    def complete(self) -> bool:
        return not self.uncounted

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_dtype.values())

    @property
    def flops(self) -> int | None:
        return None if self.macs is None or self.bias_adds is None else 2 * self.macs + self.bias_adds

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params.counts(),
            "bytes": self.bytes,
            "bytes_by_dtype": dict(self.bytes_by_dtype),
            "macs": self.macs,
            "bias_adds": self.bias_adds,
            "flops": self.flops,
            "complete": self.complete,
            "uncounted": list(self.uncounted),
            "activation_bytes": self.activation_bytes,
        }


def totals(rows: Sequence[LayerRow]) -> Totals:
    leaves = [row for row in rows if not row.container]
    by_dtype: dict[str, int] = {}
    for row in leaves:
        for weight in row.weights:
            by_dtype[weight.dtype] = by_dtype.get(weight.dtype, 0) + weight.bytes
    return Totals(
        params=sum((row.params for row in leaves), Params()),
        bytes_by_dtype=by_dtype,
        macs=known_sum(row.macs for row in leaves),
        bias_adds=known_sum(row.bias_adds for row in leaves),
        activation_bytes=known_sum(row.activation_bytes for row in leaves),
        uncounted=tuple(row.key for row in leaves if row.uncounted),
    )


def known_sum(values: Iterable[int | None]) -> int | None:
    """The sum, or None when any term is unknown."""
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


@dataclass(frozen=True)
class ModelRuntime:
    """Whether TensorFlow's CPU kernels run each conv layer, predicted from its configuration with the
    rules of core/layer/runtime.py (nothing in a model is run eagerly), and the kernel set of each dtype."""

    kernels: Mapping[str, KernelChoice]  # per compute dtype of the model's conv layers
    refused: tuple[tuple[str, Rule], ...]  # (row key, rule) of each conv call the kernels refuse

    @property
    def runs(self) -> bool:
        return not self.refused

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "kernels": {dtype: choice.to_dict() for dtype, choice in self.kernels.items()},
            "refused": [{"layer": key, "rule": rule, "reason": RULES[rule][0]} for key, rule in self.refused],
        }


def model_runtime(rows: Iterable[LayerRow], choose: Callable[[str], KernelChoice]) -> ModelRuntime:
    """The conv rows' verdicts, on the kernel set `choose` picks for each compute dtype."""
    kernels: dict[str, KernelChoice] = {}
    refused = []
    for row in rows:
        spec = row.conv
        if spec is None:
            continue
        dtype = spec.compute_dtype
        if dtype not in kernels:
            kernels[dtype] = choose(dtype)
        rule = spec.kind.recipe.cpu_rule(spec.config, spec.kind.rank, kernels[dtype].kernels)
        if rule is not None:
            refused.append((row.key, rule))
    return ModelRuntime(kernels, tuple(refused))


@dataclass(frozen=True)
class ModelReport:
    name: str
    class_name: str
    source: Source  # what SOURCE named, without its configuration
    engine: Engine
    input_shapes: tuple[Shape | None, ...]
    lazy: bool  # the configuration has no input shape: Keras creates no variables until it is built
    built: bool  # False: lazy and no --input, so no shapes and no variables ("0 (unbuilt)" in summary())
    variables_before: int  # variables the model holds as loaded, before --input builds it
    rows: tuple[LayerRow, ...]
    versions: Mapping[str, str | None]
    agreed_with: Engine | None = None
    runtime: ModelRuntime | None = None  # None: no conv layer is sized (an unbuilt model)
    training: TrainingMemory | None = None  # --training: the memory of one train step
    totals: Totals = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", totals(self.rows))

    @property
    def batch_known(self) -> bool:
        return all(shape is not None and shape[0] is not None for shape in self.input_shapes)

    @property
    def variable_count(self) -> int:
        return sum(len(row.weights) for row in self.rows)

    @property
    def shared(self) -> tuple[LayerRow, ...]:
        """The first row of each layer called more than once."""
        return tuple(row for row in self.rows if row.calls > 1 and row.call == 0)

    def row(self, name: str) -> LayerRow | None:
        """The row a name means: its key first, then its path, then a layer's plain name; a name that means
        two rows in different ways (`c#1`: the layer named so, and c's second call) is refused."""
        by_key = next((row for row in self.rows if row.key == name), None)
        by_name = next((row for row in self.rows if name in (row.qualified, row.name)), None)
        if by_key is not None and by_name is not None and by_key is not by_name:
            raise InvalidInput(f"{shown(name)} names two rows: {shown(by_key.key)} and {shown(by_name.key)}; "
                               "give the key (a # in a layer's own name is written ##)")  # fmt: skip
        return by_key or by_name

    def _row_dict(self, row: LayerRow) -> dict[str, Any]:
        out = row.to_dict()
        if self.training is not None and row.key in self.training.rows:
            out["training"] = self.training.rows[row.key].to_dict()
        return out

    def _totals_dict(self) -> dict[str, Any]:
        out = self.totals.to_dict()
        if self.training is not None:
            out["training"] = self.training.totals_dict()
        return out

    def to_dict(self) -> dict[str, Any]:
        inputs = [None if s is None else list(s) for s in self.input_shapes]
        return {
            "schema": SCHEMA,
            "model": {"name": self.name, "class": self.class_name},
            "source": self.source.to_dict(),
            "engine": str(self.engine),
            "agreed_with": None if self.agreed_with is None else str(self.agreed_with),
            "input_shape": inputs[0] if len(inputs) == 1 else inputs,
            "lazy": self.lazy,
            "built": self.built,
            "per_example": not self.batch_known,
            "variables_before": self.variables_before,
            "layers": [self._row_dict(row) for row in self.rows],
            "totals": self._totals_dict(),
            "runtime": None if self.runtime is None else self.runtime.to_dict(),
            "versions": dict(self.versions),
        }


def model_disagreement(a: ModelReport, b: ModelReport) -> Disagreement | None:
    """How two engines' reports of the same model differ (None when they agree). Input layers aside (Keras
    names and adds them), and variables by shape, trainability and dtype: a layer that does not name its
    variables gets Keras' `variable_N`."""

    def rows(report: ModelReport) -> dict[str, Any]:
        return {
            row.key: {"class": row.class_name, "output_shape": row.output_shape, "params": row.params.to_dict(),
                      "variables": [(w.shape, w.trainable, w.dtype) for w in row.weights]}
            for row in report.rows
            if row.class_name != "InputLayer"
        }  # fmt: skip

    left, right = rows(a), rows(b)
    found = [f"layer {shown(k)} only in the {a.engine} report" for k in left if k not in right]
    found += [f"layer {shown(k)} only in the {b.engine} report" for k in right if k not in left]
    for key in left.keys() & right.keys():
        for name, value in left[key].items():
            if right[key][name] != value:
                found.append(f"{shown(key)} {name}: {a.engine} {value} vs {b.engine} {right[key][name]}")
    if a.totals.params != b.totals.params:
        found.append(f"total params: {a.engine} {a.totals.params.to_dict()} vs {b.engine} {b.totals.params.to_dict()}")
    if a.totals.bytes_by_dtype != b.totals.bytes_by_dtype:
        found.append(f"bytes: {a.engine} {dict(a.totals.bytes_by_dtype)} vs {b.engine} {dict(b.totals.bytes_by_dtype)}")
    return Disagreement("the engines disagree", tuple(found)) if found else None
