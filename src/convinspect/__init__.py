"""convinspect: see what a Keras conv layer creates, and when."""

from __future__ import annotations

from convinspect.api import inspect_layer, run_check, run_sweep
from convinspect.core.checkrun import CheckRun, EntryResult
from convinspect.core.choices import DataFormat, Engine, Format, Forward, Padding
from convinspect.core.config import LayerConfig
from convinspect.core.families import Family
from convinspect.core.report import Check, Params, Report, Step, Variable
from convinspect.core.spec import LayerSpec, parse_spec
from convinspect.core.sweep import Sweep, SweepRow
from convinspect.errors import BackendError, ConvinspectError, InvalidInput
from convinspect.version import __version__

__all__ = [
    "BackendError",
    "Check",
    "CheckRun",
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
    "Padding",
    "Params",
    "Report",
    "Step",
    "Sweep",
    "SweepRow",
    "Variable",
    "__version__",
    "inspect_layer",
    "parse_spec",
    "run_check",
    "run_sweep",
]
