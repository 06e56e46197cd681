"""Figures and pages against their baselines, side by side, medians of fresh processes.

    python benchmarks/bench_pages.py [ROUNDS]

- `model resnet50.keras --engine analytic --format html` against the analytic table (target <= 2x),
  and the page's size (target <= 1.5 MB);
- `build --engine analytic --format svg` against `--format json` (target <= 1.2x);
- a 1,000-layer model's page opened in headless Chromium (target < 2 s), beside an empty page.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import run_once

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "convinspect"]
LAYER = ["build", "--filters", "64", "--kernel", "3", "--strides", "2", "--padding", "same", "--input", "8,224,224,3",
         "--engine", "analytic"]  # fmt: skip


def _median(argv: list[str], rounds: int) -> float:
    return statistics.median(run_once(argv)[0] for _ in range(rounds))


def _resnet(folder: Path) -> Path:
    path = folder / "resnet50.keras"
    code = f"import keras; keras.applications.ResNet50(weights=None).save({str(path)!r})"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return path


def _deep(folder: Path, layers: int = 1000) -> Path:
    """A Sequential of `layers` layers (conv, batch norm, ReLU in turn), as a configuration file."""
    entries: list[dict[str, object]] = [{"class_name": "InputLayer",
                                         "config": {"batch_shape": [None, 32, 32, 8], "name": "input"}}]  # fmt: skip
    for i in range(layers - 1):
        kind = ("Conv2D", "BatchNormalization", "ReLU")[i % 3]
        config: dict[str, object] = {"name": f"{kind.lower()}_{i}"}
        if kind == "Conv2D":
            config |= {"filters": 8, "kernel_size": [3, 3], "padding": "same"}
        entries.append({"class_name": kind, "config": config})
    path = folder / "deep.json"
    path.write_text(json.dumps({"class_name": "Sequential", "config": {"name": "deep", "layers": entries}}))
    return path


def _open_seconds(page: Path, browser: str, rounds: int) -> float:
    times = []
    for index in range(rounds):
        start = time.perf_counter()
        subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={page}.{index}",
                        "--dump-dom", page.as_uri()], capture_output=True, check=True, timeout=120)  # fmt: skip
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        resnet = _resnet(folder)
        table = _median([*CLI, "model", str(resnet), "--engine", "analytic"], rounds)
        page = _median([*CLI, "model", str(resnet), "--engine", "analytic", "--format", "html", "-o",
                        str(folder / "r.html")], rounds)  # fmt: skip
        size = (folder / "r.html").stat().st_size
        as_json = _median([*CLI, *LAYER, "--format", "json"], rounds)
        as_svg = _median([*CLI, *LAYER, "--format", "svg"], rounds)
        print(f"{rounds} rounds, medians, fresh processes")
        print(f"{'command':<58}{'wall':>9}")
        print(f"{'model resnet50 --engine analytic (table)':<58}{table:>8.3f}s")
        print(f"{'model resnet50 --engine analytic --format html':<58}{page:>8.3f}s   {page / table:.2f}x (<= 2x)")
        print(f"{'  page size':<58}{size / 1e6:>7.2f} MB   (<= 1.5 MB)")
        print(f"{'build --engine analytic --format json':<58}{as_json:>8.3f}s")
        print(f"{'build --engine analytic --format svg':<58}{as_svg:>8.3f}s   {as_svg / as_json:.2f}x (<= 1.2x)")
        browser = shutil.which("chromium") or shutil.which("google-chrome")
        if browser is None:
            print("no Chromium here: the 1,000-layer page's opening is not measured")
            return
        deep = _deep(folder)
        deep_page = folder / "deep.html"
        subprocess.run([*CLI, "model", str(deep), "--engine", "analytic", "--format", "html", "-o", str(deep_page)],
                       check=True, capture_output=True)  # fmt: skip
        empty = folder / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>")
        blank, opened = _open_seconds(empty, browser, rounds), _open_seconds(deep_page, browser, rounds)
        print(f"{'chromium --dump-dom, an empty page':<58}{blank:>8.3f}s")
        print(f"{'chromium --dump-dom, the 1,000-layer page':<58}{opened:>8.3f}s   "
              f"+{opened - blank:.3f}s over empty (< 2 s); {deep_page.stat().st_size / 1e6:.2f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
