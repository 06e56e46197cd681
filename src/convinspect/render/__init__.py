"""Report -> text. Renderers only arrange words; every number comes from the report."""

from __future__ import annotations

FORMATS = ("table", "json", "markdown", "plain")
