"""A check run -> table, JSON, JUnit XML, GitHub annotations or Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from convinspect.core.checks.checkrun import CheckRun, EntryResult, Status, Tally
from convinspect.core.layer.report import Report
from convinspect.render import words
from convinspect.render.words import inert


def detail(result: EntryResult) -> str:
    """Why an entry did not pass, in one line (empty when it passed)."""
    if result.error:
        return inert(result.error)
    if result.report is None:
        return ""
    parts = [words.check_text(c) for c in result.report.checks if not c.ok]
    verification = getattr(result.report, "verification", None)
    if verification is not None and verification.ok is False:
        parts.append(words.verify_text(verification))
    return "; ".join(parts)


def caveat(result: EntryResult) -> str:
    """What a passed entry's reader must still know: TensorFlow's CPU kernels would not run it, or
    its verification was skipped (empty otherwise)."""
    from convinspect.render.model import runtime_warning as model_warning  # Rich: only when a check runs

    report = result.report
    if report is None:
        return ""
    if not isinstance(report, Report):
        return model_warning(report.report) or ""
    parts = [words.runtime_warning(report) or ""]
    if report.verification is not None and report.verification.skipped:
        parts.append(words.verify_text(report.verification))
    return "; ".join(part for part in parts if part)


def _skipped_verify(result: EntryResult) -> str | None:
    verification = getattr(result.report, "verification", None)
    return None if verification is None or not verification.skipped else words.verify_text(verification)


def where(result: EntryResult) -> str:
    return f"{inert(result.entry.file)}:{result.entry.line}"


def label(result: EntryResult) -> str:
    return inert(result.entry.label)


def summary_line(run: CheckRun | Tally) -> str:
    t = run if isinstance(run, Tally) else run.tally
    error = t.count(Status.ERROR)
    errors = f", {error} error" if error else ""  # only when TensorFlow failed
    return (
        f"{t.total} entries in {len(t.files)} file(s): {t.count(Status.PASSED)} passed, "
        f"{t.count(Status.FAILED)} failed, {t.count(Status.INVALID)} invalid{errors} (exit {t.exit_code})"
    )


def output_text(result: EntryResult) -> str:
    shape = None if result.report is None else result.report.output_shape
    return "" if shape is None else words.shape_text(shape)


def params_text(result: EntryResult) -> str:
    return "" if result.report is None else words.thousands(result.report.params.total)


def macs_text(result: EntryResult) -> str:
    if result.report is None:
        return ""
    macs = result.report.macs
    return "?" if macs is None else words.thousands(macs)


def check_junit(run: CheckRun) -> str:
    t = run.tally
    total, failed = str(t.total), str(t.count(Status.FAILED))
    errors = str(t.count(Status.INVALID) + t.count(Status.ERROR))
    suites = ET.Element("testsuites", name="convinspect", tests=total, failures=failed, errors=errors)
    skipped = sum(1 for r in run.results if r.status == "passed" and _skipped_verify(r))
    suite = ET.SubElement(suites, "testsuite", name="convinspect check", tests=total, failures=failed,
                          errors=errors, skipped=str(skipped))  # fmt: skip
    for result in run.results:
        case = ET.SubElement(suite, "testcase", classname=inert(result.entry.file), name=label(result),
                             file=inert(result.entry.file), line=str(result.entry.line))  # fmt: skip
        if result.status == "failed":
            node = ET.SubElement(case, "failure", message=detail(result), type="ExpectationFailed")
            node.text = detail(result)
        elif result.status in ("invalid", "error"):
            kind = "InvalidInput" if result.status == "invalid" else "BackendError"
            node = ET.SubElement(case, "error", message=detail(result), type=kind)
            node.text = detail(result)
        elif result.report is not None:
            if _skipped_verify(result):  # verify = true, and nothing was compared
                ET.SubElement(case, "skipped", message=inert(_skipped_verify(result) or ""))
            note = caveat(result)
            ET.SubElement(case, "system-out").text = (
                f"output {output_text(result)}, {params_text(result)} params, {macs_text(result)} MACs"
                + (f"; {note}" if note else "")
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def check_github(run: CheckRun) -> str:
    """Workflow commands: an ::error annotation on the spec line of every entry that did not pass."""
    lines = []
    for result in run.results:
        if result.status == "passed":
            note = caveat(result)
            if note:
                lines.append(
                    f"::warning file={_escape_property(inert(result.entry.file))},line={result.entry.line},"
                    f"title={_escape_property(f'convinspect: {label(result)}')}::{_escape_data(note)}"
                )
            continue
        title = f"convinspect: {label(result)} {result.status}"
        lines.append(
            f"::error file={_escape_property(inert(result.entry.file))},line={result.entry.line},"
            f"title={_escape_property(title)}::{_escape_data(detail(result))}"
        )
    kind = "notice" if run.exit_code == 0 else "error"
    lines.append(f"::{kind} title=convinspect check::{_escape_data(summary_line(run))}")
    return "\n".join(lines) + "\n"


_ICONS = {"passed": "✅ passed", "failed": "❌ failed", "invalid": "⚠️ invalid", "error": "🛑 error"}


def check_markdown(run: CheckRun) -> str:
    rows = [
        "| entry | where | layer | output | params | MACs | result | detail |",
        "|---|---|---|---|---:|---:|---|---|",
    ]
    for r in run.results:
        layer = r.report.class_name if r.report else ""
        cells = [words.md_text(r.entry.label), words.md_code(where(r)).replace("|", "\\|"), layer,
                 f"`{output_text(r)}`" if r.report else "", params_text(r), macs_text(r), _ICONS[r.status],
                 words.md_text(detail(r) or caveat(r))]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return f"### convinspect check\n\n{summary_line(run)}\n\n" + "\n".join(rows) + "\n"


def check_table(run: CheckRun) -> object:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True)
    table.add_column("result", no_wrap=True)
    table.add_column("entry", overflow="fold", min_width=12)
    table.add_column("where", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    styles = {"passed": "green", "failed": "bold red", "invalid": "bold yellow", "error": "bold magenta"}
    problems = []
    for r in run.results:
        cells = (label(r), where(r), output_text(r), params_text(r), macs_text(r))
        table.add_row(Text(r.status, style=styles[r.status]), *(Text(cell) for cell in cells))
        if r.status != "passed":
            head = "" if r.entry.index == 0 else f"{where(r)} {label(r)}: "  # file errors name the file
            problems.append(Text(head + detail(r), style=styles[r.status]))
        elif caveat(r):
            problems.append(Text(f"{where(r)} {label(r)}: {caveat(r)}", style="yellow"))
    return Group(table, *problems, Text(summary_line(run), style="bold"))
