"""Where the suite's files are, wherever a test file sits in the tree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
EXAMPLES = ROOT / "examples"
GOLDEN = TESTS / "golden"
PLANTED = TESTS / "planted"
RECORDED_CPUS = TESTS / "cpus"
PACKAGE = ROOT / "src" / "convinspect"
BENCHMARKS = ROOT / "benchmarks"
