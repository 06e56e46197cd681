"""The rooms of the code, enforced: each module's imports say which room it is in.

- core/ imports only the standard library, convinspect.errors and core/ itself;
- render/ imports no engine and nothing that runs commands;
- only engines/keras* imports TensorFlow, Keras, NumPy or absl (and engines/reference NumPy: the float64 reference);
- engines/ and the API never import Rich, Typer, render/ or the command line.

Every import counts, including those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convinspect"
HEAVY = ("tensorflow", "keras", "numpy", "absl")
UI = ("rich", "typer", "click")
RUNNERS = ("convinspect.cli", "convinspect.output", "convinspect.streams", "convinspect.api")
# tomllib's backport on Python 3.10 is the standard library's, published separately.
STDLIB = frozenset(sys.stdlib_module_names) | {"tomli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str) -> list[str]:
    """Every module an import statement names (for `from a import b`: `a` and `a.b`)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str, source: str) -> list[str]:
    """The imports of `module` that break a room's rule, each with the rule."""
    found = []
    for name in imports(source):
        top = name.split(".")[0]
        if module.startswith("convinspect.core") and not (
            top in STDLIB or _within(name, ("convinspect.errors", "convinspect.core"))
        ):
            found.append(f"{module} imports {name}: core/ takes only the standard library and convinspect.errors")
        if _within(module, ("convinspect.render",)) and _within(name, ("convinspect.engines", *RUNNERS)):
            found.append(f"{module} imports {name}: render/ only words results")
        numeric = top == "numpy" and module == "convinspect.engines.reference"  # the float64 reference
        if _within(top, HEAVY) and not module.startswith("convinspect.engines.keras") and not numeric:
            found.append(f"{module} imports {name}: only engines/keras* may import {', '.join(HEAVY)}")
        if _within(module, ("convinspect.engines", "convinspect.api")) and (
            _within(top, UI) or _within(name, ("convinspect.render", "convinspect.cli", "convinspect.output"))
        ):
            found.append(f"{module} imports {name}: engines and the API return facts, they do not present them")
    return found


def test_every_module_keeps_to_its_room() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        # Submodules named in a `from package import module` count as the package's modules.
        found.extend(violations(module_name(path), path.read_text(encoding="utf-8")))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("convinspect.core.cost", "import rich\n"),
        ("convinspect.core.spec", "def f():\n    import numpy\n"),
        ("convinspect.core.report", "from convinspect.render import words\n"),
        ("convinspect.render.table", "from convinspect.engines import keras\n"),
        ("convinspect.render.words", "from convinspect import api\n"),
        ("convinspect.engines.analytic", "import tensorflow as tf\n"),
        ("convinspect.engines.keras", "from rich.console import Console\n"),
        ("convinspect.api", "from convinspect.render.json import dumps\n"),
        ("convinspect.cli", "import keras\n"),
    ],
)
def test_a_wrong_room_import_is_caught(module: str, source: str) -> None:
    assert violations(module, source)


def test_the_checker_sees_the_whole_package() -> None:
    names = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert {"convinspect.core.families", "convinspect.engines.keras", "convinspect.render.table"} <= names
