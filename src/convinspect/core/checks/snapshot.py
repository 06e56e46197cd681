"""Shape snapshots of a model: `--snapshot FILE` locks every layer's class, output shape,
parameters and MACs; `--against FILE` lists each layer added, removed or changed (field: old -> new).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convinspect.core.model.report import LayerRow, ModelReport
from convinspect.core.vocab.choices import Choice
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

SNAPSHOT_SCHEMA = "convinspect.snapshot/1"
_FIELDS = ("class", "output_shape", "params", "macs")


class ChangeKind(Choice):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    layer: str
    change: ChangeKind
    field: str | None = None
    old: Any = None
    new: Any = None
    layer_class: object = None  # an added or removed layer's class (as the snapshot holds it, for a removed one)

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "change": str(self.change), "field": self.field, "old": self.old, "new": self.new}


def _entry(row: LayerRow) -> dict[str, Any]:
    return {
        "class": row.class_name,
        "output_shape": None if row.output_shape is None else list(row.output_shape),
        "params": row.params.total,
        "macs": row.macs,
    }


def snapshot(report: ModelReport) -> dict[str, Any]:
    """The lock: every row (nested models' rows too), keyed by its path."""
    inputs = [None if s is None else list(s) for s in report.input_shapes]
    return {
        "schema": SNAPSHOT_SCHEMA,
        "model": report.name,
        "input_shape": inputs[0] if len(inputs) == 1 else inputs,
        "totals": {"params": report.totals.params.total, "macs": report.totals.macs},
        "layers": {row.key: _entry(row) for row in report.rows},
    }


def snapshot_text(report: ModelReport) -> str:
    return json.dumps(snapshot(report), indent=1, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Snapshot:
    """A --snapshot file read back for --against: where it came from, and each row's locked entry
    (as written, or as someone edited it: values stay as they are, to be compared)."""

    path: str
    layers: Mapping[str, Mapping[str, Any]]


def read_snapshot(text: str, path: str) -> Snapshot:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInput(f"{shown(path)} is not a snapshot: not valid JSON ({error})", "against") from None
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        raise InvalidInput(f"{shown(path)} is not a snapshot: it holds an integer with more digits than Python "
                           "reads (4,300)", "against") from None  # fmt: skip
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA or not isinstance(data.get("layers"), dict):
        raise InvalidInput(
            f"{shown(path)} is not a snapshot written by --snapshot (schema {SNAPSHOT_SCHEMA})", "against"
        )
    for key, entry in data["layers"].items():
        if not isinstance(entry, dict):
            raise InvalidInput(f"{shown(path)}: layer {shown(key)} is not an object", "against")
    return Snapshot(path, data["layers"])


def compare(old: Snapshot, report: ModelReport) -> tuple[Change, ...]:
    """Each layer added, removed or changed since the snapshot, in the report's order then the old one's."""
    before = old.layers
    now = {row.key: _entry(row) for row in report.rows}
    changes: list[Change] = []
    for key, entry in now.items():
        if key not in before:
            changes.append(Change(key, ChangeKind.ADDED, new=entry, layer_class=entry["class"]))
            continue
        for name in _FIELDS:
            if before[key].get(name) != entry[name]:
                changes.append(Change(key, ChangeKind.CHANGED, name, before[key].get(name), entry[name]))
    changes.extend(Change(key, ChangeKind.REMOVED, old=dict(entry), layer_class=entry.get("class"))
                   for key, entry in before.items() if key not in now)  # fmt: skip
    return tuple(changes)
