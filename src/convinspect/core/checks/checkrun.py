"""The result of checking spec files: a verdict per entry, and the run's summary and exit code."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from convinspect.core.checks.results import ModelResult
from convinspect.core.checks.specfile import Entry
from convinspect.core.layer.report import Report
from convinspect.core.vocab.choices import Choice
from convinspect.errors import EXIT_BACKEND, EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK

CHECK_SCHEMA = "convinspect.check/1"


class Status(Choice):
    PASSED = "passed"
    FAILED = "failed"
    INVALID = "invalid"  # the entry or its file is wrong
    ERROR = "error"  # TensorFlow (or the backend) failed


@dataclass(frozen=True)
class EntryResult:
    entry: Entry
    status: Status
    report: Report | ModelResult | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))  # a status given by its name is the member

    def to_dict(self, with_report: bool = True) -> dict[str, Any]:
        return {
            "file": self.entry.file,
            "kind": self.entry.kind,
            "entry": self.entry.index,
            "line": self.entry.line,
            "name": self.entry.label,
            "status": str(self.status),
            "error": self.error,
            "checks": [] if self.report is None else [c.to_dict() for c in self.report.checks],
            "report": None if self.report is None or not with_report else self.report.to_dict(),
        }


class Tally:
    """Counts of a run's statuses, kept as results stream past (see render/json.check_json_stream)."""

    def __init__(self, results: Iterable[EntryResult] = ()) -> None:
        self.counts = {status: 0 for status in Status}
        self.files: set[str] = set()
        for result in results:
            self.add(result)

    def add(self, result: EntryResult) -> EntryResult:
        self.counts[result.status] += 1
        self.files.add(result.entry.file)
        return result

    def count(self, status: Status | str) -> int:
        return self.counts[Status(status)]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        """3 when the environment failed, else 2 when a spec is wrong, else 1 when a check failed."""
        if self.counts[Status.ERROR]:
            return EXIT_BACKEND
        if self.counts[Status.INVALID]:
            return EXIT_INVALID
        return EXIT_CHECK_FAILED if self.counts[Status.FAILED] else EXIT_OK

    def summary(self) -> dict[str, int]:
        return {
            "total": self.total,
            **{str(k): v for k, v in self.counts.items()},
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True)
class CheckRun:
    results: tuple[EntryResult, ...]

    @functools.cached_property
    def tally(self) -> Tally:
        """Counted once: the summary, the exit code and every renderer ask for it."""
        return Tally(self.results)

    def count(self, status: Status | str) -> int:
        return self.tally.count(status)

    @property
    def exit_code(self) -> int:
        return self.tally.exit_code

    def summary(self) -> dict[str, int]:
        return self.tally.summary()

    def to_dict(self) -> dict[str, Any]:
        return {"schema": CHECK_SCHEMA, "results": [r.to_dict() for r in self.results], "summary": self.summary()}
