"""How often a property test leaves one of its checks out, and a limit on that share.

A property that skips a check for some examples (a config the code legitimately refuses, a
result too large to check) proves nothing about those examples; if the skipped share creeps
up, the test passes while checking ever less. Each check is a `Check`: the property calls
`ran()` or `skipped(reason)` once per example, which also reports an `event()` (shown by
`pytest --hypothesis-show-statistics`), and `tallied(...)` wraps the test (a fixture) so that
after the last example the share skipped must stay within the check's limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import event


@dataclass
class Check:
    """One check of a property: how many examples ran it, how many skipped it and why."""

    name: str
    limit: float  # the largest share of examples allowed to skip it, 0..1
    runs: int = 0
    skips: Counter[str] = field(default_factory=Counter)

    def ran(self) -> None:
        self.runs += 1
        event(f"{self.name}: checked")

    def skipped(self, reason: str) -> None:
        self.skips[reason] += 1
        event(f"{self.name}: skipped, {reason}")

    @property
    def total(self) -> int:
        return self.runs + sum(self.skips.values())

    @property
    def share(self) -> float:
        """The share of examples that skipped the check (0 when none reached it)."""
        return sum(self.skips.values()) / self.total if self.total else 0.0

    def reset(self) -> None:
        self.runs = 0
        self.skips.clear()

    def summary(self) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.skips.most_common()) or "none"
        return (
            f"{self.name!r}: skipped in {sum(self.skips.values())} of {self.total} examples "
            f"({self.share:.0%}; limit {self.limit:.0%}; skipped: {reasons})"
        )


def tallied(request: pytest.FixtureRequest, *checks: Check) -> Iterator[None]:
    """The body of a fixture around one property test: the tallies start at zero, and after the
    test each check must have run for some example and been skipped by at most its limit's share.
    A broken limit fails pytest (an error at the test's teardown). When the test itself failed,
    the tallies (shrinking included) say nothing more and are not checked. Each check's tally is
    printed, for pytest -rP or -s."""
    for check in checks:
        check.reset()
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        return
    for check in checks:
        print(check.summary())  # shown by pytest -rP (or -s)
    broken = [check.summary() for check in checks if check.runs == 0 or check.share > check.limit]
    assert not broken, "property checks skipped too often: " + "; ".join(broken)
