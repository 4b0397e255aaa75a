"""cli.terminal: untrusted text is shown escaped, and tables align by display width."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.cli.terminal import safe, table, width


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("\x1b[2J", "\\x1b[2J"),  # ESC: the sequence becomes visible text
        ("a\rb", "a\\rb"),
        ("a\nb\tc", "a\\nb\\tc"),
        ("\x07bell\x00", "\\x07bell\\x00"),
        ("\x9b31m", "\\x9b31m"),  # the 8-bit CSI
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
        ("\u2028", "\\u2028"),
        ("\ufeff", "\\ufeff"),
        ("数据库 🔥", "数据库 🔥"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # joiners inside an emoji sequence stay
        ("back\\slash", "back\\slash"),
    ],
)
def test_control_and_format_characters_are_shown_escaped(raw: str, shown: str) -> None:
    assert safe(raw) == shown


@given(st.text())
def test_safe_text_has_no_control_character_left(raw: str) -> None:
    out = safe(raw)
    assert all(c not in out for c in "\x1b\r\n\x9b\x00\u202e\u2028")
    assert width(out) >= 0


def test_width_counts_terminal_cells() -> None:
    assert width("api") == 3
    assert width("数据库") == 6
    assert width("🔥") == 2


def test_a_table_pads_by_display_width_and_escapes_cells() -> None:
    out = table(("NAME", "X"), [("数据库", "1"), ("api", "2"), ("\x1b[2J", "3")])
    assert out.splitlines() == [
        "NAME     X",  # the widest cell is the escaped one: 7 cells
        "数据库   1",  # 3 characters, 6 cells
        "api      2",
        "\\x1b[2J  3",
    ]
