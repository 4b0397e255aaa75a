"""The Go values an alert template sees, and the names of their Go types.

Prometheus' templates run in Go, where a value's type decides how it prints, which
functions accept it and how an error names it (`wrong type for value; expected string;
got float64`). Python values stand in for Go's: str, bool, int, float and a Mapping for
map[string]string, and the classes here for the rest. A class with a `GO_TYPE` names its
Go type; one with a `go_string()` method is a fmt.Stringer (see `gotime`). This module
imports nothing else from the package, so every other module can use it. Pure: no I/O,
no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "NIL_INTERFACE", "NO_VALUE", "AlertData", "ArgsMap", "CallError", "GoStruct", "Pointer",
    "QueryResult", "SafeHTML", "Sample", "type_name",
]


class GoStruct:
    """A dataclass standing for a Go struct: its fields are the struct's exported fields."""

    __slots__ = ()
    GO_TYPE: ClassVar[str]


@dataclass(frozen=True, slots=True)
class AlertData(GoStruct):
    """The `.` of an alert template: Prometheus' AlertTemplateData struct."""

    GO_TYPE: ClassVar[str] = ("struct { Labels map[string]string; ExternalLabels map[string]string; "
                              "ExternalURL string; Value float64 }")
    Labels: Mapping[str, str]
    ExternalLabels: Mapping[str, str]
    ExternalURL: str
    Value: float


@dataclass(frozen=True, slots=True)
class Sample(GoStruct):
    """One series of a query result: Prometheus' template `sample` (labels include __name__)."""

    GO_TYPE: ClassVar[str] = "template.sample"
    Labels: Mapping[str, str]
    Value: float


class QueryResult(list):  # type: ignore[type-arg]
    """What `query` returns: template.queryResult, a slice of *sample (Pointer to Sample).

    A list, not a tuple: `sortByLabel` sorts it in place, as Go sorts the slice.
    """

    GO_TYPE = "template.queryResult"


class ArgsMap(dict):  # type: ignore[type-arg]
    """What `args` returns: map[string]interface{}, whose missing keys are nil interfaces."""

    GO_TYPE = "map[string]interface {}"


@dataclass(frozen=True, slots=True)
class Pointer:
    """A non-nil Go pointer such as *time.Time or *template.sample (Go's nil pointer is None).

    Fields and methods reach through it and a top-level action prints its target, as in
    text/template; printf prints `&{...}` for a pointer to a struct.
    """

    target: object


class SafeHTML(str):
    """html/template.HTML, returned by safeHtml: prints as-is but is its own Go type."""

    GO_TYPE = "template.HTML"


class _NoValue:
    """Go's invalid reflect.Value, printed as `<no value>`."""


class _NilInterface:
    """A nil interface{} value, as a missing key of map[string]interface{} gives.

    Passed on as an argument it is of type interface {}; a pipeline turns it into
    NO_VALUE, as text/template digs into interface values after each command.
    """


NO_VALUE = _NoValue()
NIL_INTERFACE = _NilInterface()


class CallError(Exception):
    """A template function's error return; reported as `error calling NAME: ...`."""


_BASIC = ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"),
          (Mapping, "map[string]string"))


def type_name(value: object) -> str:
    """The Go type of a template value, as fmt's %T and text/template's errors print it."""
    if value is None:
        return "<nil>"
    if value is NIL_INTERFACE:
        return "interface {}"
    if isinstance(value, Pointer):
        return "*" + type_name(value.target)
    go_type = getattr(type(value), "GO_TYPE", None)
    if go_type is not None:
        return str(go_type)
    return next((name for kind, name in _BASIC if isinstance(value, kind)), type(value).__name__)
