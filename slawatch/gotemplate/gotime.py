"""Go's time.Time and time.Duration as alert templates see them.

`toTime` returns a *time.Time, `toDuration` a *time.Duration, and templates call their
methods: `{{ (toTime $value).Format "2006-01-02" }}`, `{{ (now | toTime).Add ... }}`.
Prometheus' times are always UTC (toTime converts with .UTC()), so this module knows one
zone. Printing follows Go: Time.String(), Duration.String() ("1h2m0.5s"), Format's
reference-time layouts. Methods are listed with the parameter types the evaluator checks
their arguments against. Years outside 1..9999 are beyond Python's calendar and fail.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from slawatch.gotemplate.printing import format_value
from slawatch.gotemplate.values import CallError

__all__ = ["METHODS", "Duration", "Int64", "Month", "Time", "Weekday", "duration_from_seconds",
           "format_time", "time_from_seconds"]

_SECOND = 10**9
_MIN_INT64, _MAX_INT64 = -(2**63), 2**63 - 1
_EPOCH = datetime(1970, 1, 1)
_ZERO_TIME_UNIX = -62135596800  # Go's zero Time, 0001-01-01 00:00:00 UTC, in Unix seconds
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _wrap64(value: int) -> int:
    """Go's int64 arithmetic wraps around."""
    return (value - _MIN_INT64) % 2**64 + _MIN_INT64


def _quotient(a: int, b: int) -> int:
    """Go's integer division truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class Int64(int):
    """An int64 method result (Unix, UnixMilli, ...): prints like int, `%T` says int64."""

    GO_TYPE = "int64"


class Month(int):
    """time.Month: prints its English name, compares as an int."""

    GO_TYPE = "time.Month"

    def go_string(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class Weekday(int):
    """time.Weekday, Sunday = 0."""

    GO_TYPE = "time.Weekday"

    def go_string(self) -> str:
        return _DAYS[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


def _fraction(value: int, digits: int) -> tuple[str, int]:
    """Go's fmtFrac: `.ddd` of value / 10**digits without trailing zeros, and the quotient."""
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return ("." + text if text else ""), whole


class Duration(int):
    """time.Duration: int64 nanoseconds that print as Go's Duration.String()."""

    GO_TYPE = "time.Duration"

    def go_string(self) -> str:
        u, sign = abs(int(self)), "-" if self < 0 else ""
        if u == 0:
            return "0s"
        if u < _SECOND:
            digits, unit = (0, "ns") if u < 1000 else (3, "µs") if u < 1_000_000 else (6, "ms")
            frac, whole = _fraction(u, digits)
            return f"{sign}{whole}{frac}{unit}"
        frac, seconds = _fraction(u, 9)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{seconds}{frac}s"
        if minutes or hours:
            text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
        return sign + text

    def in_units(self, unit: int) -> float:
        """Go's Hours, Minutes, Seconds: whole units plus the fraction, as a float64."""
        whole, rest = _quotient(self, unit), int(self) - _quotient(self, unit) * unit
        return whole + rest / unit

    def seconds(self) -> float:
        return self.in_units(_SECOND)

    def rounded(self, m: int, up_from_half: bool) -> Duration:
        """Go's Duration.Round (up_from_half) and Duration.Truncate, saturating on overflow."""
        if m <= 0:
            return self
        r = int(self) - _quotient(self, m) * m
        if not up_from_half:
            return Duration(int(self) - r)
        if self < 0:
            r = -r
            return Duration(self + r if r + r < m else max(self - m + r, _MIN_INT64))
        return Duration(self - r if r + r < m else min(self + m - r, _MAX_INT64))


@dataclass(frozen=True, slots=True)
class Time:
    """time.Time in UTC, kept as nanoseconds since the Unix epoch."""

    GO_TYPE: ClassVar[str] = "time.Time"
    unix_nanos: int

    def civil(self) -> tuple[datetime, int]:
        """The calendar time to the second, and the nanoseconds within that second."""
        seconds, nanos = divmod(self.unix_nanos, _SECOND)
        try:
            return _EPOCH + timedelta(seconds=seconds), nanos
        except OverflowError:
            raise CallError("time outside the years 1 to 9999 is not supported by slawatch") from None

    def go_string(self) -> str:
        return format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")

    def go_syntax(self) -> str:
        """Go's Time.GoString, what %#v prints."""
        moment, nanos = self.civil()
        return (f"time.Date({moment.year}, time.{_MONTHS[moment.month - 1]}, {moment.day}, "
                f"{moment.hour}, {moment.minute}, {moment.second}, {nanos}, time.UTC)")

    def add(self, d: int) -> Time:
        return Time(self.unix_nanos + d)

    def sub(self, other: Time) -> Duration:
        return Duration(min(max(self.unix_nanos - other.unix_nanos, _MIN_INT64), _MAX_INT64))

    def add_date(self, years: int, months: int, days: int) -> Time:
        """Go's AddDate: normalises like time.Date, so October 32 is November 1."""
        moment, nanos = self.civil()
        year, month0 = divmod(moment.year * 12 + moment.month - 1 + years * 12 + months, 12)
        if not 1 <= year <= 9999:
            raise CallError("time outside the years 1 to 9999 is not supported by slawatch")
        first = datetime(year, month0 + 1, 1, moment.hour, moment.minute, moment.second)
        return _from_datetime(first + timedelta(days=moment.day - 1 + days), nanos)

    def rounded(self, d: int, up_from_half: bool) -> Time:
        """Go's Time.Round and Time.Truncate: multiples of d since the zero Time."""
        if d <= 0:
            return self
        r = (self.unix_nanos - _ZERO_TIME_UNIX * _SECOND) % d
        return Time(self.unix_nanos - r + (d if up_from_half and r + r >= d else 0))


def _from_datetime(moment: datetime, nanos: int) -> Time:
    delta = moment - _EPOCH
    return Time((delta.days * 86400 + delta.seconds) * _SECOND + nanos)


def time_from_seconds(v: float) -> Time:
    """Prometheus' floatToTime: Unix seconds to a UTC time, truncated to milliseconds."""
    if math.isnan(v) or math.isinf(v):
        raise CallError("value is NaN or Inf")
    nanos = v * 1e9
    if nanos > float(_MAX_INT64) or nanos < float(_MIN_INT64):
        raise CallError(f"{format_value(v)} cannot be represented as a nanoseconds timestamp since it "
                        "overflows int64")
    whole = int(nanos) if nanos < float(2**63) else _MIN_INT64  # Go's int64() on amd64
    return Time(_quotient(whole, 1_000_000) * 1_000_000)


def duration_from_seconds(v: float) -> Duration:
    """Go's time.Duration(v * float64(time.Second)); NaN and overflow give MinInt64 on amd64."""
    nanos = v * 1e9
    if math.isnan(nanos) or not float(_MIN_INT64) <= nanos < float(2**63):
        return Duration(_MIN_INT64)
    return Duration(int(nanos))


# ---- Format: Go's reference-time layouts ----

_ZONES = (("-070000", "+000000"), ("-07:00:00", "+00:00:00"), ("-0700", "+0000"),
          ("-07:00", "+00:00"), ("-07", "+00"), ("Z070000", "Z"), ("Z07:00:00", "Z"),
          ("Z0700", "Z"), ("Z07:00", "Z"), ("Z07", "Z"))


def _lower_at(layout: str, j: int) -> bool:
    return j < len(layout) and "a" <= layout[j] <= "z"


def _chunk(layout: str, i: int, moment: datetime, nanos: int) -> tuple[str, int] | None:
    """The layout element at `i`, formatted, and its length; None if `i` starts no element."""
    rest, c = layout[i:], layout[i]
    hour12 = moment.hour % 12 or 12
    if rest.startswith("January"):
        return _MONTHS[moment.month - 1], 7
    if rest.startswith("Jan") and not _lower_at(layout, i + 3):
        return _MONTHS[moment.month - 1][:3], 3
    weekday = _DAYS[(moment.weekday() + 1) % 7]
    if rest.startswith("Monday"):
        return weekday, 6
    if rest.startswith("Mon") and not _lower_at(layout, i + 3):
        return weekday[:3], 3
    if rest.startswith("MST"):
        return "UTC", 3
    if c == "0" and rest[1:2] in tuple("123456"):
        values = (moment.month, moment.day, hour12, moment.minute, moment.second, moment.year % 100)
        return f"{values[int(rest[1]) - 1]:02d}", 2
    if rest.startswith("002"):
        return f"{moment.timetuple().tm_yday:03d}", 3
    if rest.startswith("15"):
        return f"{moment.hour:02d}", 2
    if c == "1":
        return str(moment.month), 1
    if rest.startswith("2006"):
        return f"{moment.year:04d}", 4
    if c == "2":
        return str(moment.day), 1
    if rest.startswith("_2") and not rest.startswith("_2006"):
        return f"{moment.day:>2}", 2
    if rest.startswith("__2"):
        return f"{moment.timetuple().tm_yday:>3}", 3
    if c in "345":
        return str((hour12, moment.minute, moment.second)[int(c) - 3]), 1
    if rest.startswith(("PM", "pm")):
        return ("PM" if moment.hour >= 12 else "AM") if c == "P" else ("pm" if moment.hour >= 12 else "am"), 2
    for token, text in _ZONES:
        if rest.startswith(token):
            return text, len(token)
    if c in ".," and rest[1:2] in ("0", "9"):
        end = 1
        while rest[end : end + 1] == rest[1]:
            end += 1
        if rest[end : end + 1] not in tuple("0123456789"):
            digits = f"{nanos:09d}"[: end - 1]
            if rest[1] == "9":
                digits = digits.rstrip("0")
            return (c + digits if digits else ""), end
    return None


def format_time(t: Time, layout: str) -> str:
    """Go's Time.Format for a UTC time."""
    moment, nanos = t.civil()
    out, i, literal = [], 0, 0
    while i < len(layout):
        chunk = _chunk(layout, i, moment, nanos)
        if chunk is None:
            i += 1
            continue
        out.append(layout[literal:i] + chunk[0])
        i += chunk[1]
        literal = i
    out.append(layout[literal:])
    return "".join(out)


# ---- methods: name -> (implementation, parameter types) ----

Method = tuple[Callable[..., object], tuple[str, ...]]


def _civil_field(pick: Callable[[datetime, int], int], kind: type[int] = int) -> Method:
    return (lambda t: kind(pick(*t.civil())), ())


_TIME_METHODS: dict[str, Method] = {
    "String": (Time.go_string, ()),
    "Format": (format_time, ("string",)),
    "UTC": (lambda t: t, ()),
    "Unix": (lambda t: Int64(t.unix_nanos // _SECOND), ()),
    "UnixMilli": (lambda t: Int64(t.unix_nanos // 1_000_000), ()),
    "UnixMicro": (lambda t: Int64(t.unix_nanos // 1000), ()),
    "UnixNano": (lambda t: Int64(_wrap64(t.unix_nanos)), ()),
    "Year": _civil_field(lambda m, n: m.year),
    "Month": _civil_field(lambda m, n: m.month, Month),
    "Day": _civil_field(lambda m, n: m.day),
    "Hour": _civil_field(lambda m, n: m.hour),
    "Minute": _civil_field(lambda m, n: m.minute),
    "Second": _civil_field(lambda m, n: m.second),
    "Nanosecond": _civil_field(lambda m, n: n),
    "YearDay": _civil_field(lambda m, n: m.timetuple().tm_yday),
    "Weekday": _civil_field(lambda m, n: (m.weekday() + 1) % 7, Weekday),
    "IsZero": (lambda t: t.unix_nanos == _ZERO_TIME_UNIX * _SECOND, ()),
    "Add": (Time.add, ("time.Duration",)),
    "Sub": (Time.sub, ("time.Time",)),
    "AddDate": (Time.add_date, ("int", "int", "int")),
    "Before": (lambda t, u: t.unix_nanos < u.unix_nanos, ("time.Time",)),
    "After": (lambda t, u: t.unix_nanos > u.unix_nanos, ("time.Time",)),
    "Equal": (lambda t, u: t.unix_nanos == u.unix_nanos, ("time.Time",)),
    "Truncate": (lambda t, d: t.rounded(d, False), ("time.Duration",)),
    "Round": (lambda t, d: t.rounded(d, True), ("time.Duration",)),
}

_DURATION_METHODS: dict[str, Method] = {
    "String": (Duration.go_string, ()),
    "Hours": (lambda d: d.in_units(3600 * _SECOND), ()),
    "Minutes": (lambda d: d.in_units(60 * _SECOND), ()),
    "Seconds": (Duration.seconds, ()),
    "Milliseconds": (lambda d: Int64(_quotient(d, 1_000_000)), ()),
    "Microseconds": (lambda d: Int64(_quotient(d, 1000)), ()),
    "Nanoseconds": (lambda d: Int64(d), ()),
    "Abs": (lambda d: Duration(_MAX_INT64 if d == _MIN_INT64 else abs(int(d))), ()),
    "Round": (lambda d, m: d.rounded(m, True), ("time.Duration",)),
    "Truncate": (lambda d, m: d.rounded(m, False), ("time.Duration",)),
}

METHODS: dict[type, dict[str, Method]] = {
    Time: _TIME_METHODS,
    Duration: _DURATION_METHODS,
    Month: {"String": (Month.go_string, ())},
    Weekday: {"String": (Weekday.go_string, ())},
}
