"""A picture of one spatial axis: cells, padding, kernel taps and unread cells.

Forward convs: the top row is the padded input, each row below one output and
the input cells it reads. Transposed convs: the top row is the output (with the
cropped cells around it), each row below one input and the cells it writes.
Long axes are cut to the interesting parts (the start, the first windows, the
last window and the end) with `…` between, so a diagram never runs past about
80 columns however large the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from convinspect.core.layer.geometry import AxisGeometry

CELL = 2  # characters per cell
MAX_CELLS = 32  # visible cells per diagram
SHOWN = 3  # rows drawn at the start; the last row is always drawn too

INPUT, PAD, UNREAD, TAP, GAP, EXTRA = "■", "░", "×", "●", "·", "○"
LEGEND = {
    False: f"{INPUT} input cell  {PAD} padding  {UNREAD} never read  {TAP} tap  {GAP} dilation gap",
    True: f"{INPUT} output cell  {PAD} cropped  {EXTRA} bias only  {TAP} written  {GAP} dilation gap",
}


def _rows(count: int) -> list[int | None]:
    """Indices of the rows to draw; None marks skipped rows."""
    if count <= SHOWN + 1:
        return list(range(count))
    return [*range(SHOWN), None, count - 1]


def _visible(spans: list[tuple[int, int]], length: int) -> list[int]:
    """The positions worth drawing: each span (start, stop) kept whole or cut to its ends."""
    if length <= MAX_CELLS:
        return list(range(length))
    budget = max(MAX_CELLS // max(len(spans), 1), 4)
    keep: set[int] = set()
    for start, stop in spans:
        start, stop = max(start, 0), min(stop, length)
        if stop - start <= budget:
            keep.update(range(start, stop))
        else:
            keep.update(range(start, start + budget // 2))
            keep.update(range(stop - budget // 2, stop))
    return sorted(keep)


def _line(label: str, glyph: Callable[[int], str], visible: list[int], width: int) -> str:
    out, previous = [], None
    for p in visible:
        if previous is not None and p != previous + 1:
            out.append("… ")
        out.append(glyph(p).ljust(CELL))
        previous = p
    return f"{label:<{width}}" + "".join(out).rstrip()


def _ruler(index_of: Callable[[int], int | None], visible: list[int], width: int) -> str:
    """Index labels under the top row, where they fit: multiples of 5 and each cut's first cell."""
    cuts = {p for q, p in pairwise(visible) if p != q + 1}
    end = len(visible) * CELL + len(cuts) * 2  # labels never run past the row they label
    chars = [" "] * end
    column, free = 0, 0  # free: first column not yet written
    for i, p in enumerate(visible):
        column += 2 if p in cuts else 0
        index = index_of(p)
        if index is not None and (index % 5 == 0 or i == 0 or p in cuts):
            text = str(index)
            if column >= free and column + len(text) <= end:
                chars[column : column + len(text)] = text
                free = column + len(text) + 1
        column += CELL
    return " " * width + "".join(chars).rstrip()


def heading(g: AxisGeometry) -> str:
    kernel = f"kernel {g.kernel}" + (f" dilated ×{g.dilation} → {g.effective_kernel}" if g.dilation > 1 else "")
    if g.transposed:
        extra = f", {g.extra_after} bias-only" if g.extra_after else ""
        return (
            f"{g.axis}: {g.input} inputs, {kernel}, stride {g.stride}, {g.padding}: "
            f"scatter {g.scatter_length}, crop {g.crop_before}+{g.crop_after}{extra} → {g.output}"
        )
    unread = f", {g.unread_trailing} never read" if g.unread_trailing else ""
    pads = f"{g.padding} pad {g.pad_before}+{g.pad_after}"
    return f"{g.axis}: {g.input} cells, {kernel}, stride {g.stride}, {pads}{unread} → {g.output}"


def _top(g: AxisGeometry) -> tuple[int, int, Callable[[int], str], Callable[[int], int | None]]:
    """(offset of index 0, drawn length, glyph of each cell, index of each cell) of the top row."""
    if g.transposed:
        start, stop, scatter = g.crop_before, g.crop_before + g.output, g.scatter_length

        def out_glyph(p: int) -> str:
            if p >= scatter:
                return EXTRA
            return INPUT if start <= p < stop else PAD

        return start, scatter + g.extra_after, out_glyph, lambda p: p - start if start <= p < stop else None
    offset, n = g.pad_before, g.input
    unread_from = offset + n - g.unread_trailing

    def in_glyph(p: int) -> str:
        if not offset <= p < offset + n:
            return PAD
        return UNREAD if p >= unread_from else INPUT

    return offset, offset + n + g.pad_after, in_glyph, lambda p: p - offset if offset <= p < offset + n else None


def _shifted(positions: range, by: int) -> range:
    return range(positions.start + by, positions.stop + by, positions.step)


def axis_diagram(g: AxisGeometry) -> list[str]:
    """Heading, top row with its ruler, one row per drawn output (or input), and a legend."""
    offset, length, top_glyph, index_of = _top(g)
    if g.transposed:
        count, top, row_label = g.input, "out", "in"
        tail = (min(g.crop_before + g.output, g.scatter_length), length)
    else:
        count, top, row_label = g.output, "in", "out"
        tail = (offset + g.input - g.unread_trailing, length)
    rows = _rows(count)
    drawn = [r for r in rows if r is not None]
    # The geometry's own taps (proven against TensorFlow's gradients), shifted onto the drawn row.
    taps = {r: _shifted(g.taps(r), offset) for r in drawn}
    spans = [(0, offset), *((taps[r][0], taps[r][-1] + 1) for r in (*drawn[:SHOWN], drawn[-1])), tail]
    visible = _visible([span for span in spans if span[1] > span[0]], length)
    width = len(f"{row_label} {count - 1}") + 2
    lines = [heading(g), _line(top, top_glyph, visible, width), _ruler(index_of, visible, width)]
    for r in rows:
        if r is None:
            lines.append("⋮")
            continue

        def tap(p: int, hits: range = taps[r]) -> str:
            if p in hits:
                return TAP
            return GAP if hits[0] < p < hits[-1] else " "

        lines.append(_line(f"{row_label} {r}", tap, visible, width))
    lines.append(" " * width + LEGEND[g.transposed])
    return lines


def layer_diagram(geometry: tuple[AxisGeometry, ...]) -> list[dict[str, object]]:
    """The JSON form: one {"axis", "lines"} per spatial axis."""
    return [{"axis": g.axis, "lines": axis_diagram(g)} for g in geometry]
