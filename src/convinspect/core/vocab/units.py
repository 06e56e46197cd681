"""Human-readable numbers: binary byte units and thousands separators."""

from __future__ import annotations

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
