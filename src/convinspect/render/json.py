"""The JSON contract on stdout: a report, or an error object."""

from __future__ import annotations

import json
from typing import Any

from convinspect.core.report import REPORT_SCHEMA, Report
from convinspect.errors import ConvinspectError


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def report_json(report: Report) -> str:
    return dumps(report.to_dict())


def error_dict(err: ConvinspectError, schema: str = REPORT_SCHEMA) -> dict[str, Any]:
    return {
        "schema": schema,
        "error": {
            "type": type(err).__name__,
            "message": err.message(),
            "option": err.option,
            "exit_code": err.exit_code,
        },
    }


def error_json(err: ConvinspectError, schema: str = REPORT_SCHEMA) -> str:
    return dumps(error_dict(err, schema))
