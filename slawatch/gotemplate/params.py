"""Go's parameter types: how text/template converts and checks an argument before a call.

A template function or method declares Go parameter types, and text/template converts
each argument to them before calling (evalArg and validateType): a literal must suit the
type's kind (`expected integer; found 1.5`), nil only goes where Go allows nil, a pointer
is dereferenced when its target fits, and anything else is `wrong type for value;
expected T; got U`. Those texts are what users see in a failed annotation, so they are
Go's. `Function` pairs an implementation with its parameter types. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slawatch.gotemplate.gotime import Duration, Time
from slawatch.gotemplate.values import NIL_INTERFACE, NO_VALUE, Pointer, QueryResult, Sample, type_name

__all__ = ["PARAMS", "ArgumentError", "Function", "Param"]


class ArgumentError(Exception):
    """An argument Go would refuse before the call; the message is text/template's."""


_NOT_NILABLE = object()


def _is_integer(value: object) -> bool:
    """Go's NumberNode.IsInt: an integer constant, or a float constant with an int64 value."""
    if isinstance(value, float):
        return value.is_integer() and -(2.0**63) <= value < 2.0**63
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Param:
    """One Go parameter type: its name in errors, its kind, and which values it accepts."""

    name: str
    kind: str  # "string", "int", "interface", "value" (reflect.Value), "struct", "slice", "pointer"
    accepts: Callable[[object], bool]
    nil: Callable[[], object] | object = _NOT_NILABLE  # what nil becomes; absent if Go refuses nil

    def literal(self, value: object, source: str) -> object:
        """A constant from the template text, converted as Go's evalArg converts it."""
        if self.kind in ("interface", "value"):
            return value
        if self.kind == "string" and isinstance(value, str):
            return value
        if self.kind == "int" and _is_integer(value):
            number = int(value)  # type: ignore[call-overload]
            return Duration(number) if self.name == "time.Duration" else number
        if self.kind == "string":
            raise ArgumentError(f"expected string; found {source}")
        if self.kind == "int":
            raise ArgumentError(f"expected integer; found {source}")
        raise ArgumentError(f"can't handle {source} for arg of type {self.name}")

    def zero(self) -> object:
        """What the nil literal becomes, or Go's refusal."""
        if self.nil is _NOT_NILABLE:
            raise ArgumentError(f"cannot assign nil to {self.name}")
        return self.nil() if callable(self.nil) else self.nil

    def validate(self, value: object) -> object:
        """A computed value checked as Go's validateType checks it; returns what is passed."""
        if value is NO_VALUE:
            if self.nil is _NOT_NILABLE:
                raise ArgumentError(f"invalid value; expected {self.name}")
            return self.zero()
        if value is NIL_INTERFACE:
            if self.kind in ("interface", "value"):
                return None if self.kind == "interface" else NO_VALUE
            raise ArgumentError(f"wrong type for value; expected {self.name}; got interface {{}}")
        if self.accepts(value):
            return value
        if isinstance(value, Pointer) and self.accepts(value.target):
            return value.target
        raise ArgumentError(f"wrong type for value; expected {self.name}; got {type_name(value)}")


def _exactly(kind: type) -> Callable[[object], bool]:
    return lambda value: type(value) is kind


PARAMS: dict[str, Param] = {p.name: p for p in (
    Param("string", "string", _exactly(str)),
    Param("int", "int", _exactly(int)),
    Param("interface {}", "interface", lambda value: True, None),
    Param("reflect.Value", "value", lambda value: True, NO_VALUE),
    Param("time.Duration", "int", _exactly(Duration)),
    Param("time.Time", "struct", _exactly(Time)),
    Param("template.queryResult", "slice", lambda value: isinstance(value, QueryResult), QueryResult),
    Param("*template.sample", "pointer",
          lambda value: value is None or (isinstance(value, Pointer) and isinstance(value.target, Sample)),
          None),
)}


@dataclass(frozen=True, slots=True)
class Function:
    """A template function: implementation and Go parameter types (the last repeats if
    `variadic`). With `reads_inputs` the implementation's first argument is the render's
    inputs (external URL, query function, evaluation time) rather than a template argument."""

    impl: Callable[..., object]
    params: tuple[str, ...]
    variadic: bool = False
    reads_inputs: bool = False
