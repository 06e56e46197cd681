"""`build --format svg`: the arithmetic of one conv layer, drawn from the geometry the report computed.

Forward convs: per panel, the padded input (padding cells hatched), the cells one chosen output cell
reads (its taps, with the dilation gaps between them), the window of the next output cell along the
last axis (the stride step, dashed), the input cells no output reads, and the output with the chosen
cell. Transposed convs: the chosen input cell and the cells its kernel writes (the scatter), with the
cropped cells and those that `output_padding` adds (bias only). A 2D layer is a grid, a 1D layer a row,
a 3D layer its first two axes. Groups and depth multipliers are drawn as channel blocks. Long axes are
cut to the cells worth seeing, with an ellipsis between, so a figure never holds thousands of cells.

Every cell is a `<rect data-cell=KIND>`, so a test counts what the figure shows. The palette is
Okabe and Ito's, safe for colour-blind readers, and every kind has a pattern or an outline besides.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.families import Family
from convinspect.core.layer.geometry import AxisGeometry, figure_axes
from convinspect.core.layer.kinds import Kind
from convinspect.core.layer.report import Report
from convinspect.core.vocab.text import inert
from convinspect.render.words import geometry_formula, shape_text

Shape = tuple[int | None, ...]

CELL = 18  # pixels per cell
MORE = 14  # pixels an ellipsis takes in place of the cells it hides
MAX_CELLS = 25  # cells drawn per axis, at most
FONT = "font-family:DejaVu Sans,Verdana,Arial,sans-serif"

# Okabe-Ito colours; patterns make each kind readable without colour.
INPUT, PAD, TAP, UNREAD, OUTPUT, CHOSEN, CROP, EXTRA = (
    "#d9d9d9", "#ffffff", "#0072b2", "#e69f00", "#f2f2f2", "#d55e00", "#ffffff", "#009e73",
)  # fmt: skip

STYLE = (
    f"text{{{FONT};font-size:12px;fill:#1a1a1a}} .title{{font-size:14px;font-weight:bold}} "
    ".small{font-size:11px} rect{stroke:#555;stroke-width:0.6} .tap{stroke:#ffffff} .bare{stroke:none}"
)
DEFS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern>'
    '<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<circle cx="3" cy="3" r="1.2" fill="#1a1a1a"/></pattern>'
    '<pattern id="cross" width="8" height="8" patternUnits="userSpaceOnUse">'
    '<path d="M0,0 L8,8 M8,0 L0,8" stroke="#1a1a1a" stroke-width="0.8"/></pattern>'
    f'<pattern id="unread" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" '
    f'fill="{UNREAD}" class="bare"/><path d="M0,0 L8,8 M8,0 L0,8" stroke="#1a1a1a" stroke-width="0.7"/>'
    "</pattern></defs>"
)


def xml(text: object) -> str:
    """Text as SVG and HTML carry it: control characters escaped visibly, markup escaped."""
    return html.escape(inert(str(text)), quote=True)


def chosen_cells(geometry: Sequence[AxisGeometry]) -> list[tuple[int, ...]]:
    """The cells the figure follows when none is asked for: the first, and the first that reaches the
    far padding (forward) or the far crop (transposed) on some axis, when there is one."""
    axes = figure_axes(geometry)
    first = tuple(0 for _ in axes)
    far = tuple(_first_far(g) for g in axes)
    other = tuple(i or 0 for i in far)
    return [first] if all(i is None for i in far) or other == first else [first, other]


def _first_far(g: AxisGeometry) -> int | None:
    count = g.input if g.transposed else g.output
    limit = g.output if g.transposed else g.input
    return next((i for i in range(min(count, 10_000)) if g.taps(i)[-1] >= limit), None)


# -- which positions of an axis are drawn ---------------------------------------------------------


def _visible(low: int, high: int, spans: Iterable[tuple[int, int]]) -> list[int | None]:
    """Positions low..high-1 worth drawing: all when few, else the ends and each span (start, stop),
    cut to their own ends when long; None stands for the positions skipped."""
    if high - low <= MAX_CELLS:
        return list(range(low, high))
    keep = {low, low + 1, high - 2, high - 1}
    for start, stop in spans:
        start, stop = max(start, low), min(stop, high)
        if stop - start <= 7:
            keep.update(range(start, stop))
        else:
            keep.update(range(start, start + 3))
            keep.update(range(stop - 3, stop))
    out: list[int | None] = []
    for p in sorted(keep):
        if out and out[-1] is not None and p != out[-1] + 1:
            out.append(None)
        out.append(p)
    return out


def _xs(positions: Sequence[int | None], origin: float) -> dict[int, float]:
    """Where each drawn position sits along the axis, in pixels from `origin`."""
    at, where = origin, {}
    for p in positions:
        if p is None:
            at += MORE
            continue
        where[p] = at
        at += CELL
    return where


def _extent(positions: Sequence[int | None]) -> float:
    return sum(MORE if p is None else CELL for p in positions)


@dataclass
class _Canvas:
    parts: list[str]
    width: float = 0.0
    height: float = 0.0

    def add(self, text: str, right: float = 0.0, bottom: float = 0.0) -> None:
        self.parts.append(text)
        self.width, self.height = max(self.width, right), max(self.height, bottom)

    def text(self, x: float, y: float, words: str, css: str = "") -> None:
        klass = f' class="{css}"' if css else ""
        self.add(f'<text x="{x:.0f}" y="{y:.0f}"{klass}>{words}</text>', x + 7 * len(words), y + 4)


def _rect(kind: str, x: float, y: float, fill: str, size: float = CELL, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return (f'<rect data-cell="{kind}"{klass} x="{x:.0f}" y="{y:.0f}" width="{size:.0f}" height="{size:.0f}" '
            f'fill="{fill}"/>')  # fmt: skip


def _grid(canvas: _Canvas, rows: Sequence[int | None], cols: Sequence[int | None], x: float, y: float,
          kind_of: object) -> tuple[dict[int, float], dict[int, float]]:  # fmt: skip
    """Draw one grid of cells; `kind_of(r, c)` gives (kind, fill). Ellipses where positions are cut."""
    ys, xs = _xs(rows, y), _xs(cols, x)
    for r in (p for p in rows if p is not None):
        for c in (p for p in cols if p is not None):
            kind, fill = kind_of(r, c)  # type: ignore[operator]
            canvas.add(_rect(kind, xs[c], ys[r], fill), xs[c] + CELL, ys[r] + CELL)
    for index, p in enumerate(cols):
        if p is None:
            at = x + _extent(cols[:index])
            canvas.add(f'<text data-cell="more" x="{at + 2:.0f}" y="{y - 4:.0f}">…</text>')
    for index, p in enumerate(rows):
        if p is None:
            at = y + _extent(rows[:index])
            canvas.add(f'<text data-cell="more" x="{x - 12:.0f}" y="{at + 11:.0f}">⋮</text>')
    return ys, xs


def _box(ys: dict[int, float], xs: dict[int, float], rows: range, cols: range, kind: str, css: str) -> str:
    """An outline around the drawn part of the cells rows × cols."""
    shown_r, shown_c = [r for r in rows if r in ys], [c for c in cols if c in xs]
    if not shown_r or not shown_c:
        return ""
    x0, y0 = xs[shown_c[0]], ys[shown_r[0]]
    x1, y1 = xs[shown_c[-1]] + CELL, ys[shown_r[-1]] + CELL
    return (f'<rect data-cell="{kind}" x="{x0 - 2:.0f}" y="{y0 - 2:.0f}" width="{x1 - x0 + 4:.0f}" '
            f'height="{y1 - y0 + 4:.0f}" fill="none" style="{css}"/>')  # fmt: skip


# -- the figure -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """What a figure draws: one conv layer call, its shapes and its geometry."""

    kind: Kind
    name: str
    config: LayerConfig
    input_shape: Shape
    output_shape: Shape
    geometry: Sequence[AxisGeometry]


def report_svg(report: Report, at: Sequence[int] | None = None) -> str:
    """The layer's arithmetic as one self-contained SVG document."""
    layer = Layer(report.kind, report.name, report.config, report.input_shape, report.output_shape,
                  report.measures.geometry)  # fmt: skip
    return layer_svg(layer, [tuple(at)] if at is not None else chosen_cells(layer.geometry))


def layer_svg(report: Layer, cells: Sequence[tuple[int, ...]]) -> str:
    """The figure of `report`, following each of `cells`."""
    geometry = report.geometry
    axes = figure_axes(geometry)
    canvas = _Canvas([])
    name = report.name if len(report.name) <= 60 else report.name[:59] + "…"
    title = (f"{xml(report.kind.class_name)} {xml(repr(name))}: input {shape_text(report.input_shape)} → "
             f"output {shape_text(report.output_shape)}")  # fmt: skip
    canvas.text(12, 22, title, "title")
    y = 44.0
    for cell in cells:
        y = (_transposed if axes[0].transposed else _forward)(canvas, axes, cell, y) + 24
    y = _channels(canvas, report, y)
    y = _legend(canvas, axes[0].transposed, y + 6)
    for g in geometry:
        canvas.text(12, y + 14, xml(geometry_formula(g) + _skipped(g)), "small")
        y += 18
    if len(geometry) > 2:
        canvas.text(12, y + 14, xml(f"(a {len(geometry)}D layer: the first two axes are drawn; the "
                                    f"{geometry[2].axis} axis follows the same arithmetic)"), "small")  # fmt: skip
        y += 18
    width, height = max(canvas.width + 12, 320), y + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img"><title>{title}</title>'
        f"<style>{STYLE}</style>{DEFS}"
        f'<rect class="bare" width="100%" height="100%" fill="#ffffff"/>' + "".join(canvas.parts) + "</svg>\n"
    )


def _skipped(g: AxisGeometry) -> str:
    """The cells a stride longer than the kernel jumps over, which the formula does not tell."""
    if g.stride <= g.effective_kernel or max(g.input, g.output) > 1_000_000:
        return ""
    if g.transposed:
        gaps = sum(1 for q in range(g.output - g.extra_after) if not g.touched(q))
        return f"; {gaps} output cell(s) between scatters get only the bias" if gaps else ""
    gaps = sum(1 for p in range(g.input - g.unread_trailing) if not g.touched(p))
    return f"; {gaps} input cell(s) between windows are never read" if gaps else ""


def _axes2(axes: Sequence[AxisGeometry], cell: Sequence[int]) -> tuple[AxisGeometry | None, AxisGeometry, int, int]:
    """(row axis or None for a 1D layer, column axis, row index, column index)."""
    if len(axes) == 1:
        return None, axes[0], 0, cell[0]
    return axes[0], axes[1], cell[0], cell[1]


def _forward(canvas: _Canvas, axes: Sequence[AxisGeometry], cell: Sequence[int], y: float) -> float:
    rg, cg, i, j = _axes2(axes, cell)

    def span(g: AxisGeometry | None, index: int) -> tuple[list[int | None], range, range | None]:
        if g is None:
            return [0], range(0, 1), None
        taps = g.taps(index)
        window = range(taps.start, taps[-1] + 1)
        after = g.taps(index + 1) if index + 1 < g.output else None
        unread = (g.input - g.unread_trailing, g.input)
        spans = [(window.start, window.stop), unread, (g.input - 2, g.input + g.pad_after)]
        if after is not None:
            spans.append((after.start, after[-1] + 1))
        return _visible(-g.pad_before, g.input + g.pad_after, spans), taps, after

    rows, row_taps, _ = span(rg, i)
    cols, col_taps, next_cols = span(cg, j)
    row_read = {r: rg is None or not 0 <= r < rg.input or rg.touched(r) for r in rows if r is not None}
    col_read = {c: not 0 <= c < cg.input or cg.touched(c) for c in cols if c is not None}
    label = ", ".join(str(v) for v in ([i, j] if rg is not None else [j]))
    heading = f"input with padding: the cells output ({label}) reads"
    canvas.text(12, y + 12, heading, "small")
    top, left = y + 24, 28.0

    def kind(r: int, c: int) -> tuple[str, str]:
        outside = (rg is not None and not 0 <= r < rg.input) or not 0 <= c < cg.input
        if outside:
            return "pad", "url(#hatch)"
        if (rg is not None and not row_read[r]) or not col_read[c]:
            return "unread", "url(#unread)"
        return "in", INPUT

    ys, xs = _grid(canvas, rows, cols, left, top, kind)
    taps_r = row_taps if rg is not None else range(0, 1)
    for r in taps_r:
        for c in col_taps:
            if r in ys and c in xs:
                canvas.add(_rect("tap", xs[c] + 3, ys[r] + 3, TAP, CELL - 6, "tap"))
    dilated = (rg is not None and rg.dilation > 1) or cg.dilation > 1
    if dilated:  # the cells between taps, inside the window
        for r in range(taps_r.start, taps_r[-1] + 1):
            for c in range(col_taps.start, col_taps[-1] + 1):
                if r in ys and c in xs and (r not in taps_r or c not in col_taps):
                    canvas.add(_rect("gap", xs[c] + 5, ys[r] + 5, "url(#dots)", CELL - 10, "bare"))
    canvas.add(_box(ys, xs, range(taps_r.start, taps_r[-1] + 1), range(col_taps.start, col_taps[-1] + 1),
                    "window", f"stroke:{TAP};stroke-width:2.5"))  # fmt: skip
    if next_cols is not None:
        canvas.add(_box(ys, xs, range(taps_r.start, taps_r[-1] + 1), range(next_cols.start, next_cols[-1] + 1),
                        "step", "stroke:#1a1a1a;stroke-width:1.5;stroke-dasharray:4 3"))  # fmt: skip
    right = left + _extent(cols)
    bottom = top + _extent(rows)
    out_left = max(right + 56, 12 + 6.2 * len(heading) + 16)
    canvas.text(right + 12, top + _extent(rows) / 2, "→")
    out_rows = [0] if rg is None else _visible(0, rg.output, [(i, i + 2)])
    out_cols = _visible(0, cg.output, [(j, j + 2)])
    canvas.text(out_left, y + 12, "output", "small")

    def out_kind(r: int, c: int) -> tuple[str, str]:
        return ("at", CHOSEN) if (rg is None or r == i) and c == j else ("out", OUTPUT)

    _grid(canvas, out_rows, out_cols, out_left, top, out_kind)
    stride = f"stride {cg.stride}" + (f" · dilation {cg.dilation}" if cg.dilation > 1 else "")
    step = (
        f"dashed: the next output's window ({stride} along {cg.axis})"
        if next_cols is not None
        else (f"the last output along {cg.axis} ({stride})")
    )
    canvas.text(left, bottom + 20, xml(step), "small")
    return max(bottom, top + _extent(out_rows)) + 24


def _transposed(canvas: _Canvas, axes: Sequence[AxisGeometry], cell: Sequence[int], y: float) -> float:
    rg, cg, i, j = _axes2(axes, cell)
    label = ", ".join(str(v) for v in ([i, j] if rg is not None else [j]))
    canvas.text(12, y + 12, f"input cell ({label})", "small")
    top, left = y + 24, 28.0
    in_rows = [0] if rg is None else _visible(0, rg.input, [(i, i + 1)])
    in_cols = _visible(0, cg.input, [(j, j + 1)])

    def in_kind(r: int, c: int) -> tuple[str, str]:
        return ("at", CHOSEN) if (rg is None or r == i) and c == j else ("in", INPUT)

    _grid(canvas, in_rows, in_cols, left, top, in_kind)
    right = left + _extent(in_cols)
    canvas.text(right + 12, top + CELL, "→")
    out_left = right + 56

    def span(g: AxisGeometry | None, index: int) -> tuple[list[int | None], range]:
        if g is None:
            return [0], range(0, 1)
        taps = g.taps(index)
        low, high = -g.crop_before, g.output + g.crop_after
        spans = [(taps.start, taps[-1] + 1), (g.output - g.extra_after - 1, high)]
        return _visible(low, high, spans), taps

    rows, row_taps = span(rg, i)
    cols, col_taps = span(cg, j)
    row_written = {r: rg is None or not 0 <= r < rg.output or rg.touched(r) for r in rows if r is not None}
    col_written = {c: not 0 <= c < cg.output or cg.touched(c) for c in cols if c is not None}
    canvas.text(out_left, y + 12, "the scatter onto the output: its kernel's cells, cropped and extended", "small")

    def kind(r: int, c: int) -> tuple[str, str]:
        if (rg is not None and not 0 <= r < rg.output) or not 0 <= c < cg.output:
            return "crop", "url(#hatch)"
        if (rg is not None and not row_written[r]) or not col_written[c]:
            return "extra", EXTRA
        return "out", OUTPUT

    ys, xs = _grid(canvas, rows, cols, out_left, top, kind)
    for r in row_taps:
        for c in col_taps:
            if r in ys and c in xs:
                canvas.add(_rect("tap", xs[c] + 3, ys[r] + 3, TAP, CELL - 6, "tap"))
    bottom = top + max(_extent(rows), _extent(in_rows))
    op = "unset" if cg.output_padding is None else cg.output_padding
    canvas.text(out_left, bottom + 16, xml(f"stride {cg.stride} between neighbouring inputs' scatters; "
                                           f"output_padding {op} along {cg.axis}"), "small")  # fmt: skip
    return bottom + 20


def _channels(canvas: _Canvas, report: Layer, y: float) -> float:
    """Channel blocks: which input channels each group of outputs reads (groups, depth multipliers)."""
    family, config = report.kind.family, report.config
    channels = report.config.data_format.channels(report.input_shape)
    outputs = report.config.data_format.channels(report.output_shape)
    if family is Family.CONV and (config.groups or 1) > 1:
        blocks, note = config.groups or 1, f"groups {config.groups}: each block of outputs reads one block of inputs"
    elif family in (Family.DEPTHWISE, Family.SEPARABLE):
        blocks = channels
        note = f"depth multiplier {config.depth_multiplier}: each input channel gives its own outputs"
        if family is Family.SEPARABLE:
            outputs = channels * (config.depth_multiplier or 1)
            note += ", then a 1×1 conv mixes them all"
    else:
        return y
    canvas.text(12, y + 12, xml(note), "small")
    shown = min(blocks, 8)
    width = 400.0
    top, bottom = y + 22, y + 70
    for row, count, kind in ((top, channels, "in-channel"), (bottom, outputs, "out-channel")):
        canvas.text(12, row + 12, "in" if kind == "in-channel" else "out", "small")
        for b in range(shown):
            x = 44 + b * width / shown
            fill = (TAP, CHOSEN, EXTRA, UNREAD)[b % 4]
            canvas.add(f'<rect data-cell="{kind}-block" x="{x:.0f}" y="{row:.0f}" width="{width / shown - 6:.0f}" '
                       f'height="16" fill="{fill}"/>', x + width / shown, row + 16)  # fmt: skip
        cut = "" if shown == blocks else f", {blocks} blocks, 8 drawn"
        canvas.text(44 + width + 6, row + 12, xml(f"{count} channels{cut}"), "small")
    for b in range(shown):
        x = 44 + b * width / shown + (width / shown - 6) / 2
        canvas.add(f'<line x1="{x:.0f}" y1="{top + 16:.0f}" x2="{x:.0f}" y2="{bottom:.0f}" stroke="#1a1a1a"/>')
    return bottom + 30


def _legend(canvas: _Canvas, transposed: bool, y: float) -> float:
    items = (
        [("output cell", OUTPUT), ("cropped", "url(#hatch)"), ("bias only (no input writes it)", EXTRA),
         ("written by the input cell", TAP), ("the input cell", CHOSEN)]
        if transposed
        else [("input", INPUT), ("padding", "url(#hatch)"), ("never read", "url(#unread)"), ("tap", TAP),
              ("dilation gap", "url(#dots)"), ("the output cell", CHOSEN)]
    )  # fmt: skip
    x = 12.0
    for words, fill in items:
        canvas.add(f'<rect x="{x:.0f}" y="{y:.0f}" width="12" height="12" fill="{fill}"/>', x + 12, y + 12)
        canvas.text(x + 16, y + 10, words, "small")
        x += 24 + 6.2 * len(words)
    return y + 18
