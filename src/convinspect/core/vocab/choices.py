"""Every closed set of values a user picks from, as enums converted once at the entry."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

C = TypeVar("C", bound="Choice")


class Choice(str, Enum):
    """A string enum that prints and formats as its value (Python 3.10's missing StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __hash__(self) -> int:  # equal to its value, so a member and its string are one dictionary key
        return hash(self.value)

    @classmethod
    def parse(cls: type[C], raw: object, option: str, allowed: tuple[C, ...] | None = None) -> C:
        """One of `allowed` (default: every member), case-insensitively; InvalidInput names the option."""
        choice = raw if isinstance(raw, cls) else cls._value2member_map_.get(str(raw).strip().lower())
        if choice is not None and (allowed is None or choice in allowed):
            return choice  # type: ignore[return-value]
        names = ", ".join(c.value for c in (tuple(cls) if allowed is None else allowed))
        raise InvalidInput(f"unknown value {shown(raw)}; expected one of {names}", option)


class Engine(Choice):
    KERAS = "keras"
    ANALYTIC = "analytic"
    BOTH = "both"


class Forward(Choice):
    """How the Keras engine calls the layer."""

    AUTO = "auto"
    EAGER = "eager"
    SYMBOLIC = "symbolic"


class Format(Choice):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    PLAIN = "plain"
    JUNIT = "junit"
    GITHUB = "github"
    CSV = "csv"
    SVG = "svg"
    HTML = "html"


class Padding(Choice):
    VALID = "valid"
    SAME = "same"
    CAUSAL = "causal"


class DataFormat(Choice):
    """Where the channels sit in a full shape (batch first); the one place that slices shapes."""

    CHANNELS_LAST = "channels_last"
    CHANNELS_FIRST = "channels_first"

    @property
    def channel_axis(self) -> int:
        return -1 if self is DataFormat.CHANNELS_LAST else 1

    def channels(self, shape: tuple[int | None, ...]) -> int:
        value = shape[self.channel_axis]
        assert value is not None, "only the batch may be unknown"
        return value

    def spatial(self, shape: tuple[int | None, ...]) -> tuple[int, ...]:
        dims = shape[1:-1] if self is DataFormat.CHANNELS_LAST else shape[2:]
        return tuple(d for d in dims if d is not None)

    def assemble(self, batch: int | None, spatial: tuple[int, ...], channels: int) -> tuple[int | None, ...]:
        if self is DataFormat.CHANNELS_LAST:
            return (batch, *spatial, channels)
        return (batch, channels, *spatial)

    def axes(self, spatial_axes: tuple[str, ...]) -> tuple[str, ...]:
        """Names of a full shape's axes, e.g. ("batch", "height", "width", "channels")."""
        return self.assemble("batch", spatial_axes, "channels")  # type: ignore[arg-type,return-value]
