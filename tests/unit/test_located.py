"""YAML loading: scalars keep their text, and hostile files are file:line errors, fast."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from slawatch.config import located
from slawatch.config.located import MAX_FILE_BYTES, InputError, load_located

# A "billion laughs": nine levels of nine aliases, about 400 bytes, 387 million strings expanded.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


@pytest.fixture(params=["libyaml", "python"], autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test runs with libyaml's event parser and with PyYAML's pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(located, "_EventParser", located._PyEvents)
    yield request.param


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_located("f.yaml", text)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    "text, value",
    [
        ("v: yes", "yes"), ("v: no", "no"), ("v: on", "on"), ("v: true", "true"), ("v: 010", "010"),
        ("v: 0x1F", "0x1F"), ("v: 1.10", "1.10"), ("v: 1:30", "1:30"), ("v: 1e3", "1e3"), ("v: .inf", ".inf"),
        ("v: 2026-12-24", "2026-12-24"), ("v: '~'", "~"), ('v: "null"', "null"), ("v: !!str 5", "5"),
        ("v: =", "="), ("v: >-\n  folded\n  text", "folded text"), ("v: ~", None), ("v: null", None),
        ("v: NULL", None), ("v:", None), ("v: None", "None"),
    ],
)
def test_scalars_are_their_text_and_only_a_plain_null_is_none(text: str, value: str | None) -> None:
    assert load_located("f.yaml", text).data == {"v": value}


def test_keys_are_text_too() -> None:
    assert load_located("f.yaml", "{on: 1, 8080: 2, 1.10: 3}").data == {"on": "1", "8080": "2", "1.10": "3"}


def test_lines_are_recorded_for_keys_and_items() -> None:
    doc = load_located("f.yaml", "a:\n  b: 1\n  c:\n    - x\n    - y\n")
    assert [doc.line_of(p) for p in [("a",), ("a", "b"), ("a", "c", 1), ("a", "c", 1, "z")]] == [1, 2, 5, 5]


def test_an_alias_bomb_is_refused_in_milliseconds() -> None:
    started = time.perf_counter()
    found = problems(ALIAS_BOMB)
    assert time.perf_counter() - started < 2.0  # expanding it would take minutes; refusing is immediate
    assert found == ["f.yaml:2: YAML aliases are not allowed (*a); write the value out"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: &x [*x]\n", "f.yaml:1: YAML aliases are not allowed (*x)"),
        ("base: &b {team: db}\nrule:\n  <<: *b\n", "f.yaml:3: YAML aliases are not allowed (*b)"),
        ("? [a, b]\n: c\n", "f.yaml:1: a mapping key must be a scalar, not a sequence"),
        ("x:\n  {a: 1}: c\n", "f.yaml:2: a mapping key must be a scalar, not a mapping"),
        ("a: !include other.yaml\n", "f.yaml:1: YAML tag !include is not supported"),
        ("a: !!python/object/apply:os.system [id]\n", "f.yaml:1: YAML tag !!python/object/apply:os.system"),
        ("a:\n  b: 1\n  b: 2\n", "f.yaml:3: a.b: duplicate key 'b'"),
        ("a: ok\nb: bell\x07\n", "f.yaml:2: control character U+0007 is not allowed in YAML (column 8)"),
        ("a: 1\nb: " + "[" * 100 + "]" * 100, "f.yaml:2: nested deeper than 64 levels"),
        ("a: [\n", "f.yaml:2: invalid YAML"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2: invalid YAML: expected a single document in the stream, but found another"),
    ],
    ids=["recursive alias", "merge alias", "list key", "mapping key", "custom tag", "python tag", "duplicate key",
         "control character", "deep nesting", "syntax", "two documents"],
)
def test_hostile_or_broken_yaml_is_a_file_line_problem(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_invalid_utf8_names_its_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"groups:\n  - name: caf\xc3\xa9\n    rules: []\n  - name: \xff\xfe\n")
    with pytest.raises(InputError) as info:
        load_located(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (str(path), 4)
    assert problem.message == "invalid UTF-8: byte 0xff at offset 48 (column 11)"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_located(path).data == {"a": "1"}


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = b"# " + b"x" * 1021 + b"\n"
    path.write_bytes(line * (11 * 1024))  # 11 MiB of comments: valid YAML, too large
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_located(path)
    assert time.perf_counter() - started < 2.0  # expanding it would take minutes; refusing is immediate
    (problem,) = info.value.problems
    assert problem.file == str(path) and problem.message.startswith("file is larger than the 10 MiB limit")
    assert MAX_FILE_BYTES == 10 * 1024 * 1024


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * (MAX_FILE_BYTES - 6) + b"\n")
    assert load_located(path).data == {"a": "1"}
