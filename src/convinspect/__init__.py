"""convinspect: see what a Keras conv layer creates, and when.

The public names below are imported on first use, so that `import convinspect` (and the
command line's start) costs almost nothing until something is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convinspect.version import __version__

_EXPORTS = {
    "inspect_layer": "convinspect.api", "run_check": "convinspect.api", "run_sweep": "convinspect.api",
    "iter_check": "convinspect.api", "inspect_model": "convinspect.api", "run_solve": "convinspect.api",
    "run_conformance": "convinspect.api",
    "ModelReport": "convinspect.core.model", "ModelResult": "convinspect.core.modelcheck",
    "SolveResult": "convinspect.core.solve", "Conformance": "convinspect.core.conformance",
    "Verification": "convinspect.core.verify",
    "CheckRun": "convinspect.core.checkrun", "EntryResult": "convinspect.core.checkrun",
    "DataFormat": "convinspect.core.choices", "Engine": "convinspect.core.choices",
    "Format": "convinspect.core.choices", "Forward": "convinspect.core.choices", "Padding": "convinspect.core.choices",
    "LayerConfig": "convinspect.core.config", "Family": "convinspect.core.families",
    "Check": "convinspect.core.report", "Params": "convinspect.core.report", "Report": "convinspect.core.report",
    "Step": "convinspect.core.report", "Variable": "convinspect.core.report",
    "Runtime": "convinspect.core.runtime",
    "LayerSpec": "convinspect.core.spec", "parse_spec": "convinspect.core.spec",
    "Sweep": "convinspect.core.sweep", "SweepRow": "convinspect.core.sweep",
    "BackendError": "convinspect.errors", "ConvinspectError": "convinspect.errors",
    "InvalidInput": "convinspect.errors", "OutputError": "convinspect.errors",
}  # fmt: skip
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
    "ModelReport",
    "ModelResult",
    "OutputError",
    "Padding",
    "Params",
    "Report",
    "Runtime",
    "SolveResult",
    "Step",
    "Sweep",
    "SweepRow",
    "Variable",
    "Verification",
    "__version__",
    "inspect_layer",
    "inspect_model",
    "iter_check",
    "parse_spec",
    "run_check",
    "run_conformance",
    "run_solve",
    "run_sweep",
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
        iter_check,
        run_check,
        run_conformance,
        run_solve,
        run_sweep,
    )
    from convinspect.core.checkrun import CheckRun, EntryResult
    from convinspect.core.choices import DataFormat, Engine, Format, Forward, Padding
    from convinspect.core.config import LayerConfig
    from convinspect.core.conformance import Conformance
    from convinspect.core.families import Family
    from convinspect.core.model import ModelReport
    from convinspect.core.modelcheck import ModelResult
    from convinspect.core.report import Check, Params, Report, Step, Variable
    from convinspect.core.runtime import Runtime
    from convinspect.core.solve import SolveResult
    from convinspect.core.spec import LayerSpec, parse_spec
    from convinspect.core.sweep import Sweep, SweepRow
    from convinspect.core.verify import Verification
    from convinspect.errors import BackendError, ConvinspectError, InvalidInput, OutputError
