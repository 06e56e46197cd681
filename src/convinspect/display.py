"""convinspect.summary: one call on a live Keras object (or a model file), and what it returns shown
the way a person looks at it: print() and the REPL give the terminal table, Rich renders it, and
Jupyter gets text/plain, a self-contained text/html table and the JSON of `--format json`.

The returned objects are the typed reports themselves (a ModelSummary is a ModelReport, a
LayerSummary a Report), with the display protocol added; nothing of the user's object changes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from typing import Any

from convinspect.api import inspect_object, with_training
from convinspect.core.checks.results import ModelResult
from convinspect.core.layer.report import Report
from convinspect.core.model.report import ModelReport
from convinspect.core.model.training import TrainingRequest
from convinspect.core.vocab.choices import Engine, Format
from convinspect.core.vocab.text import for_encoding
from convinspect.errors import ConvinspectError, InvalidInput
from convinspect.output import encoded, plain_text, render

TEXT_WIDTH = 100  # columns of the text a notebook or print() shows (the HTML is never cut)


class Shown:
    """The display protocol of a summary; `_result()` is what the output pipeline renders."""

    def _result(self) -> ModelResult | Report:
        raise NotImplementedError

    def _html(self) -> str:
        raise NotImplementedError

    def __rich__(self) -> Any:
        return encoded(render(self._result(), Format.TABLE))

    def _text(self) -> str:
        return plain_text(render(self._result(), Format.TABLE), TEXT_WIDTH).rstrip("\n")

    def __str__(self) -> str:
        """The table as print() can write it to this stdout (ASCII stand-ins where it is not UTF-8)."""
        return for_encoding(self._text(), getattr(sys.stdout, "encoding", None) or "utf-8")

    def __repr__(self) -> str:
        return str(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/plain": self._text(),
            "text/html": self._html(),
            "application/json": json.loads(render(self._result(), Format.JSON)),
        }


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class ModelSummary(Shown, ModelReport):
    depth: int | None = None  # nested rows deeper than this fold into their model's row (display only)

    def _result(self) -> ModelResult:
        return ModelResult(report=self, depth=self.depth)

    def _html(self) -> str:
        from convinspect.render.page import model_section

        return model_section(self._result())


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class LayerSummary(Shown, Report):
    def _result(self) -> Report:
        return self

    def _html(self) -> str:
        from convinspect.render.page import layer_section

        return layer_section(self)


def summary(
    obj: object, input_shape: object = None, *, engine: Engine | str = Engine.KERAS, depth: int | None = None,
    training: TrainingRequest | bool = False,
) -> ModelSummary | LayerSummary:  # fmt: skip
    """What a Keras model or layer holds and does, layer by layer: output shapes, parameters, MACs,
    memory and receptive fields. `obj` is a keras.Model of any kind, a keras.layers.Layer, or a model
    SOURCE as `convinspect model` takes it. `input_shape` (batch first) builds a clone of an unbuilt
    object for it; the object itself is never built, trained, compiled or renamed. `engine` is keras
    (read the live object), analytic (its configuration, by the rules) or both. `depth` folds nested
    models deeper than it into their own row, in the display. `training` (True, or a TrainingRequest:
    optimizer, batch, fit) adds the memory of one train step of a model, per layer and in total."""
    try:
        if depth is not None and (type(depth) is not int or depth < 0):
            raise InvalidInput(f"expected a whole number of at least 0; got {depth!r}", "depth")
        report = inspect_object(obj, input_shape, engine=engine)
        request = TrainingRequest() if training is True else training or None
        if request is not None:
            if not isinstance(request, TrainingRequest):
                raise InvalidInput(f"expected True or a TrainingRequest; got {type(training).__name__}", "training")
            if not isinstance(report, ModelReport):
                raise InvalidInput("sizes a model's train step; a conv layer alone has no loss to train", "training")
            report = with_training(report, request, input=input_shape)
    except ConvinspectError as error:  # named as Python names it: `input_shape: ...`, not `--input-shape: ...`
        error.args = (_python_words(error.message(prefix="")),)
        raise
    if isinstance(report, ModelReport):
        return ModelSummary(**_fields(report, ModelReport), depth=depth)
    return LayerSummary(**_fields(report, Report))


def _python_words(message: str) -> str:
    """A message's command-line options as keyword arguments: `--engine keras` -> `engine='keras'`."""
    return re.sub(r"--([a-z][a-z-]*) ([a-z][\w.-]*)", lambda m: f"{m[1].replace('-', '_')}={m[2]!r}", message)


def _fields(report: object, cls: type) -> dict[str, Any]:
    return {f.name: getattr(report, f.name) for f in dataclasses.fields(cls) if f.init}
