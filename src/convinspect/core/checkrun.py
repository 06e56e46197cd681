"""The result of checking spec files: a verdict per entry, and the run's summary and exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convinspect.core.report import Report
from convinspect.core.specfile import Entry
from convinspect.errors import EXIT_BACKEND, EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK

CHECK_SCHEMA = "convinspect.check/1"


@dataclass(frozen=True)
class EntryResult:
    entry: Entry
    status: str  # passed | failed | invalid (the entry or file is wrong) | error (TensorFlow failed)
    report: Report | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.entry.file,
            "entry": self.entry.index,
            "line": self.entry.line,
            "name": self.entry.label,
            "status": self.status,
            "error": self.error,
            "checks": [] if self.report is None else [c.to_dict() for c in self.report.checks],
            "report": None if self.report is None else self.report.to_dict(),
        }


@dataclass(frozen=True)
class CheckRun:
    results: tuple[EntryResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        """3 when the environment failed, else 2 when a spec is wrong, else 1 when a check failed."""
        if self.count("error"):
            return EXIT_BACKEND
        if self.count("invalid"):
            return EXIT_INVALID
        return EXIT_CHECK_FAILED if self.count("failed") else EXIT_OK

    def summary(self) -> dict[str, int]:
        return {
            "total": len(self.results),
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "invalid": self.count("invalid"),
            "error": self.count("error"),
            "exit_code": self.exit_code,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"schema": CHECK_SCHEMA, "results": [r.to_dict() for r in self.results], "summary": self.summary()}
