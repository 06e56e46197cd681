"""Diagrams: exact pictures for small axes, bounded ones for huge axes."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from convinspect.core.layer.geometry import axis_geometry
from convinspect.render.layer.diagram import axis_diagram


def test_valid_stride_marks_unread_cells() -> None:
    assert axis_diagram(axis_geometry("width", 10, 2, 3, 4, 1, "valid")) == [
        "width: 10 cells, kernel 3, stride 4, valid pad 0+0, 3 never read → 2",
        "in     ■ ■ ■ ■ ■ ■ ■ × × ×",
        "       0         5",
        "out 0  ● ● ●",
        "out 1          ● ● ●",
        "       ■ input cell  ░ padding  × never read  ● tap  · dilation gap",
    ]


def test_same_padding_puts_the_odd_cell_after() -> None:
    lines = axis_diagram(axis_geometry("width", 10, 10, 4, 1, 1, "same"))
    assert lines[0] == "width: 10 cells, kernel 4, stride 1, same pad 1+2 → 10"
    assert lines[1] == "in     ░ ■ ■ ■ ■ ■ ■ ■ ■ ■ ■ ░ ░"
    assert lines[3] == "out 0  ● ● ● ●"  # the first window starts on the padding cell
    assert lines[-2] == "out 9                    ● ● ● ●"  # the last one ends on the two after


def test_causal_dilated_taps_show_gaps() -> None:
    lines = axis_diagram(axis_geometry("width", 10, 10, 3, 1, 2, "causal"))
    assert lines[1] == "in     ░ ░ ░ ░ ■ ■ ■ ■ ■ ■ ■ ■ ■ ■"
    assert lines[3:6] == ["out 0  ● · ● · ●", "out 1    ● · ● · ●", "out 2      ● · ● · ●"]
    assert lines[6] == "⋮"


def test_transposed_scatter_with_bias_only_cells() -> None:
    lines = axis_diagram(axis_geometry("width", 4, 12, 1, 3, 1, "valid", transposed=True))
    assert lines[1] == "out   ■ ■ ■ ■ ■ ■ ■ ■ ■ ■ ○ ○"
    assert lines[3:7] == ["in 0  ●", "in 1        ●", "in 2              ●", "in 3                    ●"]


def test_transposed_same_crops() -> None:
    lines = axis_diagram(axis_geometry("width", 5, 9, 4, 2, 1, "same", transposed=True, output_padding=1))
    assert lines[0].endswith("same: scatter 12, crop 1+2 → 9")
    assert lines[1] == "out   ░ ■ ■ ■ ■ ■ ■ ■ ■ ■ ░ ░"


def test_large_axis_is_summarised() -> None:
    lines = axis_diagram(axis_geometry("width", 4096, 2048, 5, 2, 1, "same"))
    assert len(lines) == 9
    assert "…" in lines[1] and lines[1].count("■") < 40
    assert lines[2].split()[-1] == "4093"  # the ruler labels the last cells' indices
    assert lines[-2].startswith("out 2047")


@given(
    n=st.integers(1, 10**12), k=st.integers(1, 10**6), s=st.integers(1, 10**6), d=st.integers(1, 10**3),
    padding=st.sampled_from(["valid", "same", "causal"]),
)  # fmt: skip
def test_diagram_never_prints_thousands_of_cells(n: int, k: int, s: int, d: int, padding: str) -> None:
    ke = d * (k - 1) + 1
    assume(padding != "valid" or ke <= n)  # Keras refuses an empty output
    out = (n - ke) // s + 1 if padding == "valid" else (n - 1) // s + 1
    lines = axis_diagram(axis_geometry("width", n, out, k, s, d, padding))
    assert len(lines) <= 9
    cells = [line for line in lines[1:-1] if line != "⋮"]
    assert all(sum(line.count(g) for g in "■░×●·") <= 40 for line in cells)


def test_diagram_option_in_every_format(cli: object) -> None:
    args = ("build", "-e", "analytic", "-f", "2", "-k", "3", "-s", "4", "-i", "1,10,1", "-l", "conv1d", "--diagram")
    for fmt in ("table", "plain", "markdown"):
        result = cli(*args, "-F", fmt)  # type: ignore[operator]
        assert result.exit_code == 0, result.output
        assert "■ ■ ■ ■ ■ ■ ■ × × ×" in result.stdout
    data = json.loads(cli(*args, "-F", "json").stdout)  # type: ignore[operator]
    assert data["diagram"][0]["axis"] == "width"
    assert data["diagram"][0]["lines"][1] == "in     ■ ■ ■ ■ ■ ■ ■ × × ×"
    plain = cli(*args[:-1], "-F", "json")  # type: ignore[operator]
    assert "diagram" not in json.loads(plain.stdout)


@given(
    n=st.integers(1, 10**9), k=st.integers(1, 10**5), s=st.integers(1, 10**5), d=st.integers(1, 10**2),
    padding=st.sampled_from(["valid", "same"]), op=st.one_of(st.none(), st.integers(0, 10**5)),
)  # fmt: skip
def test_transposed_diagram_stays_small(n: int, k: int, s: int, d: int, padding: str, op: int | None) -> None:
    from convinspect.core.layer.families import too_short_to_map_back, transpose_length

    assume(op is None or op < s)  # Keras' rule
    out = transpose_length(n, k, s, d, padding, op)
    assume(out > 0 and not too_short_to_map_back(padding, k, d, op))  # the axes TensorFlow can draw back
    lines = axis_diagram(axis_geometry("width", n, out, k, s, d, padding, transposed=True, output_padding=op))
    assert len(lines) <= 9
    cells = [line for line in lines[1:-1] if line != "⋮"]
    assert all(sum(line.count(g) for g in "■░○●·") <= 40 for line in cells)


def test_the_transposed_geometry_table_cuts_nothing_at_80_columns(cli: object) -> None:
    args = ["build", "-l", "conv3d-transpose", "-f", "8", "-k", "2", "-s", "3", "--output-padding", "2",
            "-i", "1,5,5,5,3", "-e", "analytic"]  # fmt: skip
    from typer.testing import CliRunner

    from convinspect.cli import app

    out = CliRunner().invoke(app, args, env={"COLUMNS": "80"}).stdout
    table = out[out.index("geometry") : out.index("  depth:")]
    assert "…" not in table and "height" in table and "jump" in table
