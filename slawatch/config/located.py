"""YAML loading that remembers where every value came from, and trusts nothing in the file.

Config and rule files are validated with pydantic, whose errors name a field path
(`groups.0.rules.2.for`). Users need `file:line`, so the loader records the line of
every mapping key and sequence item, and `Problem` joins the two.

Scalars keep their text, as Go's yaml.v3 gives Prometheus for its string fields: a label
`yes`, `010`, `1.10` or `1:30` stays exactly that (YAML 1.1 would make it true, 8, 1.1
and 90, and label values are incident identities); pydantic parses numbers, booleans
and durations where a field is typed so. A file is input from whoever can write to it,
so the loader refuses, with file:line, what could stall or crash a reload: YAML aliases
(an "alias bomb" of a few hundred bytes expands to gigabytes), nesting deeper than
MAX_DEPTH, mapping keys that are not scalars, tags other than YAML's own, invalid UTF-8,
control characters, and files over MAX_FILE_BYTES (refused before they are read).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from yaml.composer import Composer
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, printable as `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {'warning: ' if self.warning else ''}{what}"


class InputError(Exception):
    """A file failed validation; `problems` lists every error found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Located:
    """Parsed YAML data plus the 1-based line of each path inside it."""

    file: str
    data: Any
    lines: dict[PathKey, int]

    def line_of(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: PathKey, message: str, warning: bool = False) -> Problem:
        field = ".".join(str(p) for p in path)
        return Problem(self.file, self.line_of(path), field, message, warning)

    def problems_from(self, error: ValidationError, prefix: PathKey = ()) -> list[Problem]:
        """Translate pydantic errors into file:line problems."""
        return [self.problem(prefix + loc, msg) for loc, msg in error_messages(error)]


def error_messages(error: ValidationError) -> list[tuple[PathKey, str]]:
    """(path, message) of each pydantic error, worded for people."""
    out = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append((loc, msg))
    return out


def errors_at(errors: Iterable[tuple[PathKey, str]], title: str = "settings") -> ValidationError:
    """A ValidationError with each problem at its own path, raised from inside a validator.

    Pydantic prefixes the paths with the location of the value being validated, so a
    check that spans several fields (a step naming an unknown schedule) still reports
    `oncall.escalation.platform.1.schedule` and its line, not just `oncall`.
    """
    return ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("value_error", "{message}", {"message": message}),
                         loc=tuple(path), input=None)
        for path, message in errors
    ])


MAX_FILE_BYTES = 10 * 1024 * 1024  # a rule or config file larger than this is refused unread
MAX_DEPTH = 64  # nesting of mappings and sequences; real files need fewer than 10

_CORE = "tag:yaml.org,2002:"
_NULL, _STR, _SEQ, _MAP = _CORE + "null", _CORE + "str", _CORE + "seq", _CORE + "map"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})  # YAML 1.2 core schema
_SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "timestamp", "binary"))
# What YAML allows in a stream (its "printable" set); libyaml and PyYAML reject the rest.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Refused(Exception):
    """Raised while composing; becomes a Problem at the mark."""

    def __init__(self, mark: yaml.Mark | None, message: str, path: PathKey = ()) -> None:
        super().__init__(message)
        self.mark, self.message, self.path = mark, message, path


class _PyEvents(Reader, Scanner, Parser):
    """PyYAML's pure-Python event parser, where libyaml is not installed."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


try:  # libyaml's parser produces the same events four times faster
    from yaml._yaml import CParser as _EventParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _EventParser = _PyEvents  # type: ignore[misc, assignment]


class _Composer(Composer, BaseResolver):
    """YAML events composed into nodes; nothing is ever constructed from a tag.

    Plain scalars resolve to null or to text (YAML 1.2 core schema for null, and no
    YAML 1.1 `yes`/`010`/`1:30` coercion): the text is what the file says, and pydantic
    turns it into a number, a boolean or a duration where a field is typed so. Aliases
    are refused when met, so an alias bomb costs nothing, and nesting is bounded.
    """

    def __init__(self, events: Any) -> None:
        self._events = events
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self._depth = 0

    def check_event(self, *choices: Any) -> bool:
        return self._events.check_event(*choices)

    def peek_event(self) -> Any:
        return self._events.peek_event()

    def get_event(self) -> Any:
        return self._events.get_event()

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _NULL if implicit[0] and value in _NULLS else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"YAML aliases are not allowed (*{event.anchor}); write the value out")
        if self._depth >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        self._depth += 1
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    """Plain data from a node tree: dicts with text keys, lists, text and None."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            raise _Refused(node.start_mark, f"YAML tag {_short_tag(node.tag)} is not supported")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "mapping" if isinstance(key_node, yaml.MappingNode) else "sequence"
                raise _Refused(key_node.start_mark, f"a mapping key must be a scalar, not a {kind}")
            key = key_node.value
            if key in out:
                raise _Refused(key_node.start_mark, f"duplicate key {key!r}", path + (key,))
            child = path + (key,)
            out[key] = _construct(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1  # a field's line is its key's
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _Refused(node.start_mark, f"YAML tag {_short_tag(node.tag)} is not supported")
        return [_construct(item, path + (i,), lines) for i, item in enumerate(node.value)]
    if node.tag == _NULL:
        return None
    if node.tag not in _SCALAR_TAGS:
        raise _Refused(node.start_mark, f"YAML tag {_short_tag(node.tag)} is not supported")
    return node.value


def read_text(path: Path | str) -> str:
    """A file's text: refused above MAX_FILE_BYTES (unread) and when it is not UTF-8."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
    except OSError as exc:
        raise InputError([Problem(file, None, "", f"cannot read file: {exc.strerror}")]) from None
    if size > MAX_FILE_BYTES or len(raw) > MAX_FILE_BYTES:
        raise _too_large(file, max(size, len(raw)))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"invalid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} (column {column})"
        raise InputError([Problem(file, line, "", message)]) from None


def _too_large(file: str, size: int) -> InputError:
    limit = f"{MAX_FILE_BYTES / (1024 * 1024):g} MiB"
    return InputError([Problem(file, None, "", f"file is larger than the {limit} limit ({size} bytes); refused unread")])


def load_located(path: Path | str, text: str | None = None) -> Located:
    """Read and parse one YAML file; every way it can be wrong is an InputError with the line.

    Scalars come out as their text (or None for a plain `null`, `~` or nothing); aliases,
    non-scalar mapping keys, unknown tags, invalid UTF-8 and oversized files are refused.
    """
    file = str(path)
    if text is None:
        text = read_text(path)
    elif len(text) > MAX_FILE_BYTES:
        raise _too_large(file, len(text.encode("utf-8", "replace")))
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        message = f"control character U+{ord(bad.group()):04X} is not allowed in YAML (column {column})"
        raise InputError([Problem(file, line, "", message)])
    lines: dict[PathKey, int] = {}
    try:
        events = _EventParser(text)
        try:
            node = _Composer(events).get_single_node()
        finally:
            events.dispose()
        data = _construct(node, (), lines) if node is not None else None
    except _Refused as exc:
        line = exc.mark.line + 1 if exc.mark else None
        raise InputError([Problem(file, line, ".".join(map(str, exc.path)), exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = ", ".join(str(part) for part in (exc.context, exc.problem) if part) or str(exc)
        raise InputError([Problem(file, line, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(file, None, "", f"invalid YAML: {exc}")]) from None
    return Located(file, data, lines)
