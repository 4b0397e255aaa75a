"""Go text/template's builtin functions, as Go 1.19 (Prometheus 2.42's Go) defines them.

`and`, `or`, `not`, `len`, `index`, `slice`, `call`, the comparisons, `print*`, `html`,
`js` and `urlquery`, with Go's truth, comparison and indexing rules and error texts
(`incompatible types for comparison`, `index out of range: 5`). Their parameters are
reflect.Value (no conversion) or interface{}, as in Go. `and` and `or` short-circuit in the
evaluator; their entries here only declare arity. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from slawatch.gotemplate.params import Function
from slawatch.gotemplate.printing import format_value, sprint, sprintf
from slawatch.gotemplate.values import NIL_INTERFACE, NO_VALUE, ArgsMap, CallError, Pointer, type_name

__all__ = ["BUILTINS", "truth"]


def truth(value: object) -> bool:
    """Go's template truth: empty string, zero, nil and empty collections are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value) > 0
    if isinstance(value, (bool, int, float)):
        return value != 0
    return True


def _kind(value: object) -> str | None:
    """Go's basicKind: named types (time.Duration, template.HTML) count as their kind."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return name
    return None


def _eq(first: object, *others: object) -> bool:
    if not others:
        raise CallError("missing argument for comparison")
    for other in others:
        if _kind(first) != _kind(other):
            if first not in (None, NO_VALUE) and other not in (None, NO_VALUE):
                raise CallError("incompatible types for comparison")
        elif isinstance(first, Mapping):
            raise CallError(f"non-comparable type {format_value(first)}: {type_name(first)}")
        elif first == other:
            return True
    return False


def _lt(first: Any, second: Any) -> bool:
    k1, k2 = _kind(first), _kind(second)
    if k1 is None or k2 is None or k1 == k2 == "bool":
        raise CallError("invalid type for comparison")
    if k1 != k2:
        raise CallError("incompatible types for comparison")
    return bool(first < second)


def _deref(item: object, nil_message: str) -> object:
    if item is None:
        raise CallError(nil_message)
    return item.target if isinstance(item, Pointer) else item


def _length(item: object) -> int:
    if item is NO_VALUE:
        raise CallError("reflect: call of reflect.Value.Type on zero Value")
    item = _deref(item, "len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (Mapping, list, tuple)):
        return len(item)
    raise CallError(f"len of type {type_name(item)}")


def _position(index: object, size: int) -> int:
    """Go's indexArg: an int in [0, size]."""
    if index is NO_VALUE or index is None:
        raise CallError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise CallError(f"cannot index slice/array with type {type_name(index)}")
    if not 0 <= index <= size:
        raise CallError(f"index out of range: {index}")
    return index


def _index(item: object, *keys: object) -> object:
    if item is NO_VALUE or item is None:
        raise CallError("index of untyped nil")
    for key in keys:
        item = _deref(item, "index of nil pointer")
        if isinstance(item, (str, list)):
            data = item.encode() if isinstance(item, str) else item
            if _position(key, len(data)) == len(data):  # Go's reflect panics, recovered as an error
                raise CallError(f"reflect: {'string' if isinstance(item, str) else 'slice'} index out of range")
            item = data[key]  # type: ignore[index]
        elif isinstance(item, Mapping):
            if key is NO_VALUE:
                raise CallError("value is nil; should be of type string")
            if type(key) is not str:
                raise CallError(f"value has type {type_name(key)}; should be string")
            missing = NIL_INTERFACE if isinstance(item, ArgsMap) else ""
            item = item.get(key, missing)
            item = NIL_INTERFACE if item is None and missing is NIL_INTERFACE else item
        else:
            raise CallError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: object, *indexes: object) -> object:
    """Go's slice builtin: item[i:j] (strings by bytes, like Go), item[i:j:k] for slices."""
    if item is NO_VALUE or item is None:
        raise CallError("slice of untyped nil")
    if len(indexes) > 3:
        raise CallError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise CallError("cannot 3-index slice a string")
        data: bytes | list[object] = item.encode()
    elif isinstance(item, list):
        data = item
    else:
        raise CallError(f"can't slice item of type {type_name(item)}")
    bounds = [0, len(data)]
    for i, index in enumerate(indexes):
        if i < 2:
            bounds[i] = _position(index, len(data))
        else:
            _position(index, len(data))
    if bounds[0] > bounds[1]:
        raise CallError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3 and bounds[1] > _position(indexes[2], len(data)):
        raise CallError(f"invalid slice index: {bounds[1]} > {indexes[2]}")
    part = data[bounds[0] : bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else type(item)(part)


def _call(fn: object, *args: object) -> object:
    """Go's call builtin; an alert template holds no function values, so it always fails."""
    if fn is NO_VALUE or fn is None:
        raise CallError("call of nil")
    raise CallError(f"non-function of type {type_name(fn)}")


def _eval_args(args: tuple[object, ...]) -> str:
    """text/template's evalArgs, used by html, js and urlquery."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return sprint(tuple("<no value>" if a is None or a is NO_VALUE else a for a in args))


_HTML = str.maketrans({'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;",
                       "\0": "\ufffd"})
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D"}


def _js_escape(text: str) -> str:
    return "".join(_JS.get(c) or (c if c >= " " and (c < "\x80" or c.isprintable())
                                  else f"\\u{ord(c):04X}") for c in text)


_V, _ANY = "reflect.Value", "interface {}"
BUILTINS: dict[str, Function] = {
    "and": Function(lambda *a: a, (_V, _V), variadic=True),  # short-circuits: see the evaluator
    "or": Function(lambda *a: a, (_V, _V), variadic=True),
    "not": Function(lambda v: not truth(v), (_V,)),
    "len": Function(_length, (_V,)),
    "index": Function(_index, (_V, _V), variadic=True),
    "slice": Function(_slice, (_V, _V), variadic=True),
    "call": Function(_call, (_V, _V), variadic=True),
    "eq": Function(_eq, (_V, _V), variadic=True),
    "ne": Function(lambda a, b: not _eq(a, b), (_V, _V)),
    "lt": Function(_lt, (_V, _V)),
    "le": Function(lambda a, b: _lt(a, b) or _eq(a, b), (_V, _V)),
    "gt": Function(lambda a, b: not (_lt(a, b) or _eq(a, b)), (_V, _V)),
    "ge": Function(lambda a, b: not _lt(a, b), (_V, _V)),
    "print": Function(lambda *a: sprint(a), (_ANY,), variadic=True),
    "println": Function(lambda *a: " ".join(format_value(x) for x in a) + "\n", (_ANY,), variadic=True),
    "printf": Function(lambda f, *a: sprintf(f, a), ("string", _ANY), variadic=True),
    "html": Function(lambda *a: _eval_args(a).translate(_HTML), (_ANY,), variadic=True),
    "js": Function(lambda *a: _js_escape(_eval_args(a)), (_ANY,), variadic=True),
    "urlquery": Function(lambda *a: quote_plus(_eval_args(a), safe=""), (_ANY,), variadic=True),
}
