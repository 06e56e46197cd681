"""The sections of a layer report, in the one order every human format gives them.

Each writer (layer/table.py, layer/markdown.py, layer/plain.py) maps every section name
to a function `(report, diagram) -> parts`; `assemble` lays the parts out in this order.
A section a format has nothing for returns no parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from convinspect.core.layer.report import Report

T = TypeVar("T")
Section = Callable[[Report, bool], list[T]]

SECTIONS = (
    "heading",  # the class, name and engine
    "config",  # the layer's options
    "shapes",  # input and output
    "before",  # the variables before the forward pass, and why there are none
    "after",  # the variables after it
    "totals",  # parameters and their arithmetic
    "cost",
    "memory",
    "geometry",
    "layouts",  # the weight layouts, Keras and PyTorch
    "checks",  # the expectations and how they fared
    "runtime",  # whether the backend runs it (a warning when it does not)
    "notes",
    "story",  # --explain
    "diagram",  # --diagram
)


def assemble(writers: Mapping[str, Section[T]], report: Report, diagram: bool) -> list[T]:
    """Every section's parts, in SECTIONS' order."""
    return [part for name in SECTIONS for part in writers[name](report, diagram)]
