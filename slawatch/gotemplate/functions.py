"""The function map of alert templates: Prometheus' functions and Go's text/template builtins.

`humanize*`, `title`, `match`, `reReplaceAll`, `printf`, the comparisons `eq`/`lt`/...,
`index`, `len` and the escapers, each with the parameter kinds the evaluator checks before
calling it, plus the names slawatch deliberately lacks. Kept apart from
`slawatch.gotemplate.execute` so the evaluator reads apart from the functions; this module
never imports the evaluator. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from slawatch.gotemplate.regexp import match_string, replace_all_string
from slawatch.gotemplate.values import (
    NO_VALUE,
    CallError,
    SafeHTML,
    Spec,
    format_float,
    format_value,
    go_quote,
    sprint,
    sprintf,
    type_name,
)

__all__ = ["FUNCTIONS", "check_function", "truth"]

# Prometheus functions that need a query engine or HTML mode, and Go builtins we lack.
_UNSUPPORTED = frozenset({"query", "first", "label", "value", "strvalue", "args", "graphLink",
                          "tableLink", "sortByLabel", "tmpl", "call", "slice"})


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


# ---- Prometheus' functions ----

_D, _H = "[0-9](?:_?[0-9])*", "_?[0-9a-fA-F](?:_?[0-9a-fA-F])*"  # Go allows 1_000
_GO_FLOAT = re.compile(rf"[+-]?(?:(?:{_D}(?:\.(?:{_D})?)?|\.{_D})(?:[eE][+-]?{_D})?"
                       rf"|0[xX](?:{_H}(?:\.(?:{_H[2:]})?)?|\.{_H[2:]})[pP][+-]?{_D})")
_GO_SPECIAL = re.compile(r"[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]")


def _to_float(value: object) -> float:
    """Prometheus' convertToFloat: float64, ints and strings (strconv.ParseFloat)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not str:
        raise CallError(f"can't convert {type_name(value)} to float")
    if _GO_SPECIAL.fullmatch(value):
        return float(value)
    if _GO_FLOAT.fullmatch(value):
        plain = value.replace("_", "")
        number = float.fromhex(plain) if "x" in plain.lower() else float(plain)
        if not math.isinf(number):
            return number
        raise CallError(f"strconv.ParseFloat: parsing {go_quote(value)}: value out of range")
    raise CallError(f"strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax")


def _g4(value: float) -> str:
    return format_float(value, "g", Spec(prec=4))


def _scaled(value: float, step: float, big: tuple[str, ...], small: tuple[str, ...]) -> str:
    """Divide (or multiply) by `step` until the magnitude fits, then print 4 digits."""
    prefix = ""
    if abs(value) >= 1:
        for p in big:
            if abs(value) < step:
                break
            prefix, value = p, value / step
    else:
        for p in small:
            if abs(value) >= 1:
                break
            prefix, value = p, value * 1000
    return _g4(value) + prefix


_SI_BIG, _SI_SMALL = tuple("kMGTPEZY"), tuple("munpfazy")


def _humanize(v: float) -> str:
    return _g4(v) if v == 0 or not math.isfinite(v) else _scaled(v, 1000, _SI_BIG, _SI_SMALL)


def _humanize1024(v: float) -> str:
    if abs(v) <= 1 or not math.isfinite(v):
        return _g4(v)
    return _scaled(v, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"), ())


def _humanize_duration(v: float) -> str:
    if not math.isfinite(v):
        return _g4(v)
    if v == 0 or abs(v) < 1:
        return (_g4(v) if v == 0 else _scaled(v, 1000, (), _SI_SMALL)) + "s"
    sign, v = ("-" if v < 0 else ""), abs(v)
    total = int(v) if v < 2**63 else -(2**63)  # Go's int64(v) wraps to MinInt64 on amd64

    def div(a: int, b: int) -> int:  # Go's / and % truncate toward zero
        return -(-a // b) if a < 0 else a // b

    days, hours = div(total, 86400), div(total, 3600) - div(total, 86400) * 24
    minutes, seconds = div(total, 60) - div(total, 3600) * 60, total - div(total, 60) * 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{_g4(v)}s"


def _humanize_timestamp(v: float) -> str:
    """Unix seconds as Go's time.Time.String() in UTC, truncated to milliseconds."""
    if not math.isfinite(v):
        return _g4(v)
    nanos = v * 1e9
    if nanos > float(2**63 - 1) or nanos < float(-(2**63)):
        raise CallError(f"{format_value(v)} cannot be represented as a nanoseconds "
                         "timestamp since it overflows int64")
    ns = int(nanos)
    ms = abs(ns) // 1_000_000 * (1 if ns >= 0 else -1)
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    fraction = f".{moment.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction + " +0000 UTC"


def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    return not (c.isalpha() or c.isdecimal()) and c.isspace()


def _title(text: str) -> str:
    """Go's strings.Title: title-case each letter that follows a separator."""
    out, prev = [], " "
    for c in text:
        title = c.title()
        out.append(title if _is_separator(prev) and len(title) == 1 else c)
        prev = c
    return "".join(out)


def _to_upper(text: str) -> str:
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


def _to_lower(text: str) -> str:
    return "".join(c.lower()[0] for c in text)


def _strip_port(host_port: str) -> str:
    """Host part per Go's net.SplitHostPort; the input unchanged when that fails."""
    colon = host_port.rfind(":")
    if colon < 0:
        return host_port
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0 or close + 1 != colon:
            return host_port
        host, after_open, after_close = host_port[1:close], 1, close + 1
    else:
        host, after_open, after_close = host_port[:colon], 0, 0
        if ":" in host:
            return host_port
    if "[" in host_port[after_open:] or "]" in host_port[after_close:]:
        return host_port
    return host


_DURATION = re.compile("".join(rf"(?:([0-9]+){u})?" for u in ("y", "w", "d", "h", "m", "s", "ms")))
_DURATION_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def _parse_duration(text: str) -> float:
    """Prometheus' model.ParseDuration, in seconds."""
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text) if text else None
    if match is None:
        raise CallError("empty duration string" if not text
                         else f"not a valid duration string: {go_quote(text)}")
    return sum(int(g) * ms for g, ms in zip(match.groups(), _DURATION_MS) if g) / 1000


# ---- Go's builtins ----


def truth(value: object) -> bool:
    """Go's template truth: empty string, zero, nil and empty maps are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value) > 0
    if isinstance(value, (bool, int, float)):
        return value != 0
    return True


def _kind(value: object) -> str | None:
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


def _length(item: object) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (Mapping, list, tuple)):
        return len(item)
    if item is None or item is NO_VALUE:
        raise CallError("reflect: call of reflect.Value.Type on zero Value")
    raise CallError(f"len of type {type_name(item)}")


def _index(item: object, *keys: object) -> object:
    for key in keys:
        if isinstance(item, Mapping):
            if not isinstance(key, str):
                raise CallError(f"value has type {type_name(key)}; should be string")
            item = item.get(key, "")
        elif isinstance(item, str) and isinstance(key, int) and not isinstance(key, bool):
            data = item.encode()
            if not 0 <= key < len(data):
                raise CallError(f"index out of range: {key}")
            item = data[key]
        else:
            raise CallError(f"can't index item of type {type_name(item)}")
    return item


# name -> (implementation, parameter kinds). Kinds: "string" (Go string), "any"
# (interface{}), "value" (reflect.Value: nil literal rejected); a trailing "*" is variadic.
_S = ("string",)
FUNCTIONS: dict[str, tuple[Callable[..., object], tuple[str, ...]]] = {
    "and": (lambda *a: a, ("value", "value*")),  # short-circuits: see _Exec.and_or
    "or": (lambda *a: a, ("value", "value*")),
    "not": (lambda v: not truth(v), ("value",)),
    "len": (_length, ("value",)),
    "index": (_index, ("value", "value*")),
    "eq": (_eq, ("value", "value*")),
    "ne": (lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": (_lt, ("value", "value")),
    "le": (lambda a, b: _lt(a, b) or _eq(a, b), ("value", "value")),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), ("value", "value")),
    "ge": (lambda a, b: not _lt(a, b), ("value", "value")),
    "print": (lambda *a: sprint(a), ("any*",)),
    "println": (lambda *a: " ".join(format_value(x) for x in a) + "\n", ("any*",)),
    "printf": (lambda f, *a: sprintf(f, a), ("string", "any*")),
    "html": (lambda *a: _eval_args(a).translate(_HTML), ("any*",)),
    "js": (lambda *a: _js_escape(_eval_args(a)), ("any*",)),
    "urlquery": (lambda *a: quote_plus(_eval_args(a), safe=""), ("any*",)),
    "humanize": (lambda v: _humanize(_to_float(v)), ("any",)),
    "humanize1024": (lambda v: _humanize1024(_to_float(v)), ("any",)),
    "humanizeDuration": (lambda v: _humanize_duration(_to_float(v)), ("any",)),
    "humanizePercentage": (lambda v: _g4(_to_float(v) * 100) + "%", ("any",)),
    "humanizeTimestamp": (lambda v: _humanize_timestamp(_to_float(v)), ("any",)),
    "title": (_title, _S),
    "toUpper": (_to_upper, _S),
    "toLower": (_to_lower, _S),
    "safeHtml": (SafeHTML, _S),
    "stripPort": (_strip_port, _S),
    "parseDuration": (_parse_duration, _S),
    "match": (match_string, ("string", "string")),
    "reReplaceAll": (replace_all_string, ("string", "string", "string")),
    "externalURL": (lambda: None, ()),  # both read the render's external URL: see _Exec.call
    "pathPrefix": (lambda: None, ()),
}


def check_function(name: str) -> str | None:
    if name in FUNCTIONS:
        return None
    if name in _UNSUPPORTED:
        return f'function "{name}" is not supported by slawatch'
    return f'function "{name}" not defined'
