"""A whole model's report: one row per layer call, in call order, and totals that equal Keras'.

`walk()` runs a parsed configuration (core/model/graph.py) through the layer rules
(core/model/rules/). The Keras engine runs the same walk with what the real model
observed (output shapes and variables), so both engines share the bookkeeping:
shared layers own their variables at their first call, nested models get a row
of their own whose figures are the sum of their rows, and receptive fields are
carried from the model's input through every call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from convinspect.core.layer.variables import Params
from convinspect.core.model.backward import Keeps, keeps, signature
from convinspect.core.model.graph import Graph, LayerDef, Observed, Ref
from convinspect.core.model.report import (
    AxisField,
    LayerRow,
    ReceptiveField,
    Shape,
    key_part,
    known_sum,
)
from convinspect.core.model.rules import MAC_FREE, Sized, Unsizable, compute_dtype, size_layer
from convinspect.core.vocab.dtypes import itemsize
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


def _unsized_work(layer: LayerDef, seen: Observed, sized: Sized) -> tuple[Sized, tuple[str, ...]]:
    """A layer the rules do not know (Keras engine): the MACs of the sublayers the engine saw it call,
    and what is left uncounted; an operation known to do no multiply-accumulate counts as complete."""
    if seen.uncounted is not None:  # looked into: its MACs (None where a size is unknown) and what is left
        return replace(sized, macs=seen.macs, bias_adds=seen.bias_adds), seen.uncounted
    if layer.class_name in MAC_FREE:
        return sized, ()
    return sized, (layer.name,)


@dataclass(frozen=True)
class Field:
    """The receptive field of every cell of one tensor, on the model's input."""

    axes: tuple[AxisField | None, ...]  # per tensor axis; None where it is not followed
    whole: bool = False  # each cell reads the whole input

    @classmethod
    def input(cls, ndim: int) -> Field:
        return cls((None,) + (AxisField(1, 1, 0),) * (ndim - 1))


# -- the walk ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    shape: Shape
    field: Field | None
    id: int = 0  # unique in one walk: which rows read and write the same tensor (training memory)


def _union(fields: Sequence[AxisField | None]) -> AxisField | None:
    if not fields or any(f is None for f in fields):
        return None
    jumps = {f.jump for f in fields if f is not None}
    if len(jumps) != 1:
        return None
    start = min(f.start for f in fields if f is not None)
    end = max(f.start + f.size for f in fields if f is not None)
    return AxisField(end - start, jumps.pop(), start)


def _field(sized: Sized, inputs: Sequence[Tensor], output: Shape) -> Field | None:
    """The receptive field of the first output, from the inputs' fields and the layer's windows."""
    fields = [t.field for t in inputs]
    if any(f is None for f in fields):
        return None
    if sized.whole or any(f.whole for f in fields if f is not None):
        return Field((), whole=True)
    axes: list[AxisField | None] = []
    ndim = len(output)
    for window in sized.windows or (None,) * ndim:
        if window is None:
            axes.append(None)
            continue
        sources = []
        for tensor in inputs:
            axis = window.axis - (ndim - len(tensor.shape))  # broadcasting aligns on the right
            if axis < 0 or (tensor.shape[axis] == 1 and output[window.axis] != 1):
                continue  # a broadcast size-1 axis: every output reads its one cell
            assert tensor.field is not None
            sources.append(tensor.field.axes[axis] if axis < len(tensor.field.axes) else None)
        source = _union(sources)
        if source is None:
            axes.append(None)
            continue
        axes.append(
            AxisField(
                source.size + (window.kernel - 1) * source.jump,
                source.jump * window.stride,
                source.start - window.pad * source.jump,
            )
        )
    return Field(tuple(axes))


def _reported(sized: Sized, field_: Field | None) -> ReceptiveField | None:
    if sized.spatial is None or field_ is None:
        return None
    if field_.whole:
        return ReceptiveField(True)
    found = []
    for axis in sized.spatial:
        f = field_.axes[axis] if axis < len(field_.axes) else None
        if f is None:
            return None
        found.append((axis, f))
    return ReceptiveField(False, tuple(found))


def _bytes(shapes: Sequence[Shape], policy: str) -> int | None:
    """Output bytes (an unknown batch counts one example; any other unknown size: unknown)."""
    if any(d is None for shape in shapes for d in shape[1:]):
        return None
    size = itemsize(compute_dtype(policy))
    return sum(math.prod(1 if d is None else d for d in shape) * size for shape in shapes)


def _needed(graph: Graph) -> set[tuple[str, int]]:
    """The (layer, call) pairs on some path to the model's outputs."""
    by_name = {layer.name: layer for layer in graph.layers}
    needed: set[tuple[str, int]] = set()
    stack = [(ref.layer, ref.node) for ref in graph.outputs]
    while stack:
        name, call = stack.pop()
        if (name, call) in needed or name not in by_name:
            continue
        needed.add((name, call))
        calls = by_name[name].calls
        if call < len(calls):
            stack.extend((ref.layer, ref.node) for ref in calls[call])
    return needed


MAX_ROWS = 250_000  # layer calls one report may hold (nested models called N times are walked N times)


def expanded_calls(graph: Graph, limit: int = MAX_ROWS) -> int:
    """How many rows the walk would give (a nested model's rows again at each of its calls), counted
    from the configuration alone and stopped past `limit`: a small file can nest 2^depth calls."""
    memo: dict[int, int] = {}

    def count(g: Graph) -> int:
        if id(g) not in memo:
            total = 0
            for layer in g.layers:
                calls = max(1, len(layer.calls))
                total += calls * (1 + (count(layer.model) if layer.model is not None else 0))
                if total > limit:
                    break
            memo[id(g)] = min(total, limit + 1)
        return memo[id(g)]

    return count(graph)


def check_size(graph: Graph) -> None:
    """Refuse a model whose report would pass MAX_ROWS rows, before anything walks or builds it."""
    if expanded_calls(graph) > MAX_ROWS:
        raise InvalidInput(
            f"model {shown(graph.name)} expands to more than {MAX_ROWS:,} layer calls (a nested model's layers "
            "count again at every call of it); convinspect reports at most that many"
        )


def _order(layers: Sequence[LayerDef], needed: set[tuple[str, int]]) -> list[tuple[LayerDef, int]]:
    """The calls in Keras' call order, as repeated passes over the layer list would find them ready
    (each pass in list order), in linear time: a call waits for a pass after its inputs' passes, and
    for one more when an input comes later in the list. Calls that can never run come last."""
    items = [(layer, k) for layer in layers if layer.class_name != "InputLayer"
             for k in range(len(layer.calls)) if (layer.name, k) in needed]  # fmt: skip
    position = {(layer.name, k): i for i, (layer, k) in enumerate(items)}
    waits = [0] * len(items)
    users: dict[int, list[int]] = {}
    for i, (layer, k) in enumerate(items):
        for ref in dict.fromkeys((r.layer, r.node) for r in layer.calls[k]):
            j = position.get(ref)
            if j is not None:  # a graph input or an InputLayer is there from the start
                waits[i] += 1
                users.setdefault(j, []).append(i)
    passes = [1] * len(items)
    ready = [i for i, w in enumerate(waits) if w == 0]
    done = []
    while ready:
        j = ready.pop()
        done.append(j)
        for i in users.get(j, ()):
            passes[i] = max(passes[i], passes[j] + (1 if j > i else 0))
            waits[i] -= 1
            if waits[i] == 0:
                ready.append(i)
    ran = set(done)
    order = sorted(ran, key=lambda i: (passes[i], i))
    return [items[i] for i in order] + [items[i] for i in range(len(items)) if i not in ran]


def _known(observed: tuple[Shape, ...], computed: tuple[Shape, ...]) -> tuple[Shape, ...]:
    """The observed output shapes, with the sizes the rules computed where Keras left one unknown: a
    nested model built for any image size (None) still runs on this call's concrete input."""
    if len(observed) != len(computed):
        return observed
    return tuple(
        tuple(o if o is not None else c for o, c in zip(seen, sized, strict=True)) if len(seen) == len(sized) else seen
        for seen, sized in zip(observed, computed, strict=True)
    )


class _Walk:
    def __init__(self, observed: bool) -> None:
        self.observed = observed
        self.rows: list[LayerRow] = []
        self.owned: set[tuple[tuple[str, ...], str]] = set()
        self._calls: dict[int, int] = {}  # id(layer) -> its calls that lead to an output
        self.tensors = 0  # ids handed out

    def tensor(self, shape: Shape, field_: Field | None) -> Tensor:
        self.tensors += 1
        return Tensor(shape, field_, self.tensors)

    def run(
        self, graph: Graph, path: tuple[str, ...], inputs: Sequence[Tensor], trainable: bool,
        owner: tuple[str, ...] = (),
    ) -> list[Tensor]:  # fmt: skip
        """Walk one model's calls. `path` names the rows (`block#1` for a nested model's second call);
        `owner` is the same path without call numbers: what owns variables."""
        if len(inputs) != len(graph.inputs):
            raise InvalidInput(
                f"model {shown(graph.name)} takes {len(graph.inputs)} inputs, it was given {len(inputs)}"
            )
        tensors: dict[Ref, Tensor] = dict(zip(graph.inputs, inputs))
        trainable = trainable and graph.trainable
        needed = _needed(graph)  # Keras keeps only the calls that lead to an output
        for layer in graph.layers:
            self._calls[id(layer)] = sum(1 for k in range(len(layer.calls)) if (layer.name, k) in needed)
            if layer.class_name == "InputLayer" and not path:
                self._input_row(layer, tensors.get(Ref(layer.name, 0)))
        for layer, call in _order(graph.layers, needed):
            refs = layer.calls[call]
            missing = next((r.layer for r in refs if r not in tensors), None)
            if missing is not None:
                raise InvalidInput(
                    f"model {shown(graph.name)}: layer {shown(layer.name)} waits for {shown(missing)}, "
                    "which is never computed (a cycle or a missing call)"
                )
            outputs = self.call(layer, call, [tensors[r] for r in refs], path, trainable, owner)
            for index, tensor in enumerate(outputs):
                tensors[Ref(layer.name, call, index)] = tensor
        missing_out = [r for r in graph.outputs if r not in tensors]
        if missing_out:
            raise InvalidInput(f"model {shown(graph.name)}: output {shown(missing_out[0].layer)} is never computed")
        return [tensors[r] for r in graph.outputs]

    def _input_row(self, layer: LayerDef, tensor: Tensor | None) -> None:
        outputs = None if tensor is None else (tensor.shape,)
        memory = None if outputs is None else _bytes(outputs, layer.dtype_policy)
        writes = () if tensor is None else (tensor.id,)
        self.rows.append(
            LayerRow(
                layer.name,
                "InputLayer",
                (),
                0,
                1,
                (),
                outputs,
                (),
                Params(),
                activation_bytes=memory,
                writes=writes,
                dtype=compute_dtype(layer.dtype_policy),
                keeps=Keeps(),
            )
        )

    def call(
        self, layer: LayerDef, call: int, inputs: list[Tensor], path: tuple[str, ...], trainable: bool,
        owner: tuple[str, ...],
    ) -> list[Tensor]:  # fmt: skip
        inbound = tuple(dict.fromkeys(ref.layer for ref in layer.calls[call]))
        calls = self._calls[id(layer)]
        if layer.model is not None:
            return self._nested(layer, call, inputs, path, trainable, inbound, owner)
        seen = layer.observed[call] if self.observed and call < len(layer.observed) else None
        shapes = [t.shape for t in inputs]
        sized_ok = True
        uncounted: tuple[str, ...] = ()
        try:
            sized = size_layer(layer.name, layer.class_name, layer.config, shapes)
        except InvalidInput:
            if seen is None:
                raise
            sized, sized_ok = Sized(seen.outputs), False
            sized, uncounted = _unsized_work(layer, seen, sized)
        if seen is not None:  # the real model's shapes and variables win (its sizes, where it knows them)
            outputs = _known(seen.outputs, sized.outputs) if sized_ok else seen.outputs
            sized = replace(sized, outputs=outputs, weights=seen.weights)
        first = (owner, layer.name) not in self.owned
        self.owned.add((owner, layer.name))
        weights = sized.weights if first else ()
        if seen is None and not (trainable and layer.trainable):
            weights = tuple(replace(w, trainable=False) for w in weights)
        params = Params(
            sum(w.params for w in weights if w.trainable), sum(w.params for w in weights if not w.trainable)
        )
        field_ = _field(sized, inputs, sized.outputs[0]) if sized_ok else None
        dtype = compute_dtype(layer.dtype_policy)
        tensors = [self.tensor(shape, field_ if index == 0 else None) for index, shape in enumerate(sized.outputs)]
        self.rows.append(
            LayerRow(
                name=layer.name,
                class_name=layer.class_name,
                path=path,
                call=call,
                calls=calls,
                inbound=inbound,
                outputs=sized.outputs,
                weights=weights,
                params=params,
                shared=not first,
                macs=sized.macs,
                bias_adds=sized.bias_adds,
                activation_bytes=_bytes(sized.outputs, layer.dtype_policy),
                receptive_field=_reported(sized, field_),
                conv=sized.conv,
                sized=sized_ok,
                uncounted=uncounted,
                reads=tuple(t.id for t in inputs),
                writes=tuple(t.id for t in tensors),
                dtype=dtype,
                keeps=keeps(layer.class_name, layer.config, shapes, sized.outputs, dtype),
                trains=trainable and layer.trainable and any(w.trainable for w in sized.weights),
                same_as=signature(layer.class_name, layer.config, len(sized.weights)),
            )
        )
        return tensors

    def _nested(
        self,
        layer: LayerDef,
        call: int,
        inputs: list[Tensor],
        path: tuple[str, ...],
        trainable: bool,
        inbound: tuple[str, ...],
        owner: tuple[str, ...],
    ) -> list[Tensor]:
        assert layer.model is not None
        at = len(self.rows)
        inner = (*path, key_part(layer.name) + (f"#{call}" if call else ""))
        outputs = self.run(layer.model, inner, inputs, trainable and layer.trainable, (*owner, layer.name))
        children = [row for row in self.rows[at:] if not row.container]
        self.rows.insert(
            at,
            LayerRow(
                name=layer.name,
                class_name=layer.class_name,
                path=path,
                call=call,
                calls=len(layer.calls),
                inbound=inbound,
                outputs=tuple(t.shape for t in outputs),
                weights=(),
                shared=call > 0,
                params=sum((row.params for row in children), Params()),
                macs=known_sum(row.macs for row in children),
                bias_adds=known_sum(row.bias_adds for row in children),
                activation_bytes=known_sum(row.activation_bytes for row in children),
                container=True,
                uncounted=tuple(name for row in children for name in row.uncounted),
                reads=tuple(t.id for t in inputs),
                writes=tuple(t.id for t in outputs),
            ),
        )
        return outputs


def walk(graph: Graph, input_shapes: Sequence[Shape], observed: bool = False) -> list[LayerRow]:
    """Every call of every layer, sized; `observed`: with what the real model did at each call, carried
    by the graph's layers (the Keras engine's reading of a live model)."""
    check_size(graph)
    walker = _Walk(observed)
    walker.run(graph, (), [walker.tensor(s, Field.input(len(s))) for s in input_shapes], True)
    return walker.rows


def unbuilt_rows(graph: Graph, path: tuple[str, ...] = ()) -> list[LayerRow]:
    """A model with no input shape: its layers, no shapes and no variables yet."""
    rows: list[LayerRow] = []
    for layer in graph.layers:
        if layer.class_name == "InputLayer":
            continue
        rows.append(
            LayerRow(
                layer.name,
                layer.class_name,
                path,
                0,
                max(len(layer.calls), 1),
                (),
                None,
                (),
                Params(),
                container=layer.model is not None,
            )
        )
        if layer.model is not None:
            rows.extend(unbuilt_rows(layer.model, (*path, layer.name)))
    return rows


def with_input(graph: Graph, shape: Shape | None) -> tuple[Shape, ...]:
    """The input shapes to build with: the configuration's, or `--input` (same rank, any batch)."""
    if shape is None:
        if not graph.built:
            raise Unsizable("model has no input shape")  # callers check graph.built first
        return tuple(s for s in graph.input_shapes if s is not None)
    if len(graph.inputs) != 1:
        raise InvalidInput(f"the model has {len(graph.inputs)} inputs; --input sets one", "input")
    known = graph.input_shapes[0]
    if known is not None and len(known) != len(shape):
        raise InvalidInput(
            f"the model's input has rank {len(known)} (shape {_show(known)}), got {len(shape)} dimensions "
            f"{_show(shape)}",
            "input",
        )
    return (shape,)


def _show(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
