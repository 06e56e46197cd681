"""`model --format html`: the whole model on one offline page, readable with no script and no network.

The page holds a header (versions, engine, the CPU-kernel verdict, whether the MAC count is
complete), the model's graph laid out top-down with branches side by side (each node its layer,
output shape, parameters and MACs; a nested model a node of its own, its graph in a `<details>`
below), the per-layer table with the terminal's rows and totals, bar charts of MACs, parameters and
activation memory per layer, the receptive field's growth along the calls, and each conv layer's
arithmetic figure one click away. Everything is inline: SVG and CSS, nothing fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from convinspect.core.checks.checkrun import CheckRun
from convinspect.core.checks.results import ModelResult
from convinspect.core.layer.geometry import layer_geometry
from convinspect.core.layer.report import Report
from convinspect.core.model.report import LayerRow, ModelReport
from convinspect.render.layer.html import report_html
from convinspect.render.layer.svg import Layer, chosen_cells, layer_svg, report_svg, xml
from convinspect.render.model import model_html, output_cell, runtime_warning, training_lines
from convinspect.render.words import human_bytes, thousands

NODE_W, NODE_H, GAP_X, GAP_Y = 230, 58, 24, 30
# Scoped to the page's own block, so that in a notebook it styles nothing else.
PAGE_CSS = " ".join(f".convinspect-page {rule}" for rule in (
    "{font-family:DejaVu Sans,Verdana,Arial,sans-serif;color:#1a1a1a;background:#fff;max-width:none}",
    "h1{font-size:20px;margin:0 0 8px}", "h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ccc}",
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:0}", "dt{font-weight:bold}",
    "details{margin:6px 0}", "summary{cursor:pointer}", ".note{color:#444;font-size:13px}",
    "svg text{font-family:DejaVu Sans,Verdana,Arial,sans-serif;font-size:11px;fill:#1a1a1a}",
))  # fmt: skip
BARS = {
    "MACs": "#0072b2",
    "parameters": "#e69f00",
    "activation memory": "#009e73",
    "activations kept": "#cc79a7",
    "memory in use": "#56b4e9",
}


def model_page(result: ModelResult) -> str:
    """The page, as one HTML document."""
    return _document(f"{result.report.name} ({result.report.class_name})", model_section(result))


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{xml(title)}</title></head>'
            f'<body style="margin:24px">{body}</body></html>\n')  # fmt: skip


def model_section(result: ModelResult) -> str:
    """The page's content as one block with its own scoped style (what a notebook shows)."""
    report = result.report
    title = f"{report.name} ({report.class_name})"
    parts = [f"<h1>{xml(title)}</h1>", _header(report)]
    parts += ["<h2>Graph</h2>", _graphs(report.rows)]
    parts += ["<h2>Layers</h2>", model_html(result)]
    for label, value, text in (
        ("MACs", lambda r: r.macs, thousands),
        ("parameters", lambda r: r.params.total if r.call == 0 else 0, thousands),
        ("activation memory", lambda r: r.activation_bytes, human_bytes),
    ):
        parts += [f"<h2>{xml(label[0].upper() + label[1:])} per layer</h2>", _bars(report.rows, label, value, text)]
    training = report.training
    if training is not None:
        parts += ["<h2>Training step</h2>", "".join(f"<p>{xml(line)}</p>" for line in training_lines(report))]
        kept = {key: memory.activations for key, memory in training.rows.items()}
        using = {key: memory.peak for key, memory in training.rows.items()}
        for label, chosen in (("activations kept", kept), ("memory in use", using)):
            parts += [f"<h2>{xml(label[0].upper() + label[1:])} per layer (training)</h2>",
                      _bars(report.rows, label, _pick(chosen), human_bytes)]  # fmt: skip
    parts += ["<h2>Receptive field along the calls</h2>", _fields(report.rows)]
    parts += ["<h2>Each conv layer's arithmetic</h2>", _figures(report.rows)]
    return f'<div class="convinspect-page"><style>{PAGE_CSS}</style>' + "".join(parts) + "</div>"


def layer_page(report: Report) -> str:
    """`build --format html`: the layer's report and its figure, as one HTML document."""
    return _document(f"{report.class_name} {report.name!r}", layer_section(report))


def layer_section(report: Report) -> str:
    """The layer's report and its figure as one block with its own scoped style."""
    title = f"{report.class_name} {report.name!r}"
    return (f'<div class="convinspect-page"><style>{PAGE_CSS}</style><h1>{xml(title)}</h1>{report_html(report)}'
            f"<h2>Arithmetic</h2>{_inline(report_svg(report))}</div>")  # fmt: skip


def _inline(svg: str) -> str:
    """An SVG document as HTML holds it inline (HTML needs no namespace: the page names no URL at all)."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1).rstrip("\n")


def _header(report: ModelReport) -> str:
    t = report.totals
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items() if version)
    warning = runtime_warning(report) if report.built else None
    macs = "?" if t.macs is None else thousands(t.macs)
    complete = "complete" if t.complete else f"incomplete: {', '.join(t.uncounted[:8])} leave work uncounted"
    facts = [
        ("Source", f"{report.source.kind}: {report.source.text}"),
        ("Engine", f"{report.engine}" + (f", equal to the {report.agreed_with} engine" if report.agreed_with else "")),
        ("Versions", versions),
        ("CPU kernels", warning or "every conv layer call runs on TensorFlow's CPU kernels (predicted)"),
        ("Parameters", f"{thousands(t.params.total)} (trainable {thousands(t.params.trainable)})"),
        ("MACs", f"{macs} per example" if not report.batch_known else f"{macs}, whole batch"),
        ("MAC count", complete),
    ]
    return "<dl>" + "".join(f"<dt>{xml(k)}</dt><dd>{xml(v)}</dd>" for k, v in facts) + "</dl>"


# -- the graph ---------------------------------------------------------------------------------


@dataclass
class _Node:
    row: LayerRow
    rank: int = 0
    slot: int = 0


def _graphs(rows: Sequence[LayerRow]) -> str:
    """The top-level graph, then each nested model's own, collapsible."""
    parts = [_graph([r for r in rows if not r.path], "the model")]
    for row in rows:
        if row.container and row.call == 0:
            inner = (*row.path, row.name)
            children = [r for r in rows if r.path == inner]
            parts.append(f"<details><summary>{xml(row.qualified)} ({xml(row.class_name)}, "
                         f"{len(children)} rows)</summary>{_graph(children, row.name)}</details>")  # fmt: skip
    return "".join(parts)


def _graph(rows: Sequence[LayerRow], name: str) -> str:
    """A layered layout: each call one rank below the latest of its inputs, calls of one rank side by side."""
    nodes = [_Node(r) for r in rows if r.calls]
    latest: dict[str, _Node] = {}
    edges: list[tuple[_Node, _Node]] = []
    for node in nodes:
        sources = [latest[n] for n in node.row.inbound if n in latest]
        node.rank = 1 + max((s.rank for s in sources), default=-1)
        edges += [(s, node) for s in sources]
        latest[node.row.name] = node
    width_of: dict[int, int] = {}
    for node in nodes:
        node.slot = width_of.get(node.rank, 0)
        width_of[node.rank] = node.slot + 1
    if not nodes:
        return '<p class="note">no calls to draw</p>'
    widest = max(width_of.values())
    width = widest * (NODE_W + GAP_X) + GAP_X
    height = (max(n.rank for n in nodes) + 1) * (NODE_H + GAP_Y) + GAP_Y

    def x(node: _Node) -> float:  # each rank centred
        offset = (widest - width_of[node.rank]) * (NODE_W + GAP_X) / 2
        return GAP_X + offset + node.slot * (NODE_W + GAP_X)

    def y(node: _Node) -> float:
        return GAP_Y + node.rank * (NODE_H + GAP_Y)

    parts = [f'<path d="M{x(a) + NODE_W / 2:.0f},{y(a) + NODE_H:.0f} C{x(a) + NODE_W / 2:.0f},{y(b) - 12:.0f} '
             f'{x(b) + NODE_W / 2:.0f},{y(a) + NODE_H + 12:.0f} {x(b) + NODE_W / 2:.0f},{y(b):.0f}" '
             'fill="none" stroke="#777" stroke-width="1.2"/>' for a, b in edges]  # fmt: skip
    for node in nodes:
        row = node.row
        fill = "#fde7c8" if row.conv is not None else "#e8eef7" if row.container else "#f4f4f4"
        dash = ' stroke-dasharray="5 3"' if row.container else ""
        macs = "?" if row.macs is None else thousands(row.macs)
        params = "shared" if row.shared else thousands(row.params.total)
        lines = [f"{row.name} ({row.class_name})", f"out {output_cell(row)}",
                 f"params {params} · MACs {macs}" + ("" if row.complete else " + ?")]  # fmt: skip
        text = "".join(f'<text x="{x(node) + 8:.0f}" y="{y(node) + 16 + 16 * i:.0f}">{xml(_fit(line))}</text>'
                       for i, line in enumerate(lines))  # fmt: skip
        box = (f'<rect x="{x(node):.0f}" y="{y(node):.0f}" width="{NODE_W}" height="{NODE_H}" rx="5" '
               f'fill="{fill}" stroke="#555"{dash}/>')  # fmt: skip
        parts.append(f'<g data-layer="{xml(row.qualified)}">{box}{text}</g>')
    return (f'<svg width="{width:.0f}" height="{height:.0f}" role="img">'
            f"<title>{xml(name)}: graph</title>" + "".join(parts) + "</svg>")  # fmt: skip


def _fit(line: str, room: int = 36) -> str:
    return line if len(line) <= room else line[: room - 1] + "…"


# -- charts ------------------------------------------------------------------------------------


def _pick(figures: Mapping[str, int | None]) -> Callable[[LayerRow], int | None]:
    return lambda row: figures.get(row.key)


def _bars(rows: Sequence[LayerRow], label: str, value: Callable[[LayerRow], int | None],
          text: Callable[[int], str]) -> str:  # fmt: skip
    """One horizontal bar per layer with a figure (nested models' rows, not their sums)."""
    shown = [(r, v) for r in rows if not r.container and (v := value(r))]
    if not shown:
        return f'<p class="note">no layer has {xml(label)}</p>'
    top = max(v for _, v in shown)
    line, left, span = 15, 260, 420
    parts = []
    for i, (row, v) in enumerate(shown):
        y = i * line
        parts.append(f'<text x="0" y="{y + 11}">{xml(_fit(row.qualified, 40))}</text>'
                     f'<rect data-bar="{xml(label)}" x="{left}" y="{y + 2}" width="{max(span * v / top, 1):.1f}" '
                     f'height="11" fill="{BARS[label]}"/><text x="{left + span + 8}" y="{y + 11}">{xml(text(v))}'
                     "</text>")  # fmt: skip
    return (f'<svg width="{left + span + 120}" height="{len(shown) * line + 4}" '
            f'role="img"><title>{xml(label)} per layer</title>' + "".join(parts) + "</svg>")  # fmt: skip


def _fields(rows: Sequence[LayerRow]) -> str:
    """The receptive field (its largest axis, in input cells) after each call that follows one."""
    points = [(r, max(f.size for _, f in r.receptive_field.axes)) for r in rows
              if r.receptive_field is not None and r.receptive_field.axes and not r.container]  # fmt: skip
    if not points:
        return '<p class="note">no call follows a receptive field (no conv or pooling layer with a known input)</p>'
    top = max(size for _, size in points)
    w, h, left = max(400, 6 * len(points)), 200, 50
    step = (w - left - 10) / max(len(points) - 1, 1)
    xy = [(left + i * step, h - 20 - (h - 40) * size / top) for i, (_, size) in enumerate(points)]
    path = " ".join(f"{a:.1f},{b:.1f}" for a, b in xy)
    dots = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.2" fill="#d55e00"><title>{xml(r.qualified)}: '
                   f"{size} cells</title></circle>" for (a, b), (r, size) in zip(xy, points, strict=True))  # fmt: skip
    return (f'<svg width="{w}" height="{h}" role="img">'
            f"<title>receptive field along the calls</title>"
            f'<text x="0" y="14">{top} cells</text><text x="0" y="{h - 20}">1</text>'
            f'<polyline points="{path}" fill="none" stroke="#0072b2" stroke-width="1.5"/>{dots}</svg>'
            f'<p class="note">the largest axis of the field after each of {len(points)} calls, from '
            f"{xml(points[0][0].qualified)} to {xml(points[-1][0].qualified)}</p>")  # fmt: skip


def _figures(rows: Sequence[LayerRow]) -> str:
    parts = []
    for row in rows:
        spec = row.conv
        if spec is None or not row.outputs or (row.shared and row.call == 0):
            continue
        out = row.outputs[0]
        fmt = spec.config.data_format
        spatial_in, spatial_out = fmt.spatial(spec.input_shape), fmt.spatial(out)
        if any(d is None for d in (*spatial_in, *spatial_out)):
            continue
        geometry = layer_geometry(spec.kind.recipe.transposed, spec.kind.spatial_axes, spatial_in,
                                  spatial_out, spec.config)  # fmt: skip
        layer = Layer(spec.kind, row.name, spec.config, spec.input_shape, out, geometry)
        figure = _inline(layer_svg(layer, chosen_cells(geometry)[:1]))
        parts.append(f'<details data-figure="{xml(row.qualified)}"><summary>{xml(row.qualified)} '
                     f"({xml(row.class_name)})</summary>{figure}</details>")  # fmt: skip
    return "".join(parts) or '<p class="note">no conv layer with known sizes</p>'


# -- a check run ---------------------------------------------------------------------------------

MAX_FIGURES = 500  # entries whose figure the page holds; a run of 50,000 entries stays a page
VERDICTS = {  # colour and a mark, so that a verdict reads without colour
    "passed": ("#009e73", "✓"), "failed": ("#d55e00", "✗"), "invalid": ("#e69f00", "!"), "error": ("#cc79a7", "‼"),
}  # fmt: skip


def check_page(run: CheckRun) -> str:
    """`check --format html`: one page per run, every entry's verdict, each layer entry's figure linked."""
    from convinspect.render import checks

    rows: list[str] = []
    figures: list[str] = []
    for index, result in enumerate(run.results):
        colour, mark = VERDICTS[str(result.status)]
        figure = ""
        if isinstance(result.report, Report) and len(figures) < MAX_FIGURES:
            anchor = f"figure-{index}"
            figure = f'<a href="#{anchor}">figure</a>'
            svg = _inline(report_svg(result.report))
            figures.append(f'<details id="{anchor}" open><summary>{xml(checks.label(result))} · '
                           f"{xml(checks.where(result))}</summary>{svg}</details>")  # fmt: skip
        verdict = f"color:{colour};font-weight:bold;white-space:nowrap"
        status = f'<span data-status="{xml(result.status)}" style="{verdict}">{mark} {xml(result.status)}</span>'
        texts = (checks.label(result), checks.where(result), checks.output_text(result), checks.params_text(result),
                 checks.macs_text(result), checks.detail(result) or checks.caveat(result))  # fmt: skip
        cells = [status, *(xml(t) for t in texts), figure]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("result", "entry", "where", "output", "params", "MACs", "detail", ""))
    cut = len([r for r in run.results if isinstance(r.report, Report)]) - len(figures)
    more = f'<p class="note">{cut:,} more figures are not in the page</p>' if cut > 0 else ""
    body = (f'<div class="convinspect-page"><style>{PAGE_CSS} {TABLE_CSS}</style><h1>convinspect check</h1>'
            f"<p>{xml(checks.summary_line(run))}</p><table><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + f"</tbody></table><h2>Figures</h2>{''.join(figures) or '<p class=note>none</p>'}"
            f"{more}</div>")  # fmt: skip
    return _document("convinspect check", body)


TABLE_CSS = (".convinspect-page table{border-collapse:collapse} .convinspect-page td,.convinspect-page th"
             "{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}")  # fmt: skip
