"""TensorFlow's two CPU kernel sets, each in a worker process of its own, on any x86 machine.

TensorFlow reads TF_ENABLE_ONEDNN_OPTS once per process, so a test that needs oneDNN on or off
asks a worker started with that setting (and `default` leaves it unset: the CPU decides). A
worker answers one JSON line per request: the report (report_dict, notes included) or the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

SETTINGS = {"onednn": "1", "plain": "0", "default": None}

_RUN = """
import json, sys
from convinspect.api import inspect_layer
from convinspect.engines import session as engine
from convinspect.errors import ConvinspectError
from convinspect.render.json import report_dict
engine.load()
print(json.dumps({"onednn": engine.onednn_switch()}), flush=True)
for line in iter(sys.stdin.readline, ""):
    request = json.loads(line)
    try:
        report = inspect_layer(request["options"], **request["kwargs"])
    except ConvinspectError as err:
        error = {"type": type(err).__name__, "message": err.message(), "option": err.option, "rule": err.rule,
                 "exit_code": err.exit_code}
        print(json.dumps({"error": error}), flush=True)
        continue
    print(json.dumps({"report": report_dict(report)}), flush=True)
"""


class Worker:
    """inspect_layer in a process whose TensorFlow has oneDNN on, off, or as the CPU decides."""

    def __init__(self, setting: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        if SETTINGS[setting] is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = SETTINGS[setting]  # type: ignore[assignment]
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self.setting = setting
        self.proc = subprocess.Popen([sys.executable, "-c", _RUN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True, bufsize=1)  # fmt: skip
        self._onednn: bool | None = None
        self._started = False

    def _start(self) -> None:
        if not self._started:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            assert line, f"the {self.setting} worker did not start"
            self._onednn = json.loads(line)["onednn"]
            self._started = True

    @property
    def onednn(self) -> bool | None:
        """TensorFlow's own oneDNN flag in the worker."""
        self._start()
        return self._onednn

    def __call__(self, options: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"options": options, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the {options} run ended the {self.setting} worker"
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
