"""`build --format svg` on the command line, and the figures as a person sees them: rendered by a
real headless Chromium to pixels, with no request leaving the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browser import requests, screenshot
from typer.testing import CliRunner

from convinspect.cli import app

RUNNER = CliRunner()
FIGURES = {
    "same": ["--filters", "4", "--kernel", "3", "--strides", "2", "--padding", "same", "--input", "1,6,7,2"],
    "transposed": ["--layer", "conv2d-transpose", "--filters", "3", "--kernel", "3", "--strides", "2",
                   "--output-padding", "1", "--input", "1,4,5,2"],
    "dilated": ["--filters", "4", "--kernel", "3", "--dilation", "2", "--padding", "same", "--input", "1,40,300,2"],
    "causal": ["--layer", "conv1d", "--filters", "2", "--kernel", "3", "--padding", "causal", "--dilation", "2",
               "--input", "1,12,2"],
    "depthwise": ["--layer", "depthwise-conv2d", "--kernel", "3", "--depth-multiplier", "2", "--input", "1,8,8,3"],
}  # fmt: skip


def _svg(args: list[str], *more: str) -> str:
    result = RUNNER.invoke(app, ["build", *args, "--engine", "analytic", "--format", "svg", *more])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_each_figure_renders_in_chromium(name: str, tmp_path: Path) -> None:
    svg = _svg(FIGURES[name])
    root = ET.fromstring(svg)
    width, height = int(root.get("width", 0)), int(root.get("height", 0))
    page = tmp_path / f"{name}.svg"
    page.write_text(svg, encoding="utf-8")
    shot = screenshot(page, 700, 560)
    assert (shot.width, shot.height) == (700, 560)
    drawn = [
        row
        for row in shot.pixels[: min(height, 560)]
        if len(set(row[i : i + 4] for i in range(0, 4 * min(width, 700), 4))) > 1
    ]
    assert len(drawn) > min(height, 560) // 3  # most rows of the figure hold more than the background
    assert len(shot.colours()) >= 5  # cells, padding, taps, the chosen cell, text
    assert requests(page) == []


def test_the_request_detector_sees_a_page_that_asks_for_a_url(tmp_path: Path) -> None:
    """The control for `requests() == []`: a page with an external image is caught."""
    page = tmp_path / "asks.svg"
    page.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><image '
                    'href="http://127.0.0.1:9/never.png" width="40" height="40"/></svg>')  # fmt: skip
    assert requests(page) == ["http://127.0.0.1:9/never.png"]


def test_at_chooses_the_cell_and_refuses_one_outside_the_output() -> None:
    svg = _svg(FIGURES["same"], "--at", "1,2")
    assert "the cells output (1, 2) reads" in svg and svg.count('data-cell="at"') == 1
    bad = RUNNER.invoke(app, ["build", *FIGURES["same"], "--engine", "analytic", "--format", "svg", "--at", "3,0"])
    assert bad.exit_code == 2
    assert bad.stderr == ("convinspect: error: --at: an output cell, 2 index(es) in 0..2 (height), 0..3 (width); "
                          "got '3,0'\n")  # fmt: skip
    table = RUNNER.invoke(app, ["build", *FIGURES["same"], "--engine", "analytic", "--at", "0,0"])
    assert (
        table.exit_code == 2 and "--at: chooses the cell a figure follows: it applies to --format svg" in table.stderr
    )


def test_svg_where_there_is_nothing_to_draw_names_the_formats_that_apply(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    model.write_text('{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", '
                     '"config": {"batch_shape": [null, 4], "name": "x"}}, {"class_name": "Dense", '
                     '"config": {"name": "d", "units": 2}}]}}')  # fmt: skip
    result = RUNNER.invoke(app, ["model", str(model), "--engine", "analytic", "--format", "svg"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "--format: unknown value 'svg'; expected one of" in result.stderr and "csv" in result.stderr


def test_an_svg_file_is_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "figure.svg"
    result = RUNNER.invoke(app, ["build", *FIGURES["same"], "--engine", "analytic", "--format", "svg",
                                 "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0 and "written to" in result.stdout
    ET.fromstring(target.read_text(encoding="utf-8"))
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left beside it


def test_the_documented_figure_is_this_code_s_output() -> None:
    """README.md and docs/cli.md show docs/figures/conv2d-same-stride2.svg: regenerated here, compared
    byte for byte (and by its cells), so the picture never drifts from the code."""
    from paths import ROOT

    shown = (ROOT / "docs" / "figures" / "conv2d-same-stride2.svg").read_text(encoding="utf-8")
    assert _svg(FIGURES["same"]) == shown
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "convinspect build " + " ".join(FIGURES["same"]) + " --engine analytic --format svg -o /tmp/figure.svg"
    assert command in readme and "(docs/figures/conv2d-same-stride2.svg)" in readme


# -- whole pages: model --format html, build --format html ----------------------------------------

NAMED = ('{"class_name": "Functional", "config": {"name": "m<b>&\\"", "layers": ['
         '{"class_name": "InputLayer", "name": "image", "config": {"batch_shape": [null, 16, 16, 3], "name": "image"},'
         ' "inbound_nodes": []},'
         '{"class_name": "Conv2D", "name": "c<script>x", "config": {"name": "c<script>x", "filters": 4,'
         ' "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inbound_nodes": [[["image", 0, 0, {}]]]},'
         '{"class_name": "Conv2D", "name": "side&\'q\\nline", "config": {"name": "side&\'q\\nline", "filters": 4,'
         ' "kernel_size": [1, 1], "strides": [2, 2]}, "inbound_nodes": [[["image", 0, 0, {}]]]},'
         '{"class_name": "Add", "name": "add", "config": {"name": "add"},'
         ' "inbound_nodes": [[["c<script>x", 0, 0, {}], ["side&\'q\\nline", 0, 0, {}]]]}],'
         ' "input_layers": [["image", 0, 0]], "output_layers": [["add", 0, 0]]}}')  # fmt: skip


def test_a_model_page_holds_every_layer_and_the_totals_and_asks_for_nothing(tmp_path: Path) -> None:
    from browser import dom

    source = tmp_path / "branches.json"
    source.write_text(NAMED, encoding="utf-8")
    page = tmp_path / "branches.html"
    result = RUNNER.invoke(app, ["model", str(source), "--engine", "analytic", "--format", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "c&lt;script&gt;x" in text and "\\nline" in text  # escaped, shown inert
    assert "://" not in text  # no URL at all, not even a namespace
    shown = dom(page)
    for name in ("image", "c&lt;script&gt;x", "add", "side&amp;'q\\nline"):
        assert name in shown, name
    totals = RUNNER.invoke(app, ["model", str(source), "--engine", "analytic", "--format", "json"])
    import json

    params = json.loads(totals.stdout)["totals"]["params"]["total"]
    assert f"{params:,}" in shown
    for section in ("Graph", "Layers", "MACs per layer", "Parameters per layer", "Receptive field along the calls",
                    "Each conv layer's arithmetic"):  # fmt: skip
        assert f"<h2>{section}</h2>" in shown
    assert shown.count("<details data-figure=") == 2  # both conv layers, one click away
    assert requests(page) == []
    shot = screenshot(page, 900, 700)
    assert len(shot.colours()) >= 8


def test_a_layer_page_is_its_report_and_its_figure(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["build", *FIGURES["same"], "--engine", "analytic", "--format", "html"])
    assert result.exit_code == 0
    page = tmp_path / "layer.html"
    page.write_text(result.stdout, encoding="utf-8")
    assert result.stdout.startswith("<!DOCTYPE html>") and "<svg" in result.stdout and "conv2d/kernel" in result.stdout
    assert requests(page) == []


def test_a_check_page_gives_every_entry_s_verdict_and_links_its_figure(tmp_path: Path) -> None:
    from browser import dom
    from paths import EXAMPLES

    page = tmp_path / "check.html"
    result = RUNNER.invoke(app, ["check", str(EXAMPLES / "seed.toml"), str(EXAMPLES / "drift.toml"), "--engine",
                                 "analytic", "--format", "html", "-o", str(page)])  # fmt: skip
    assert result.exit_code == 1, result.output  # drift.toml holds a failing entry, as the page says
    shown = dom(page)
    assert shown.count('data-status="passed"') == 7 and shown.count('data-status="failed"') == 1
    assert "output_shape: expected (8, 64, 64, 32), actual (8, 32, 32, 32)" in shown
    anchors = [part.split('"')[0] for part in shown.split('href="#')[1:]]
    assert len(anchors) == 8 and all(f'id="{a}"' in shown for a in anchors)  # each link lands on its figure
    assert requests(page) == []
