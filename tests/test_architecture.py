"""The rooms of the code, enforced: each module's imports say which room it is in.

Each room below lists the convinspect packages its modules may import (a module may
always import its own room). Third-party imports are a separate rule: only engines/keras*
imports TensorFlow, Keras, NumPy or absl (and engines/reference NumPy, the float64
reference), h5py only engines/; core/ takes nothing outside the standard library; render/
uses Rich, and only the command line and output.py use Typer and Click.

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
# tomllib's backport on Python 3.10 is the standard library's, published separately.
STDLIB = frozenset(sys.stdlib_module_names) | {"tomli"}

VOCAB = "convinspect.core.vocab"
LAYER = "convinspect.core.layer"
MODEL = "convinspect.core.model"
CHECKS = "convinspect.core.checks"
COMMANDS = "convinspect.core.commands"
CORE = (VOCAB, LAYER, MODEL, CHECKS, COMMANDS)
BASE = ("convinspect.errors", "convinspect.version")

# room -> (the convinspect modules it may import, the third-party packages it may import)
ROOMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    VOCAB: (("convinspect.errors",), ()),
    LAYER: ((VOCAB, "convinspect.errors"), ()),
    MODEL: ((LAYER, VOCAB, "convinspect.errors"), ()),
    CHECKS: ((MODEL, LAYER, VOCAB, "convinspect.errors"), ()),
    COMMANDS: ((LAYER, VOCAB, "convinspect.errors"), ()),
    "convinspect.core": ((), ()),  # the package itself holds nothing
    "convinspect.errors": (("convinspect.core.vocab.text",), ()),  # error text is made inert like all text
    "convinspect.version": ((), ()),
    "convinspect.engines.keras": (("convinspect.engines", *CORE, *BASE), (*HEAVY, "h5py")),
    "convinspect.engines.keras_model": (("convinspect.engines", *CORE, *BASE), (*HEAVY, "h5py")),
    "convinspect.engines.reference": (("convinspect.engines", *CORE, *BASE), ("numpy",)),
    "convinspect.engines": ((*CORE, *BASE), ("h5py",)),  # sources.py reads a .h5 file's configuration
    "convinspect.render": ((*CORE, *BASE), ("rich",)),
    "convinspect.api": (("convinspect.engines", *CORE, *BASE), ()),
    "convinspect.streams": ((), ()),
    "convinspect.output": (("convinspect.render", "convinspect.streams", *CORE, *BASE), UI),
    "convinspect.cli": (("convinspect.api", "convinspect.output", "convinspect.streams", *BASE), UI),
    "convinspect.entry": (("convinspect.cli",), ()),
    "convinspect.__main__": (("convinspect.entry",), ()),
    "convinspect": (("convinspect.api", *CORE, *BASE), ()),  # __init__: the public names, re-exported
}


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


def room_of(module: str) -> str:
    """The most specific room that holds the module."""
    rooms = [room for room in ROOMS if _within(module, (room,))]
    assert rooms, f"{module} is in no room: add it to ROOMS"
    return max(rooms, key=len)


def violations(module: str, source: str) -> list[str]:
    """The imports of `module` that break its room's rule."""
    room = room_of(module)
    allowed, packages = ROOMS[room]
    found: list[str] = []
    flagged: set[str] = set()
    for name in imports(source):
        top = name.split(".")[0]
        if name.rsplit(".", 1)[0] in flagged:
            continue  # `from a import b` where `a` is already a wrong import
        if top == "convinspect":
            # `from convinspect.core.layer import spec` names the package too; only modules count.
            if name in ("convinspect", "convinspect.core") or _within(name, (room, *allowed)):
                continue
            flagged.add(name)
            found.append(f"{module} imports {name}: {room} may import only {', '.join(allowed) or 'itself'}")
        elif top not in STDLIB and not _within(top, packages):
            flagged.add(name)
            found.append(f"{module} imports {name}: {room} may take only the standard library"
                         + (f" and {', '.join(packages)}" if packages else ""))  # fmt: skip
    return found


def test_every_module_keeps_to_its_room() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found.extend(violations(module_name(path), path.read_text(encoding="utf-8")))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("convinspect.core.layer.cost", "import rich\n"),
        ("convinspect.core.layer.spec", "def f():\n    import numpy\n"),
        ("convinspect.core.layer.report", "from convinspect.render import words\n"),
        ("convinspect.core.layer.families", "from convinspect.core.model.graph import Graph\n"),
        ("convinspect.core.layer.kinds", "from convinspect.core.checks import expectations\n"),
        ("convinspect.core.vocab.choices", "from convinspect.core.layer.spec import LayerSpec\n"),
        ("convinspect.core.model.walk", "from convinspect.core.checks.results import ModelResult\n"),
        ("convinspect.core.commands.solve", "from convinspect.core.model import sizing\n"),
        ("convinspect.core.checks.checkrun", "from convinspect.engines import analytic\n"),
        ("convinspect.render.table", "from convinspect.engines import keras\n"),
        ("convinspect.render.words", "from convinspect import api\n"),
        ("convinspect.render.model", "import typer\n"),
        ("convinspect.engines.analytic", "import tensorflow as tf\n"),
        ("convinspect.engines.keras", "from rich.console import Console\n"),
        ("convinspect.api", "from convinspect.render.json import dumps\n"),
        ("convinspect.api", "from convinspect.output import write\n"),
        ("convinspect.cli", "import keras\n"),
        ("convinspect.cli", "from convinspect.core.layer.spec import parse_spec\n"),
        ("convinspect.cli", "from convinspect.engines import keras\n"),
        ("convinspect.cli", "from convinspect.render.json import dumps\n"),
    ],
)
def test_a_wrong_room_import_is_caught(module: str, source: str) -> None:
    assert violations(module, source)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("convinspect.core.model.walk", "from convinspect.core.layer.spec import LayerSpec\n"),
        ("convinspect.core.checks.expectations", "from convinspect.core.model.report import ModelReport\n"),
        ("convinspect.core.layer.families", "from convinspect.core.vocab.choices import Padding\n"),
        ("convinspect.core.layer.arithmetic", "from convinspect.core.layer import geometry\n"),
        ("convinspect.engines.keras", "def f():\n    import tensorflow\n"),
        ("convinspect.render.model", "from convinspect.core.model.report import ModelReport\n"),
        ("convinspect.cli", "from convinspect import api\nimport typer\n"),
    ],
)
def test_a_right_room_import_passes(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_the_checker_sees_the_whole_package() -> None:
    names = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert {"convinspect.core.layer.families", "convinspect.engines.keras", "convinspect.render.table"} <= names
    assert all(room_of(name) for name in names)


def test_core_has_no_loose_module() -> None:
    """Every core module is in a room: core/ itself holds only the rooms' packages."""
    loose = [p.name for p in (PACKAGE / "core").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
