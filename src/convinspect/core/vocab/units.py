"""Human-readable numbers: binary byte units and thousands separators."""

from __future__ import annotations

import re

from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_bytes(count: int) -> str:
    """`6656` -> `6.5 KiB`; binary units, at most three significant decimals."""
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{count:,} B"
            return f"{value:,.2f}".rstrip("0").rstrip(".") + f" {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def thousands(count: int) -> str:
    return f"{count:,}"


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}  # fmt: skip
MAX_BYTES = 2**63 - 1


def parse_bytes(raw: object, option: str) -> int:
    """`16GiB`, `1.5 GB`, `500MB`, `1000000`: a byte count (binary units KiB…PiB, decimal kB…PB)."""
    if isinstance(raw, bool):
        raise InvalidInput(f"expected a byte count such as 16GiB; got {raw!r}", option)
    if isinstance(raw, int):
        value, unit = float(raw), ""
        exact: int | None = raw
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*", str(raw), flags=re.ASCII)
        if match is None or match.group(2).lower() not in _BYTE_UNITS:
            raise InvalidInput(f"{shown(raw, 40)} is not a byte count: give a number with an optional unit "
                               "(B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB), e.g. 16GiB", option)  # fmt: skip
        value, unit = float(match.group(1)), match.group(2).lower()
        exact = int(match.group(1)) * _BYTE_UNITS[unit] if match.group(1).isdigit() else None
    count = exact if exact is not None else int(value * _BYTE_UNITS[unit])
    if not 1 <= count <= MAX_BYTES:
        raise InvalidInput(f"{shown(raw, 40)}: expected 1 byte to {MAX_BYTES:,} bytes", option)
    return count
