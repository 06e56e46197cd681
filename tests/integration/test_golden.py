"""Golden outputs: every documented example, rendered at 80 columns without colour, must not change.

Each file in tests/golden/ holds one example: the command on its first line (`$ convinspect ...`),
then what it prints (stdout, then stderr), then `$ echo $?` and the exit code when it is not 0.
Trailing spaces are dropped.
README.md and docs/*.md show each one in a ```console block right after a
`<!-- golden: NAME -->` line, and every console block in them must be one.

After a deliberate change, rewrite them all: `pytest tests/integration/test_golden.py --overwrite`,
then read the diff.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from paths import GOLDEN, ROOT
from typer.testing import CliRunner

from convinspect.cli import app

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- golden: (?P<name>[\w.-]+) -->\n```console\n(?P<body>.*?)```\n", re.S)
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def _other_kernels(args: list[str]) -> bool:
    """Whether the example pins a CPU kernel set other than the one this process's TensorFlow has
    (it reads TF_ENABLE_ONEDNN_OPTS once): such an example runs in a process of its own."""
    from convinspect.engines.session import onednn_switch

    if "--cpu-kernels" not in args or "analytic" in args:
        return False
    have = onednn_switch()
    return have is not None and have != (args[args.index("--cpu-kernels") + 1] == "onednn")


def run_example(command: str) -> str:
    """What a user sees for `command`, in the golden format."""
    args = shlex.split(command)
    assert args[0] == "convinspect", command
    if _other_kernels(args):
        proc = subprocess.run([sys.executable, "-m", "convinspect", *args[1:]], capture_output=True, text=True,
                              env={**os.environ, **ENV}, check=False)  # fmt: skip
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    else:
        result = CliRunner().invoke(app, args[1:], env=ENV)
        stdout, stderr, code = result.stdout, result.stderr, result.exit_code
    text = f"$ {command}\n{stdout}{stderr}"
    if code:
        text += f"$ echo $?\n{code}\n"
    # Rich pads table cells with spaces; editors strip them, and nobody sees them.
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def goldens() -> list[Path]:
    return sorted(GOLDEN.glob("*.txt"))


@pytest.mark.parametrize("path", goldens(), ids=lambda p: p.stem)
def test_example_output_is_unchanged(
    path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # examples name files relative to the project
    golden = path.read_text(encoding="utf-8")
    actual = run_example(golden.splitlines()[0].removeprefix("$ "))
    if request.config.getoption("--overwrite"):
        path.write_text(actual, encoding="utf-8")
        return
    assert actual == golden, f"{path.name} changed; if that is deliberate, run pytest {__file__} --overwrite"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_examples_are_the_goldens(doc: Path, request: pytest.FixtureRequest) -> None:
    text = doc.read_text(encoding="utf-8")
    overwrite = request.config.getoption("--overwrite")
    blocks = list(BLOCK.finditer(text))
    assert text.count("```console") == len(blocks), f"{doc.name}: a console block without a golden marker"
    for match in blocks:
        golden = GOLDEN / f"{match['name']}.txt"
        assert golden.exists(), f"{doc.name} shows {match['name']}, which has no file in tests/golden/"
    if overwrite:
        text = BLOCK.sub(lambda m: _block(m["name"]), text)
        doc.write_text(text, encoding="utf-8")
        return
    for match in blocks:
        expected = (GOLDEN / f"{match['name']}.txt").read_text(encoding="utf-8")
        assert match["body"] == expected, f"{doc.name}: the {match['name']} example differs from tests/golden/"


def _block(name: str) -> str:
    body = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    return f"<!-- golden: {name} -->\n```console\n{body}```\n"


def test_every_golden_is_documented() -> None:
    shown = {m["name"] for doc in DOCS for m in BLOCK.finditer(doc.read_text(encoding="utf-8"))}
    assert {p.stem for p in goldens()} <= shown
