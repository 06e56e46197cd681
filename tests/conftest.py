"""Shared fixtures: the CLI runner with stdout and stderr kept apart, and TensorFlow workers.

This process runs TensorFlow with oneDNN on unless TF_ENABLE_ONEDNN_OPTS is already set: the
oracle properties then reach every layer that oneDNN's float32 kernels run (channels_first
ones too) on any x86 CPU. Exporting TF_ENABLE_ONEDNN_OPTS=0 runs the suite on the plain kernels.
The runtime tests use one worker per kernel set (tests/support/kernels.py), whatever this process has.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from convinspect.cli import app

from kernels import SETTINGS, Worker

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# CI replays the same examples every run (a fixed derivation), so a red build is
# reproducible with CI=true locally; developer runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

SEED_ARGS = ("--filters", "64", "--kernel", "5", "--strides", "2", "--padding", "same", "--input", "2,32,32,1")


@pytest.fixture
def cli() -> Callable[..., object]:
    runner = CliRunner()

    def run(*args: str) -> object:
        return runner.invoke(app, list(args))

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--overwrite",
        action="store_true",
        help="Rewrite the golden outputs (tests/golden/*.txt and the examples in README.md and docs/) from the code.",
    )


@pytest.fixture(scope="session")
def workers() -> Iterator[dict[str, Worker]]:
    """One TensorFlow process per oneDNN setting (onednn, plain, default), started together so
    their imports overlap."""
    started = {setting: Worker(setting) for setting in SETTINGS}
    yield started
    for worker in started.values():
        worker.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which CPU kernel rules this run proved on real TensorFlow, and which only on recorded CPUs."""
    from cpus import summary

    line = summary()
    if line:
        terminalreporter.write_line(line)
