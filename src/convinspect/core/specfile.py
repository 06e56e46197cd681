"""Spec files: TOML `[[layer]]` tables or JSON `{"layer": [...]}`, read into entries that know their line."""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convinspect.core.expectations import EXPECTATION_KEYS
from convinspect.core.spec import OPTION_NAMES
from convinspect.errors import InvalidInput

ENTRY_KEYS = (*OPTION_NAMES, *EXPECTATION_KEYS)


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


def _suggest(key: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _toml_lines(text: str) -> list[int]:
    """1-based line of each `[[layer]]` header, in order (tomllib keeps no positions)."""
    starts = re.finditer(r"(?m)^[ \t]*\[\[[ \t]*layer[ \t]*\]\]", text)
    return [text.count("\n", 0, m.start()) + 1 for m in starts]


def _json_with_lines(text: str) -> tuple[Any, dict[int, int]]:
    """Parse JSON, noting the 1-based line where each object starts (by the object's id).

    json's pure-Python scanner takes a `parse_object` hook that sees each object's offset;
    the C scanner does not, and spec files are small.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]
    lines: dict[int, int] = {}

    def parse_object(state: tuple[str, int], *args: Any) -> tuple[Any, int]:
        obj, end = json.decoder.JSONObject(state, *args)  # type: ignore[attr-defined]
        lines[id(obj)] = bisect.bisect_left(newlines, state[1]) + 1
        return obj, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text), lines


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
        data, lines = _json_with_lines(text) if is_json else (tomllib.loads(text), {})
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
    headers = [] if is_json else _toml_lines(text)
    entries = []
    for index, values in enumerate(layers, start=1):
        line = lines.get(id(values), 1) if is_json else (headers[index - 1] if index - 1 < len(headers) else 1)
        entries.append(Entry(path, index, line, values if isinstance(values, dict) else {"__not_a_table__": values}))
    return entries


def validate_keys(entry: Entry) -> None:
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
