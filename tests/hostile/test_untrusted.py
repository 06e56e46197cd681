"""Untrusted text stays inert: a hostile layer or entry name in every format.

Names come from flags and from spec files someone else wrote. ESC sequences must not
reach a terminal, newlines must not forge lines, JUnit must stay well-formed XML, and
JSON must still carry the exact name.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from convinspect.core.vocab.text import inert

HOSTILE = "evil\x1b[2J\x1b]0;title\x07\r\nforged: line\x00`|\u202e\x9b end"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")  # what must never come out raw (\t, \n are layout)
LAYER = ("--filters", "4", "--kernel", "3", "--input", "1,6,6,2", "--engine", "analytic")


def test_inert_escapes_visibly_and_keeps_ordinary_text() -> None:
    assert inert("a\x1b[2Jb\nc") == "a\\x1b[2Jb\\x0ac"
    assert inert("naïve → ok") == "naïve → ok"
    assert inert("\u202e\udcff") == "\\u202e\\udcff"


@pytest.mark.parametrize("fmt", ["table", "plain", "markdown"])
def test_a_hostile_layer_name_reaches_no_terminal_raw(cli: Any, fmt: str) -> None:
    result = cli("build", *LAYER, "--name", HOSTILE, "--format", fmt, "--explain")
    assert result.exit_code == 0, result.output
    assert not RAW.search(result.stdout)
    assert "forged: line" not in [line.strip() for line in result.stdout.splitlines()]
    if fmt == "plain":  # one fact per line still: the name did not add any
        clean = cli("build", *LAYER, "--format", fmt, "--explain").stdout
        assert len(result.stdout.splitlines()) == len(clean.splitlines())


def test_json_carries_the_exact_name_escaped(cli: Any) -> None:
    result = cli("build", *LAYER, "--name", HOSTILE, "--format", "json")
    assert not RAW.search(result.stdout)
    assert json.loads(result.stdout)["layer"]["name"] == HOSTILE


def test_a_markdown_name_keeps_its_code_span_and_table_row(cli: Any) -> None:
    out = cli("build", *LAYER, "--name", "a`b|c", "--format", "markdown").stdout
    assert "### `Conv2D` ``a`b|c``" in out
    assert "| ``a`b\\|c/kernel`` |" in out


@pytest.fixture
def hostile_spec(tmp_path: Path) -> Path:
    path = tmp_path / f"spec\x1b[31m{chr(0x7F)}.json"
    entries = [
        {"name": HOSTILE, "filters": 4, "kernel": 3, "input": "1,6,6,2", "expect_output": "1,1,1,1"},
        {"name": HOSTILE + " 2", "filters": 4, "kernel": 3, "groups": 3, "input": "1,6,6,2"},
    ]
    path.write_text(json.dumps({"layer": entries}))
    return path


@pytest.mark.parametrize("fmt", ["table", "junit", "github", "markdown", "json"])
def test_a_hostile_spec_entry_name_in_every_check_format(cli: Any, hostile_spec: Path, fmt: str) -> None:
    result = cli("check", str(hostile_spec), "--engine", "analytic", "--format", fmt)
    assert result.exit_code == 2, result.output
    assert not RAW.search(result.stdout) and not RAW.search(result.stderr)
    if fmt == "junit":
        cases = ET.fromstring(result.stdout).findall(".//testcase")
        assert [c.get("name") for c in cases] == [inert(HOSTILE), inert(HOSTILE + " 2")]
    if fmt == "github":  # one workflow command per line, each still a command
        assert all(line.startswith("::") for line in result.stdout.splitlines())
        assert len(result.stdout.splitlines()) == 3
    if fmt == "markdown":
        rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
        assert len(rows) == 3 and all(line.count(" | ") == 7 for line in rows)
    if fmt == "json":
        data = json.loads(result.stdout)
        assert [r["name"] for r in data["results"]] == [HOSTILE, HOSTILE + " 2"]


def test_error_messages_are_one_inert_line(cli: Any) -> None:
    result = cli("build", "--filters", "x\x1b[2J\ny", "--kernel", "3", "--input", "1,6,6,2")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and not RAW.search(result.stderr)
