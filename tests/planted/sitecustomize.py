"""On PYTHONPATH (tests/integration/test_crash.py puts this folder there), every Python process the tests start
plants the crash of planted_crash.py: the command line in a child, and each of its workers."""

import contextlib

with contextlib.suppress(ImportError):
    import planted_crash  # noqa: F401
