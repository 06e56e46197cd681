"""convinspect: see what a Keras conv layer creates, and when."""

from __future__ import annotations

__version__ = "0.1.0"

from convinspect.api import inspect_layer
from convinspect.core.report import Report, Variable
from convinspect.core.spec import LayerSpec, parse_spec
from convinspect.errors import BackendError, ConvinspectError, InvalidInput

__all__ = [
    "BackendError",
    "ConvinspectError",
    "InvalidInput",
    "LayerSpec",
    "Report",
    "Variable",
    "__version__",
    "inspect_layer",
    "parse_spec",
]
