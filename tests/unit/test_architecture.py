"""The rooms of the code, enforced: each module's imports say which room it is in.

Each room below lists the convinspect packages its modules may import (a module may
always import its own room). Third-party imports are a separate rule: only engines/keras*,
session and loading import TensorFlow, Keras, NumPy or absl (engines/keras_training JAX too;
engines/reference NumPy, the float64 reference), h5py only engines/; core/ takes nothing outside
the standard library; render/ uses Rich, and only the command line and output.py use Typer and Click.

Every import counts, including those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from paths import PACKAGE

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
    "convinspect.engines.session": (("convinspect.engines", *CORE, *BASE), HEAVY),
    "convinspect.engines.loading": (("convinspect.engines", *CORE, *BASE), (*HEAVY, "h5py")),
    "convinspect.engines.keras_training": (("convinspect.engines", *CORE, *BASE), (*HEAVY, "jax")),
    "convinspect.engines.reference": (("convinspect.engines", *CORE, *BASE), ("numpy",)),
    "convinspect.engines": ((*CORE, *BASE), ("h5py",)),  # sources.py reads a .h5 file's configuration
    "convinspect.render": ((*CORE, *BASE), ("rich",)),
    "convinspect.api": (("convinspect.engines", *CORE, *BASE), ()),
    "convinspect.adapter": (
        ("convinspect.api", "convinspect.engines", "convinspect.streams", "convinspect.files", *CORE, *BASE),
        (),
    ),
    "convinspect.streams": ((), ()),
    "convinspect.progress": (("convinspect.streams",), ("rich",)),
    "convinspect.files": (("convinspect.errors",), ()),
    "convinspect.output": (
        ("convinspect.render", "convinspect.streams", "convinspect.progress", "convinspect.files", *CORE, *BASE),
        UI,
    ),
    "convinspect.cli": (
        (
            "convinspect.adapter",
            "convinspect.output",
            "convinspect.files",
            "convinspect.streams",
            "convinspect.progress",
            *BASE,
        ),
        UI,
    ),
    "convinspect.entry": (("convinspect.cli",), ()),
    "convinspect.__main__": (("convinspect.entry",), ()),
    "convinspect.display": (("convinspect.api", "convinspect.output", "convinspect.render", *CORE, *BASE), ()),
    "convinspect": (
        ("convinspect.api", "convinspect.display", *CORE, *BASE),
        (),
    ),  # __init__: the public names, re-exported
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
        ("convinspect.core.commands.solve", "from convinspect.core.model import rules\n"),
        ("convinspect.core.checks.checkrun", "from convinspect.engines import analytic\n"),
        ("convinspect.render.layer.table", "from convinspect.engines import keras\n"),
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
        ("convinspect.cli", "from convinspect import adapter\nimport typer\n"),
    ],
)
def test_a_right_room_import_passes(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_the_checker_sees_the_whole_package() -> None:
    names = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert {"convinspect.core.layer.families", "convinspect.engines.keras", "convinspect.render.layer.table"} <= names
    assert all(room_of(name) for name in names)


def test_core_has_no_loose_module() -> None:
    """Every core module is in a room: core/ itself holds only the rooms' packages."""
    loose = [p.name for p in (PACKAGE / "core").glob("*.py") if p.name != "__init__.py"]
    assert loose == []


def _module_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports (any import, lazy ones too)."""
    names = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        graph[name] = {imported for imported in imports(path.read_text(encoding="utf-8"))
                       if imported in names and imported != name}  # fmt: skip
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (Tarjan's strongly connected components larger than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_anywhere() -> None:
    assert _circles(_module_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


RULES_PACKAGE = "convinspect.core.model.rules"
GROUPS = ("conv", "dense", "normalization", "pooling", "sequences", "shapes")


def test_the_rules_package_is_a_registry_and_one_module_per_group() -> None:
    """rules/: common and registry on the ground floor, each group on them alone, the package importing
    every group; so a new group is one module and one name in the package's list."""
    graph = _module_graph()
    modules = {name.rsplit(".", 1)[1] for name in graph if name.startswith(RULES_PACKAGE + ".")}
    assert modules == {"common", "registry", *GROUPS}
    assert {f"{RULES_PACKAGE}.{g}" for g in GROUPS} <= graph[RULES_PACKAGE]
    for group in GROUPS:
        inside = {m for m in graph[f"{RULES_PACKAGE}.{group}"] if m.startswith(RULES_PACKAGE)}
        assert inside <= {f"{RULES_PACKAGE}.common", f"{RULES_PACKAGE}.registry"}, (group, inside)
    assert graph[f"{RULES_PACKAGE}.common"].isdisjoint({f"{RULES_PACKAGE}.{m}" for m in (*GROUPS, "registry")})


def test_a_class_with_two_rules_is_refused_at_import() -> None:
    from convinspect.core.model.rules import RULES
    from convinspect.core.model.rules.registry import rule

    with pytest.raises(ValueError, match="Dense has two rules"):
        rule("Dense")(RULES["Dense"])


def test_the_tests_mirror_the_code() -> None:
    """Unit tests sit under tests/unit/ in the folder of the code they test; integration tests
    (real Keras, the command line) and hostile ones have folders of their own; helpers live in
    tests/support/, tools outside tests/. No test file stands loose at the top."""
    from paths import TESTS

    assert sorted(p.name for p in TESTS.glob("*.py")) == ["conftest.py"]
    assert {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))} == {
        "unit", "integration", "hostile", "support", "golden", "cpus", "planted"}  # fmt: skip
    unit = TESTS / "unit"
    for folder in (p for p in unit.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        assert (PACKAGE / folder.relative_to(unit)).is_dir(), f"tests/unit/{folder.relative_to(unit)} mirrors nothing"
    names = [p.name for p in TESTS.rglob("test_*.py")]
    assert len(names) == len(set(names)), "two test files share a name"
    assert not list((TESTS / "support").glob("test_*.py")), "tests/support holds helpers, not tests"
