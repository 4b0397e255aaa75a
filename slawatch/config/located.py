"""YAML loading that remembers where every value came from.

Config and rule files are validated with pydantic, whose errors name a field path
(`groups.0.rules.2.for`). Users need `file:line`, so the loader records the line of
every mapping key and sequence item, and `Problem` joins the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

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


_SCALARS = yaml.SafeLoader("")  # used only to construct individual nodes


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node, deep=True)
            if key in out:
                field = ".".join(map(str, path + (key,)))
                line = key_node.start_mark.line + 1
                raise InputError([Problem(file, line, field, f"duplicate key {key!r}")])
            child = path + (key,)
            out[key] = _construct(value_node, child, lines, file)
            lines[child] = key_node.start_mark.line + 1  # a field's line is its key's
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), lines, file) for i, item in enumerate(node.value)]
    try:
        return _SCALARS.construct_object(node, deep=True)
    except ValueError as exc:  # a scalar YAML resolves but cannot build: a date 2026-13-28
        raise InputError([Problem(file, node.start_mark.line + 1, ".".join(map(str, path)), f"invalid value: {exc}")]) from None


def load_located(path: Path | str, text: str | None = None) -> Located:
    """Read and parse one YAML file; YAML syntax errors become an InputError with the line."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError([Problem(file, None, "", f"cannot read file: {exc.strerror}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(file, line, "", f"invalid YAML: {exc.problem or exc}")]) from None
    lines: dict[PathKey, int] = {}
    data = _construct(node, (), lines, file) if node is not None else None
    return Located(file, data, lines)
