"""`convinspect model --engine analytic` at scale: time per layer call for generated models whose size
a hostile file chooses, side by side with an earlier commit (which was quadratic or worse on them).

- a chain of Activation layers listed in call order, and the same chain listed last-to-first (up to
  99,999 layers: a model file holds at most 100,000);
- one Activation layer called N times in a row (a shared layer);
- nested models, each level calling the one below twice (2^depth calls: refused past 250,000 rows).

Each figure is the median of `rounds` fresh processes (this machine is shared: compare ratios).
A run the baseline cannot finish within --timeout seconds is shown as "> timeout".

Usage: python benchmarks/bench_model_scale.py [rounds] [--against REF] [--timeout S]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import worktree


def _input(name: str) -> dict[str, Any]:
    return {"class_name": "InputLayer", "name": name, "config": {"name": name, "batch_shape": [None, 8]},
            "inbound_nodes": []}  # fmt: skip


def _node(layer: str, call: int) -> dict[str, Any]:
    tensor = {"shape": [None, 8], "dtype": "float32", "keras_history": [layer, call, 0]}
    return {"args": [{"class_name": "__keras_tensor__", "config": tensor}], "kwargs": {}}


def _activation(name: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": "Activation", "name": name,
            "config": {"name": name, "activation": "relu"}, "inbound_nodes": nodes}  # fmt: skip


def _functional(name: str, layers: list[dict[str, Any]], output: tuple[str, int]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Functional", "name": name,
            "config": {"name": name, "layers": layers, "input_layers": [["in", 0, 0]],
                       "output_layers": [[output[0], output[1], 0]]}}  # fmt: skip


def chain(n: int, reverse: bool) -> dict[str, Any]:
    layers = [_activation(f"a{i}", [_node("in" if i == 0 else f"a{i - 1}", 0)]) for i in range(n)]
    return _functional("chain", [_input("in"), *(layers[::-1] if reverse else layers)], (f"a{n - 1}", 0))


def shared(n: int) -> dict[str, Any]:
    nodes = [_node("in", 0)] + [_node("act", i) for i in range(n - 1)]
    return _functional("shared", [_input("in"), _activation("act", nodes)], ("act", n - 1))


def nested(depth: int) -> dict[str, Any]:
    """Each level holds the level below, called twice in a row: 2^depth Activation calls."""
    inner: dict[str, Any] = _activation("leaf", [])
    for level in range(1, depth + 1):
        name = inner["name"]
        # Keras 3 numbers a nested Functional's nodes in output_layers from 1 (node 0 is its own)
        second = 2 if inner["class_name"] == "Functional" else 1
        inner = {**inner, "inbound_nodes": [_node("in", 0), _node(name, 0)]}
        inner = _functional(f"m{level}", [_input("in"), inner], (name, second))
    return inner


CASES: list[tuple[str, Any, int]] = [
    *((f"chain, call order, {n:,}", lambda n=n: chain(n, False), n) for n in (1_000, 10_000, 99_999)),
    *((f"chain, last-to-first, {n:,}", lambda n=n: chain(n, True), n) for n in (1_000, 10_000, 99_999)),
    *((f"one layer called {n:,} times", lambda n=n: shared(n), n) for n in (1_000, 10_000)),
    *((f"nested twice-called, depth {d} ({2**d:,} calls)", lambda d=d: nested(d), 2**d) for d in (10, 13, 24)),
]


def run(argv: list[str], env: dict[str, str] | None, timeout: float) -> float | None:
    start = time.perf_counter()
    try:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=timeout,
                       check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    parser.add_argument("--against", metavar="REF", help="an earlier commit to compare with")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "convinspect", "model"]
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, dict[str, str] | None] = {"this tree": None}
        if args.against:
            tree = stack.enter_context(worktree(args.against))
            runs[args.against] = {**os.environ, "PYTHONPATH": str(tree / "src")}
        header = f"{'model':44}" + "".join(f"{name[:18]:>20}" for name in runs)
        print(header + "   (median seconds; µs per layer call)")
        for label, make, calls in CASES:
            path = Path(tmp) / "m.json"
            path.write_text(json.dumps(make()))
            cells = []
            for env in runs.values():
                argv = [*cli, str(path), "--engine", "analytic", "--format", "json", "--output", str(Path(tmp) / "o")]
                times = [run(argv, env, args.timeout) for _ in range(args.rounds)]
                if any(t is None for t in times):
                    cells.append(f"> {args.timeout:.0f} s")
                    continue
                median = statistics.median(t for t in times if t is not None)
                cells.append(f"{median:6.2f} s {median / calls * 1e6:7.0f} µs")
            print(f"{label:44}" + "".join(f"{cell:>20}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
