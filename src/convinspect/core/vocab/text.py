"""Untrusted text made inert: control characters shown as escapes, never sent raw to a terminal or file.

Layer names and spec-file entries come from other people. An ESC sequence can clear a
terminal or retitle its window, a newline can forge a line of a log, bidirectional
overrides can make text read differently than it is, and XML 1.0 forbids most control
characters outright. Every human format passes such text through `inert`.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, lone surrogates (undecodable bytes of a file name), line and
# paragraph separators, and the bidirectional marks, embeddings, overrides and isolates.
_UNSAFE = "\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ANY = re.compile(f"[{_UNSAFE}]")
_NOT_C0 = re.compile(f"[{_UNSAFE[_UNSAFE.index(chr(0x7F)) :]}]")  # json escapes C0 itself


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the styling Keras puts in its messages


def unstyled(text: str) -> str:
    """`text` without ANSI styling sequences (Keras colours parts of its error messages)."""
    return _ANSI.sub("", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object, limit: int = 80) -> str:
    """A value echoed in a message: quoted, and cut to about `limit` characters."""
    if isinstance(value, (list, tuple)):
        text = ",".join("None" if v is None else str(v) for v in value)
    else:
        text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def inert(text: str) -> str:
    """`a\\x1b[2Jb` for a name holding ESC [ 2 J: every unsafe character escaped, newlines included."""
    return _ANY.sub(_escape, text)


def inert_json(text: str) -> str:
    """JSON text with every unsafe character as a `\\uXXXX` escape (json escapes only C0 itself)."""
    return _NOT_C0.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def inert_lines(text: str) -> str:
    """The same for a whole rendered text, keeping its own line breaks."""
    return "\n".join(inert(line) for line in text.split("\n"))


# What the human formats print beyond ASCII, and the ASCII that carries the same meaning.
_ASCII = {
    "→": "->", "←": "<-", "×": "x", "·": "*", "…": "...", "⋮": ":", "−": "-", "÷": "/",
    "≤": "<=", "≥": ">=", "⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")", "•": "*",
    "■": "#", "░": "_", "●": "o", "○": "+", "✅": "ok", "❌": "FAILED", "⚠️": "!", "⚠": "!", "🛑": "!!",
    "─": "-", "━": "-", "│": "|", "┃": "|", "╭": "+", "╮": "+", "╰": "+", "╯": "+",
    "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+",
    "═": "=", "║": "|", "╴": "-", "╶": "-", "▕": "|", "▏": "|", "━━": "--",
}  # fmt: skip


def for_encoding(text: str, encoding: str) -> str:
    """`text` as `encoding` can carry it: ASCII stand-ins for arrows, boxes and glyphs, then
    decomposed accents (é -> e), then `?`; digits and every figure stay as they are."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    import unicodedata

    out = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        stand_in = _ASCII.get(char)
        if stand_in is None:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
            stand_in = base or "?"
        out.append(stand_in)
    return "".join(out)


def json_for_encoding(text: str, encoding: str) -> str:
    """JSON text as `encoding` can carry it: characters it cannot hold become `\\uXXXX` escapes
    (outside strings JSON is ASCII, so only string contents change, and they decode the same)."""

    def escape(char: str) -> str:
        try:
            char.encode(encoding)
            return char
        except UnicodeEncodeError:
            data = char.encode("utf-16-be", "surrogatepass")
            return "".join(f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2))

    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        return "".join(escape(char) for char in text)
