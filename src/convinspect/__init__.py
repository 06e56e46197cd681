"""convinspect: see what a Keras conv layer creates, and when.

The public names below are imported on first use, so that `import convinspect` (and the
command line's start) costs almost nothing until something is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convinspect.version import __version__

# Where each public name lives: the module, then the names it gives.
_HOMES = {
    "convinspect.api": (
        "inspect_layer",
        "isolated",
        "run_check",
        "run_sweep",
        "iter_check",
        "inspect_model",
        "run_solve",
        "run_conformance",
        "inspect_object",
    ),
    "convinspect.display": ("summary", "ModelSummary", "LayerSummary"),
    "convinspect.core.model.report": ("ModelReport",),
    "convinspect.core.model.training": ("TrainingRequest", "TrainingMemory"),
    "convinspect.core.checks.results": ("ModelResult",),
    "convinspect.core.commands.solve": ("SolveResult",),
    "convinspect.core.commands.conformance": ("Conformance",),
    "convinspect.core.layer.verify": ("Verification",),
    "convinspect.core.checks.checkrun": (
        "CheckRun",
        "EntryResult",
    ),
    "convinspect.core.vocab.choices": (
        "DataFormat",
        "Engine",
        "Format",
        "Forward",
        "Padding",
    ),
    "convinspect.core.layer.config": ("LayerConfig",),
    "convinspect.core.layer.families": ("Family",),
    "convinspect.core.layer.report": (
        "Check",
        "Report",
        "Step",
    ),
    "convinspect.core.layer.variables": (
        "Params",
        "Variable",
    ),
    "convinspect.core.layer.runtime": ("Runtime",),
    "convinspect.core.layer.spec": (
        "LayerSpec",
        "parse_spec",
    ),
    "convinspect.core.commands.sweep": (
        "Sweep",
        "SweepRow",
    ),
    "convinspect.errors": (
        "BackendError",
        "ConvinspectError",
        "InvalidInput",
        "OutputError",
    ),
}
_EXPORTS = {name: module for module, names in _HOMES.items() for name in names}
__all__ = [
    "BackendError",
    "Check",
    "CheckRun",
    "Conformance",
    "ConvinspectError",
    "DataFormat",
    "Engine",
    "EntryResult",
    "Family",
    "Format",
    "Forward",
    "InvalidInput",
    "LayerConfig",
    "LayerSpec",
    "LayerSummary",
    "ModelReport",
    "ModelResult",
    "ModelSummary",
    "OutputError",
    "Padding",
    "Params",
    "Report",
    "Runtime",
    "SolveResult",
    "Step",
    "Sweep",
    "SweepRow",
    "TrainingMemory",
    "TrainingRequest",
    "Variable",
    "Verification",
    "__version__",
    "inspect_layer",
    "inspect_model",
    "inspect_object",
    "isolated",
    "iter_check",
    "parse_spec",
    "run_check",
    "run_conformance",
    "run_solve",
    "run_sweep",
    "summary",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convinspect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from convinspect.api import (
        inspect_layer,
        inspect_model,
        inspect_object,
        isolated,
        iter_check,
        run_check,
        run_conformance,
        run_solve,
        run_sweep,
    )
    from convinspect.core.checks.checkrun import CheckRun, EntryResult
    from convinspect.core.checks.results import ModelResult
    from convinspect.core.commands.conformance import Conformance
    from convinspect.core.commands.solve import SolveResult
    from convinspect.core.commands.sweep import Sweep, SweepRow
    from convinspect.core.layer.config import LayerConfig
    from convinspect.core.layer.families import Family
    from convinspect.core.layer.report import Check, Report, Step
    from convinspect.core.layer.runtime import Runtime
    from convinspect.core.layer.spec import LayerSpec, parse_spec
    from convinspect.core.layer.variables import Params, Variable
    from convinspect.core.layer.verify import Verification
    from convinspect.core.model.report import ModelReport
    from convinspect.core.vocab.choices import DataFormat, Engine, Format, Forward, Padding
    from convinspect.display import LayerSummary, ModelSummary, summary
    from convinspect.errors import BackendError, ConvinspectError, InvalidInput, OutputError
