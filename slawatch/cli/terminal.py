"""Text for a terminal from values that monitored systems wrote: escaped, and aligned.

Label and annotation values are untrusted. Printed raw, `\\x1b[2J` clears the
operator's screen and `\\r` rewrites the line already shown; bidirectional overrides
reorder what is read. `safe` shows every such character as an escape (`\\x1b`, `\\r`,
`\\u202e`) so the text is seen, never interpreted. Joiners and emoji tag characters stay,
so emoji sequences still render. A backslash is left as it is (JSON output is the exact form).

Columns are padded by display width (wcwidth: a CJK character or an emoji takes two
cells), not by `len()`, so a table with `数据库` in it stays aligned.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence

from wcwidth import wcswidth, wcwidth

__all__ = ["safe", "table", "width"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})  # zero-width (non-)joiner: emoji and Indic/Persian text


def safe(text: str) -> str:
    """`text` with control, format and separator characters shown as escapes."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def _unsafe(c: str) -> bool:
    if c in _KEPT_FORMAT or "\U000e0020" <= c <= "\U000e007f":  # emoji tag sequences (flags)
        return False
    return unicodedata.category(c) in _UNSAFE


def _escape(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def width(text: str) -> int:
    """Terminal cells `text` takes (after `safe`, every character has a width)."""
    cells = wcswidth(text)
    return cells if cells >= 0 else sum(max(wcwidth(c), 0) for c in text)


def pad(text: str, cells: int) -> str:
    """`text` padded with spaces to `cells` display cells."""
    return text + " " * max(0, cells - width(text))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; every cell is made `safe` first."""
    body = [[safe(cell) for cell in row] for row in rows]
    widths = [max(width(cell) for cell in column) for column in zip(header, *body)]
    return "\n".join("  ".join(pad(c, w) for c, w in zip(row, widths)).rstrip() for row in [list(header), *body])
