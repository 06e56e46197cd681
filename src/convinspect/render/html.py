"""HTML that stands alone: escaped text, a table, and a block with its own inline style (no script,
no external resource), for the notebook display and, later, whole pages."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

STYLE = (
    "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;line-height:1.4;"
    "max-width:none;overflow-x:auto"
)
CELL = "padding:2px 10px;border-bottom:1px solid #ddd;white-space:nowrap;text-align:{align}"


def text(value: object) -> str:
    return escape(str(value), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A table of plain-text cells (escaped here); columns in `numeric` align right."""

    def cell(tag: str, index: int, value: str) -> str:
        style = CELL.format(align="right" if index in numeric else "left")
        return f'<{tag} style="{style}">{text(value)}</{tag}>'

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def block(title: str, parts: Sequence[str], notes: Sequence[str] = ()) -> str:
    """One self-contained block: a title, its parts (already HTML), and notes as paragraphs."""
    lines = "".join(f'<p style="margin:4px 0">{text(note)}</p>' for note in notes)
    return (f'<div class="convinspect" style="{STYLE}"><p style="margin:4px 0"><b>{text(title)}</b></p>'
            + "".join(parts) + lines + "</div>")  # fmt: skip
