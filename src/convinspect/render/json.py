"""The JSON of every result (a layer report, a model, a check run, a sweep, solve, --backend all), or an error
object (the plain format flattens the same facts into key: value lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from convinspect.core.checks.checkrun import CHECK_SCHEMA, CheckRun, EntryResult, Tally
from convinspect.core.checks.results import ModelResult
from convinspect.core.commands.conformance import Conformance
from convinspect.core.commands.solve import SolveResult
from convinspect.core.commands.sweep import Sweep
from convinspect.core.layer.report import REPORT_SCHEMA, Report
from convinspect.core.vocab.text import inert_json
from convinspect.errors import ConvinspectError
from convinspect.render import words

_ATOM = r'(?:-?\d+(?:\.\d+)?|null|true|false|"[^"\\\s,]*")'
_FLAT_ARRAY = re.compile(rf"\[\s+({_ATOM}(?:,\s+{_ATOM})*)\s+\]")


def dumps(data: Any) -> str:
    """Indented JSON, with arrays of plain values (shapes, axis names) kept on one line."""
    text = inert_json(json.dumps(data, indent=2, ensure_ascii=False))
    return _FLAT_ARRAY.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def dumps_rows(data: dict[str, Any], key: str) -> str:
    """Like dumps, but the list under `key` holds one compact object per line.

    Indented output runs through json's pure-Python encoder; compact rows use its C
    encoder, which keeps 100,000 sweep rows or 50,000 check reports fast and greppable.
    `data[key]` may be any iterable: each row is encoded as it comes, so only text is kept.
    """
    keys = list(data)
    at = keys.index(key)
    before, after = keys[:at], keys[at + 1 :]
    rows = ",\n".join(
        "    " + inert_json(json.dumps(row, ensure_ascii=False, separators=(", ", ": "))) for row in data[key]
    )
    parts = [_members({k: data[k] for k in before})] if before else []
    parts.append(f'  "{key}": [\n{rows}\n  ]' if rows else f'  "{key}": []')
    if after:
        parts.append(_members({k: data[k] for k in after}))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _members(data: dict[str, Any]) -> str:
    """The indented members of an object, without its braces."""
    return dumps(data).rstrip()[1:-1].strip("\n")


def report_dict(report: Report, diagram: bool = False) -> dict[str, Any]:
    """The report's facts, with the notes worded for people reading the JSON (before `versions`)."""
    data = report.to_dict()
    versions = data.pop("versions")
    if diagram:
        from convinspect.render.layer.diagram import layer_diagram

        data["diagram"] = layer_diagram(report.measures.geometry)
    warning = words.runtime_warning(report)
    data["notes"] = [*words.notes(report), *([warning] if warning else [])]
    data["versions"] = versions
    return data


def report_json(report: Report, diagram: bool = False) -> str:
    return dumps(report_dict(report, diagram))


def check_json(run: CheckRun) -> str:
    """The run, with each entry's result (and its full report) as one compact line."""
    return "".join(check_json_stream(run.results, Tally()))


def check_json_stream(results: Iterable[EntryResult], tally: Tally) -> Iterator[str]:
    """check_json as chunks, each result encoded as it arrives and then let go; `tally` counts them."""
    yield '{\n  "schema": ' + json.dumps(CHECK_SCHEMA) + ',\n  "results": ['
    separator = "\n"
    for result in results:
        tally.add(result)
        row = {
            **result.to_dict(with_report=False),
            "report": None if result.report is None else _entry_report(result.report),
        }
        yield separator + "    " + inert_json(json.dumps(row, ensure_ascii=False, separators=(", ", ": ")))
        separator = ",\n"
    yield ("\n  ]" if separator != "\n" else "]") + ",\n" + _members({"summary": tally.summary()}) + "\n}\n"


def sweep_json(sweep: Sweep) -> str:
    """The sweep object, with each row as one compact line."""
    return dumps_rows(sweep.to_dict(), "rows")


def error_dict(err: ConvinspectError, schema: str = REPORT_SCHEMA) -> dict[str, Any]:
    return {
        "schema": schema,
        "error": {
            "type": type(err).__name__,
            "message": err.message(),
            "option": err.option,
            "rule": err.rule,
            "exit_code": err.exit_code,
        },
    }


def error_json(err: ConvinspectError, schema: str = REPORT_SCHEMA) -> str:
    return dumps(error_dict(err, schema))


def model_json(result: ModelResult) -> str:
    """One compact object per layer: an 800-layer model stays greppable."""
    return dumps_rows(result.to_dict(), "layers")


def _entry_report(report: Report | ModelResult) -> dict[str, Any]:
    return report_dict(report) if isinstance(report, Report) else report.to_dict()


def conformance_json(result: Conformance) -> str:
    return dumps(result.to_dict())


def solve_json(result: SolveResult) -> str:
    return dumps(result.to_dict())
