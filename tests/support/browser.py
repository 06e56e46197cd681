"""A real headless Chromium for the figures and pages: a screenshot as pixels, the DOM as Chromium
parsed it, and every network request it made (its net log)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path; CI installs Debian's chromium (.ci/run), so there a missing one fails."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium on a CI machine: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium here (apt-get install chromium); CI installs it")
    return found


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    profile = page.parent / f"profile-{page.stem}"
    argv = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--metrics-recording-only",
            f"--user-data-dir={profile}", *flags, page.resolve().as_uri()]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@dataclass(frozen=True)
class Shot:
    width: int
    height: int
    pixels: list[bytes]  # rows of RGBA bytes

    def colours(self) -> set[bytes]:
        return {row[i : i + 4] for row in self.pixels for i in range(0, len(row), 4)}


def screenshot(page: Path, width: int, height: int) -> Shot:
    out = page.with_suffix(".png")
    done = _run(page, f"--window-size={width},{height}", f"--screenshot={out}")
    assert out.exists(), done.stderr[-2000:]
    return read_png(out.read_bytes())


def dom(page: Path) -> str:
    return _run(page, "--dump-dom").stdout


def requests(page: Path) -> list[str]:
    """The URLs the page asked for while it loaded (its own file aside). Chromium's own background
    requests (update checks, the clock) carry no initiator ("not an origin"), the page's do."""
    log = page.with_suffix(".netlog.json")
    _run(page, f"--log-net-log={log}", "--dump-dom")
    text = log.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit: close it
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    start = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = {e["params"].get("url") for e in data.get("events", [])
            if e.get("type") == start and e.get("params", {}).get("initiator") != "not an origin"}  # fmt: skip
    return sorted(u for u in urls if u and not u.startswith(("file:", "data:", "about:", "chrome:")))


def read_png(data: bytes) -> Shot:
    """An 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes), decoded to RGBA rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, chunks, header = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(b"".join(chunks)), width * step
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        previous = line
        rows.append(
            bytes(line) if step == 4 else b"".join(bytes(line[i : i + 3]) + b"\xff" for i in range(0, stride, 3))
        )
    return Shot(width, height, rows)
