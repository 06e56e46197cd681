"""The console script's entry: Ctrl-C while Python is still importing ends the program the
way it ends any program (no traceback); once the work starts it is an ordinary interrupt."""

from __future__ import annotations

import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # importing Typer, Rich, NumPy...: die quietly
    from convinspect.cli import main as run

    signal.signal(signal.SIGINT, signal.default_int_handler)  # working: clean up (temporary files)
    try:
        run()
    except KeyboardInterrupt:
        sys.exit(130)
