"""Expectations on a report, and spec files: many layers checked in one process."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convinspect.api import inspect_layer
from convinspect.core.report import Check, Report
from convinspect.core.spec import OPTION_NAMES, parse_int, parse_shape
from convinspect.errors import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK, ConvinspectError, InvalidInput

CHECK_SCHEMA = "convinspect.check/1"
EXPECTATION_KEYS = ("expect_output", "expect_params", "expect_kernel", "expect_bias", "max_params", "max_macs")
ENTRY_KEYS = (*OPTION_NAMES, *EXPECTATION_KEYS)


# -- expectations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expectations:
    output: tuple[int | None, ...] | None = None
    params: int | None = None
    kernel: tuple[int | None, ...] | None = None
    bias: tuple[int | None, ...] | None = None
    max_params: int | None = None
    max_macs: int | None = None


def parse_expectations(values: Mapping[str, object]) -> Expectations:
    """`expect_*` / `max_params` values (None = not given) -> Expectations."""

    def shape(key: str) -> tuple[int | None, ...] | None:
        raw = values.get(key)
        return None if raw is None else parse_shape(raw, key)

    def count(key: str) -> int | None:
        raw = values.get(key)
        return None if raw is None else parse_int(raw, key, minimum=0)

    return Expectations(
        output=shape("expect_output"),
        params=count("expect_params"),
        kernel=shape("expect_kernel"),
        bias=shape("expect_bias"),
        max_params=count("max_params"),
        max_macs=count("max_macs"),
    )


def _listed(shape: tuple[int | None, ...] | tuple[int, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def evaluate(report: Report, expect: Expectations) -> tuple[Check, ...]:
    """One Check per expectation given."""
    checks: list[Check] = []
    kernel, bias = report.variable("kernel"), report.variable("bias")
    pairs: list[tuple[str, Any, Any, bool]] = []
    if expect.output is not None:
        pairs.append(("output_shape", list(expect.output), list(report.output_shape), False))
    if expect.params is not None:
        pairs.append(("params", expect.params, report.params.total, False))
    if expect.kernel is not None:
        pairs.append(("kernel_shape", list(expect.kernel), _listed(kernel.shape if kernel else None), False))
    if expect.bias is not None:
        pairs.append(("bias_shape", list(expect.bias), _listed(bias.shape if bias else None), False))
    if expect.max_params is not None:
        pairs.append(("max_params", expect.max_params, report.params.total, True))
    if expect.max_macs is not None:
        pairs.append(("max_macs", expect.max_macs, report.measures.cost.macs, True))
    for name, expected, actual, is_limit in pairs:
        ok = actual is not None and actual <= expected if is_limit else actual == expected
        checks.append(Check(name, expected, actual, ok))
    return tuple(checks)


def with_checks(report: Report, expect: Expectations) -> Report:
    return dataclasses.replace(report, checks=report.checks + evaluate(report, expect))


# -- spec files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One `[[layer]]` table of a spec file, with where it stands."""

    file: str
    index: int  # 1-based
    line: int
    values: dict[str, Any]

    @property
    def label(self) -> str:
        if self.index == 0:  # the file itself could not be read
            return Path(self.file).name
        name = self.values.get("name")
        return str(name) if name else f"{self.values.get('layer', 'conv2d')} #{self.index}"


@dataclass(frozen=True)
class EntryResult:
    entry: Entry
    status: str  # passed | failed | invalid
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


def _suggest(key: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _entry_lines(text: str, is_json: bool) -> list[int]:
    """1-based line of each entry, in order (TOML `[[layer]]` headers; JSON objects in "layer")."""
    if not is_json:
        return [text.count("\n", 0, m.start()) + 1 for m in re.finditer(r"(?m)^[ \t]*\[\[[ \t]*layer[ \t]*\]\]", text)]
    lines: list[int] = []
    depth, key, in_layer, i = 0, None, False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if depth == 1:
                key = text[i + 1 : end]
            i = end
        elif ch in "{[":
            if depth == 1:
                in_layer = ch == "[" and key == "layer"
            elif depth == 2 and in_layer and ch == "{":
                lines.append(text.count("\n", 0, i) + 1)
            depth += 1
        elif ch in "}]":
            depth -= 1
        i += 1
    return lines


_VALUE_TYPES = (str, int, bool, list)


def load_entries(path: str) -> list[Entry]:
    """Read one TOML or JSON spec file; InvalidInput names the file (and line) on error."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    if not text.strip():
        raise InvalidInput(f'{path}: the file is empty; expected [[layer]] tables (TOML) or {{"layer": [...]}}')
    is_json = path.lower().endswith(".json") or text.lstrip().startswith("{")
    try:
        data = json.loads(text) if is_json else tomllib.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"{path}:{err.lineno}: JSON syntax error: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"line (\d+)", str(err))
        where = f"{path}:{match.group(1)}" if match else path
        raise InvalidInput(f"{where}: TOML syntax error: {err}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a table/object with a 'layer' list at the top")
    for key in data:
        if key != "layer":
            raise InvalidInput(f"{path}: unknown top-level key '{key}'{_suggest(key, ['layer'])}")
    layers = data.get("layer")
    if not isinstance(layers, list) or not layers:
        raise InvalidInput(f'{path}: no layers; expected [[layer]] tables (TOML) or {{"layer": [{{...}}]}} (JSON)')
    lines = _entry_lines(text, is_json)
    entries = []
    for index, values in enumerate(layers, start=1):
        line = lines[index - 1] if index - 1 < len(lines) else 1
        entries.append(Entry(path, index, line, values if isinstance(values, dict) else {"__not_a_table__": values}))
    return entries


def _validate_keys(entry: Entry) -> None:
    for key, value in entry.values.items():
        if key == "__not_a_table__":
            raise InvalidInput(f"expected a table of settings, got {value!r}")
        if key not in ENTRY_KEYS:
            raise InvalidInput(f"unknown key '{key}'{_suggest(key, ENTRY_KEYS)}")
        items = value if isinstance(value, list) else [value]
        if not isinstance(value, _VALUE_TYPES) or not all(v is None or isinstance(v, (str, int)) for v in items):
            raise InvalidInput(
                f"wrong type for '{key}': expected an integer, a string or a list of integers; "
                f"got {type(value).__name__} {value!r}"
            )


# -- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRun:
    results: tuple[EntryResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        if self.count("invalid"):
            return EXIT_INVALID
        return EXIT_CHECK_FAILED if self.count("failed") else EXIT_OK

    def summary(self) -> dict[str, int]:
        return {
            "total": len(self.results),
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "invalid": self.count("invalid"),
            "exit_code": self.exit_code,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"schema": CHECK_SCHEMA, "results": [r.to_dict() for r in self.results], "summary": self.summary()}


def run_entry(entry: Entry, previous: Report | None, **engine_options: Any) -> EntryResult:
    """Check one entry; an entry without `input` chains on the previous entry's output."""
    values = dict(entry.values)
    try:
        _validate_keys(entry)
        if values.get("input") is None:
            if previous is None:
                raise InvalidInput("no 'input', and no previous entry whose output it could take")
            values["input"] = list(previous.output_shape)
        expect = parse_expectations({k: values.pop(k, None) for k in EXPECTATION_KEYS})
        report = with_checks(inspect_layer(values, **engine_options), expect)
    except ConvinspectError as err:
        return EntryResult(entry, "invalid", error=err.message(prefix=""))
    return EntryResult(entry, "passed" if report.ok else "failed", report=report)


def run_files(
    paths: Iterable[str],
    on_result: Callable[[EntryResult], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    **engine_options: Any,
) -> CheckRun:
    """Check every entry of every file, never stopping at a bad one."""
    plan: list[Entry | EntryResult] = []
    for path in paths:
        try:
            plan.extend(load_entries(path))
        except InvalidInput as err:
            plan.append(EntryResult(Entry(path, 0, _error_line(err), {}), "invalid", error=err.message()))
    if on_total:
        on_total(len(plan))
    results: list[EntryResult] = []
    previous: Report | None = None
    for item in plan:
        if isinstance(item, EntryResult):
            result = item
        else:  # chains do not cross files
            result = run_entry(item, previous if item.index > 1 else None, **engine_options)
        previous = result.report
        results.append(result)
        if on_result:
            on_result(result)
    return CheckRun(tuple(results))


def _error_line(err: InvalidInput) -> int:
    match = re.match(r"[^:]+:(\d+):", err.problem)
    return int(match.group(1)) if match else 1
