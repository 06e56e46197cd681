"""The one output pipeline: every command writes through it, inside the error guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from paths import EXAMPLES

ANALYTIC = ("--filters", "8", "--kernel", "3", "--input", "1,8,8,1", "--engine", "analytic")


def test_build_output_file_gets_the_report_and_the_terminal_a_summary(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = cli("build", *ANALYTIC, "--format", "json", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["params"]["total"] == 80
    assert result.stdout == f"Conv2D 'conv2d': output (1, 6, 6, 8), 80 params, 2,592 MACs; written to {target}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind


def test_build_table_to_a_file_is_plain_text(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    assert cli("build", *ANALYTIC, "--output", str(target)).exit_code == 0
    text = target.read_text()
    assert "conv2d/kernel" in text and "\x1b[" not in text


def test_sweep_output_file(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "sweep.csv"
    result = cli(
        "sweep", "--filters", "8", "--kernel", "3", "--input", "1,4..6,8,1", "--format", "csv", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    assert target.read_text().splitlines()[0].startswith("batch,height,width,channels,")
    assert result.stdout.startswith("3 input shapes: 3 accepted, 0 rejected") and str(target) in result.stdout


def test_an_existing_report_is_replaced_whole(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old report\n")
    target.chmod(0o640)
    assert cli("build", *ANALYTIC, "--format", "json", "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text())["schema"] == "convinspect.report/1"
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    ("where", "message"),
    [("missing/report.json", "the folder"), ("", "is a folder")],
)
def test_a_bad_output_path_is_refused_before_any_work(cli: Any, tmp_path: Path, where: str, message: str) -> None:
    result = cli("build", "--filters", "8", "--kernel", "3", "--input", "1,8,8,1", "-o", str(tmp_path / where))
    assert result.exit_code == 2
    assert result.stderr.startswith("convinspect: error: --output: ") and message in result.stderr
    assert result.stdout == ""


def test_check_refuses_to_write_over_one_of_its_spec_files(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "layers.toml"
    spec.write_text((EXAMPLES / "drift.toml").read_text())
    result = cli("check", str(spec), "--engine", "analytic", "--format", "junit", "--output", str(spec))
    assert result.exit_code == 2
    assert "is also an input file" in result.stderr
    assert spec.read_text() == (EXAMPLES / "drift.toml").read_text()


def test_a_rendering_bug_is_one_line_exit_3_not_a_traceback(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from convinspect.core.layer.report import Report
    from convinspect.core.vocab.choices import Format
    from convinspect.render.registry import PRESENTERS

    def broken(*_: object, **__: object) -> str:
        raise KeyError("boom")

    monkeypatch.setitem(PRESENTERS[Report].writers, Format.PLAIN, broken)  # type: ignore[index]
    result = cli("build", *ANALYTIC, "--format", "plain")
    assert result.exit_code == 3
    assert result.stderr == "convinspect: error: internal error: KeyError: 'boom'\n"
    assert "Traceback" not in result.output


def test_a_symlink_is_written_through_and_a_device_is_never_replaced(cli: Any, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert cli("build", *ANALYTIC, "-F", "json", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text())["schema"] == "convinspect.report/1"
    null = tmp_path / "null"
    null.symlink_to("/dev/null")
    assert cli("build", *ANALYTIC, "-F", "json", "-o", str(null)).exit_code == 0
    assert Path("/dev/null").is_char_device()


def test_a_full_device_is_an_error_not_a_success(cli: Any) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full here")
    result = cli("build", *ANALYTIC, "-F", "json", "-o", "/dev/full")
    assert result.exit_code == 2
    assert result.stderr == "convinspect: error: --output: cannot write /dev/full: No space left on device\n"
    assert Path("/dev/full").is_char_device()


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convinspect import files

    target = tmp_path / "report.json"
    target.write_text("old\n")

    def interrupted(_: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(str(target), "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "expected a file name"), ("newdir/", "names a folder"), ("examples.toml/x", "is not a folder"),
     ("x" * 300, "File name too long")],
)  # fmt: skip
def test_odd_output_names_are_refused_plainly(cli: Any, tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "examples.toml").write_text("")
    result = cli("build", *ANALYTIC, "-o", f"{tmp_path}/{name}" if name else "")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("convinspect: error: --output: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_longest_legal_file_name_works(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / ("r" * 250)
    assert cli("build", *ANALYTIC, "-o", str(target)).exit_code == 0
    assert target.exists()


def test_every_human_writer_fills_every_section_of_the_one_list() -> None:
    """The table, Markdown and plain writers give the same sections, in the order of render/layer/sections.py."""
    from convinspect.render.layer import markdown, plain, table
    from convinspect.render.layer.sections import SECTIONS

    for module in (table, markdown, plain):
        assert tuple(module._SECTIONS) == SECTIONS, module.__name__
