"""Prometheus' humanize functions: numbers, byte sizes, durations, ratios and timestamps.

Each takes a number or a numeric string (Prometheus' convertToFloat, with Go's
strconv.ParseFloat syntax such as `1_000` and `0x1p3`) and prints four significant digits
the way Go's `%.4g` does, so a summary reads the same in Slack as in Prometheus' UI.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re

from slawatch.gotemplate.gotime import Duration, Int64, time_from_seconds
from slawatch.gotemplate.printing import Spec, format_float, go_quote
from slawatch.gotemplate.values import CallError, type_name

__all__ = ["g4", "humanize", "humanize1024", "humanize_duration", "humanize_timestamp", "to_float"]

_D, _H = "[0-9](?:_?[0-9])*", "_?[0-9a-fA-F](?:_?[0-9a-fA-F])*"  # Go allows 1_000
_GO_FLOAT = re.compile(rf"[+-]?(?:(?:{_D}(?:\.(?:{_D})?)?|\.{_D})(?:[eE][+-]?{_D})?"
                       rf"|0[xX](?:{_H}(?:\.(?:{_H[2:]})?)?|\.{_H[2:]})[pP][+-]?{_D})")
_GO_SPECIAL = re.compile(r"[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]")


def to_float(value: object) -> float:
    """Prometheus' convertToFloat: float64, ints, strings (strconv.ParseFloat) and, as in
    current Prometheus, a time.Duration as its seconds; a *time.Duration or time.Month not.
    """
    if type(value) is float:
        return value  # type: ignore[return-value]
    if type(value) in (int, Int64):
        return float(value)  # type: ignore[arg-type]
    if type(value) is Duration:
        return value.seconds()  # type: ignore[attr-defined]
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


def g4(value: float) -> str:
    """Go's %.4g, the precision every humanize function prints with."""
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
    return g4(value) + prefix


_SI_BIG, _SI_SMALL = tuple("kMGTPEZY"), tuple("munpfazy")


def humanize(v: float) -> str:
    return g4(v) if v == 0 or not math.isfinite(v) else _scaled(v, 1000, _SI_BIG, _SI_SMALL)


def humanize1024(v: float) -> str:
    if abs(v) <= 1 or not math.isfinite(v):
        return g4(v)
    return _scaled(v, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"), ())


def humanize_duration(v: float) -> str:
    if not math.isfinite(v):
        return g4(v)
    if v == 0 or abs(v) < 1:
        return (g4(v) if v == 0 else _scaled(v, 1000, (), _SI_SMALL)) + "s"
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
    return f"{sign}{g4(v)}s"


def humanize_timestamp(v: float) -> str:
    """Unix seconds as Go's time.Time.String() in UTC, truncated to milliseconds."""
    if not math.isfinite(v):
        return g4(v)
    return time_from_seconds(v).go_string()
