"""What a model SOURCE names, as plain data: a file and the configuration read from it, a builder, or an
application (engines/sources.py reads it; both engines and the report take it from here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from convinspect.core.vocab.choices import Choice


class SourceKind(Choice):
    ARCHIVE = "keras-archive"
    H5 = "h5"
    JSON = "json"
    BUILDER = "builder"
    APPLICATION = "application"
    LIVE = "live"  # a Keras object in this process (convinspect.summary)


@dataclass(frozen=True)
class Source:
    text: str  # as the user wrote it
    kind: SourceKind
    path: Path | None = None  # files, and builders defined in a file
    config: dict[str, Any] | None = None  # files: the serialized model
    target: str | None = None  # builders: module or file; applications: the class name
    function: str | None = None  # builders

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "location": self.text}

    def named(self) -> Source:
        """The source without the configuration it holds: what a report keeps of it."""
        return replace(self, config=None)
