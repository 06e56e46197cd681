"""convinspect: see what a Keras conv layer creates, and when."""

from __future__ import annotations

__version__ = "0.1.0"

from convinspect.api import inspect_layer  # noqa: E402
from convinspect.core.report import Report, Variable  # noqa: E402
from convinspect.core.spec import LayerSpec, parse_spec  # noqa: E402
from convinspect.errors import BackendError, ConvinspectError, InvalidInput  # noqa: E402

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
