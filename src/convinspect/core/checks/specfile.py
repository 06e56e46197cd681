"""Spec files: TOML `[[layer]]`/`[[model]]` tables or JSON `{"layer": [...], "model": [...]}`, read into
entries that know their line."""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convinspect.core.checks.expectations import EXPECTATION_KEYS
from convinspect.core.layer.spec import OPTION_NAMES
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

ENTRY_KEYS = (*OPTION_NAMES, *EXPECTATION_KEYS, "verify", "cpu_kernels")
MODEL_ENTRY_KEYS = (
    "source",
    "input",
    "name",
    "expect_params",
    "max_params",
    "max_macs",
    "expect_runs",
    "cpu_kernels",
    "layer",
    "max_training_memory",
    "optimizer",
    "batch",
)
KINDS = ("layer", "model")


@dataclass(frozen=True)
class Entry:
    """One `[[layer]]` table of a spec file, with where it stands."""

    file: str
    index: int  # 1-based, within its kind
    line: int
    values: dict[str, Any]
    kind: str = "layer"  # layer | model

    @property
    def label(self) -> str:
        if self.index == 0:  # the file itself could not be read
            return Path(self.file).name
        name = self.values.get("name")
        if name:
            return str(name)
        if self.kind == "model":
            return f"{self.values.get('source', 'model')} #{self.index}"
        return f"{self.values.get('layer', 'conv2d')} #{self.index}"


def _suggest(key: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Lines:
    """Offsets to 1-based line numbers, in O(log n) each."""

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1


_WS = re.compile(r"[ \t\r\n]*")


def _json_layer_offsets(text: str, decoder: json.JSONDecoder, kind: str = "layer") -> list[int]:
    """Where each item of the top-level `kind` array starts, found with json's own (C) decoder."""
    pos = _WS.match(text, 0).end() + 1  # type: ignore[union-attr]  # past the top-level "{"
    while pos < len(text):
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos] == "}":
            break
        key, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end() + 1  # type: ignore[union-attr]  # past ":"
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if key == kind and text[pos] == "[":
            starts: list[int] = []
            pos += 1
            while True:
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos] == "]":
                    return starts
                starts.append(pos)
                _, pos = decoder.raw_decode(text, pos)
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                pos += text[pos] == ","
        _, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        pos += text[pos] == ","
    return []


def _toml_layer_offsets(text: str, kind: str = "layer") -> list[int]:
    """Where each entry starts: `[[layer]]` headers, or the items of an inline `layer = [...]`."""
    headers = [m.start() for m in re.finditer(rf"(?m)^[ \t]*\[\[[ \t]*[\"']?{kind}[\"']?[ \t]*\]\]", text)]
    inline = re.search(rf"(?m)^[ \t]*[\"']?{kind}[\"']?[ \t]*=[ \t]*\[", text)
    return headers if headers or inline is None else _inline_items(text, inline.end())


def _inline_items(text: str, i: int) -> list[int]:
    """Start offsets of the items of a TOML array whose `[` ends just before `i`."""
    starts: list[int] = []
    depth, expect = 0, True
    while i < len(text):
        char = text[i]
        if char == "#":  # a comment runs to the end of the line
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        if char in " \t\r\n":
            i += 1
            continue
        if depth == 0:
            if char == "]":
                break
            if char == ",":
                expect, i = True, i + 1
                continue
            if expect:
                starts.append(i)
                expect = False
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, i) else char
            j = i + len(quote)
            while j < len(text) and not text.startswith(quote, j):
                j += 2 if char == '"' and text[j] == "\\" else 1
            i = j + len(quote)
            continue
        depth += char in "[{"
        depth -= char in "]}"
        i += 1
    return starts


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects with a key given twice are refused (TOML refuses them too)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    pass


_VALUE_TYPES = (str, int, bool, list)
_SHAPE = 'expected [[layer]] or [[model]] tables (TOML) or {"layer": [{...}]} (JSON)'


MAX_SPEC_BYTES = 256 * 2**20  # /dev/zero or `yes |` must not fill the memory


def _read(path: str) -> str:
    """A spec file's text (`-`: standard input), at most MAX_SPEC_BYTES, UTF-8 with or without a BOM."""
    try:
        if path == "-":
            if sys.stdin is None:
                raise InvalidInput("-: standard input is closed")
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(MAX_SPEC_BYTES + 1) if stream else sys.stdin.read(MAX_SPEC_BYTES + 1).encode()
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_SPEC_BYTES + 1)
        if len(data) > MAX_SPEC_BYTES:
            raise InvalidInput(f"{path}: larger than {MAX_SPEC_BYTES // 2**20} MiB; split it into several files")
        return data.decode("utf-8-sig")  # a byte-order mark is not part of the text
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{path}: cannot read: not UTF-8 text (byte {err.start + 1})") from None
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read: {err.strerror or err}") from None


class SpecFileError(InvalidInput):
    """A spec file that cannot be read, and the line the problem is on (1 when it is on none)."""

    def __init__(self, problem: str, line: int = 1) -> None:
        super().__init__(problem)
        self.line = line

    def __reduce__(self) -> tuple[type[SpecFileError], tuple[str, int]]:  # type: ignore[override]
        return type(self), (self.problem, self.line)


def load_entries(path: str) -> list[Entry]:
    """Read one TOML or JSON spec file (`-`: standard input); InvalidInput names the file (and line)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    text = _read(path)
    if not text.strip():
        raise InvalidInput(f"{path}: the file is empty; {_SHAPE}")
    is_json = text.lstrip().startswith("{") or (path.lower().endswith(".json") and not text.lstrip()[:1].isalpha())
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    try:
        data = decoder.decode(text) if is_json else tomllib.loads(text)
    except json.JSONDecodeError as err:
        raise SpecFileError(
            f"{path}:{err.lineno}: JSON syntax error: {err.msg} (line {err.lineno}, column {err.colno})", err.lineno
        ) from None
    except tomllib.TOMLDecodeError as err:
        line = getattr(err, "lineno", None)  # tomllib's since Python 3.14; older ones say it in the message
        if line is None:
            match = re.search(r"line (\d+)", str(err))
            line = int(match.group(1)) if match else None
        where = path if line is None else f"{path}:{line}"
        raise SpecFileError(f"{where}: TOML syntax error: {err}", line or 1) from None
    except _DuplicateKey as err:
        raise InvalidInput(f"{path}: the key {shown(err.args[0])} is given twice in one object") from None
    except RecursionError:
        raise InvalidInput(f"{path}: nested too deeply to be a spec file") from None
    except ValueError as err:  # e.g. an integer past Python's 4,300-digit conversion limit
        why = "an integer has more digits than Python reads (4,300)" if "digits" in str(err) else shown(err, 120)
        raise InvalidInput(f"{path}: cannot read: {why}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a table/object with a 'layer' or 'model' list at the top")
    for key in data:
        if key not in KINDS:
            raise InvalidInput(f"{path}: unknown top-level key {shown(key)}{_suggest(key, KINDS)}")
    lines = _Lines(text)
    entries = []
    for kind in KINDS:
        items = data.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            raise InvalidInput(f"{path}: '{kind}' must be a list of tables; {_SHAPE}")
        starts = _json_layer_offsets(text, decoder, kind) if is_json else _toml_layer_offsets(text, kind)
        for index, values in enumerate(items, start=1):
            line = lines.at(starts[index - 1]) if index - 1 < len(starts) else 1
            table = values if isinstance(values, dict) else {"__not_a_table__": values}
            entries.append(Entry(path, index, line, table, kind))
    if not entries:
        raise InvalidInput(f"{path}: no layers or models; {_SHAPE}")
    return entries


def validate_model_keys(entry: Entry) -> None:
    """A [[model]] table: its own keys, and `[model.layer.NAME]` tables of expectations."""
    for key, value in entry.values.items():
        if key == "__not_a_table__":
            raise InvalidInput(f"expected a table of settings, got {shown(value)}")
        if key not in MODEL_ENTRY_KEYS:
            raise InvalidInput(f"unknown key '{key}' in a [[model]] table{_suggest(key, MODEL_ENTRY_KEYS)}")
    if not isinstance(entry.values.get("source"), str):
        raise InvalidInput("a [[model]] table needs source = \"model.keras\" (a file, module:function or "
                           "keras.applications.NAME)")  # fmt: skip
    layers = entry.values.get("layer", {})
    if not isinstance(layers, dict) or not all(isinstance(v, dict) for v in layers.values()):
        raise InvalidInput("'layer' in a [[model]] table holds [model.layer.NAME] tables of expectations")


def validate_keys(entry: Entry) -> None:
    for key, value in entry.values.items():
        if key == "__not_a_table__":
            raise InvalidInput(f"expected a table of settings, got {shown(value)}")
        if key not in ENTRY_KEYS:
            raise InvalidInput(f"unknown key '{key}'{_suggest(key, ENTRY_KEYS)}")
        items = value if isinstance(value, list) else [value]
        if not isinstance(value, _VALUE_TYPES) or not all(v is None or isinstance(v, (str, int)) for v in items):
            raise InvalidInput(
                f"wrong type for '{key}': expected an integer, a string or a list of integers; "
                f"got {type(value).__name__} {shown(value)}"
            )
