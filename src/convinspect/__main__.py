"""python -m convinspect: the same program as the console script.

`python -m` puts the current folder first on sys.path, so a typer.py or numpy.py lying there
would be imported in place of the real package: it is dropped before anything is imported."""

import os
import sys

_here = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _here)]

from convinspect.entry import main  # noqa: E402

main()
