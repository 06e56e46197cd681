"""The version: defined here once; pyproject.toml reads it from this file when the package is built.

(importlib.metadata would read it back from the installed metadata, at the price of ~25 ms of
imports on every start, a fifth of the analytic engine's whole run.)
"""

from __future__ import annotations

__version__ = "0.1.0"
