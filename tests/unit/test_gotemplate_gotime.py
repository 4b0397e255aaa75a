"""Go's time.Time and time.Duration behave in templates as in Prometheus (Go 1.19).

Template expectations were read back from Prometheus 2.42; Duration.String and Format rows
without a template follow Go's documented output.
"""

from __future__ import annotations

import pytest

from slawatch.gotemplate import TemplateError, parse
from slawatch.gotemplate.gotime import Duration, Time, format_time, time_from_seconds

T = "{{ $t := toTime 1435065584.128 }}"  # Tuesday 2015-06-23 13:19:44.128 UTC, day 174


def render(text: str) -> str:
    return parse(text).render({}, 1.0)


DURATIONS = [
    (0, "0s", "zero"),
    (1, "1ns", "nanoseconds"),
    (1500, "1.5µs", "microseconds with a fraction"),
    (1_500_000, "1.5ms", "milliseconds with a fraction"),
    (1_000_000_000, "1s", "a whole second"),
    (90_500_000_000, "1m30.5s", "minutes and fractional seconds"),
    (3_600_000_000_000, "1h0m0s", "an hour keeps its zero minutes and seconds"),
    (-1_500_000, "-1.5ms", "negative"),
    (-(2**63), "-2562047h47m16.854775808s", "the smallest duration"),
    (2**63 - 1, "2562047h47m16.854775807s", "the largest duration"),
]


@pytest.mark.parametrize("nanos, expected", [pytest.param(*d[:2], id=d[2]) for d in DURATIONS])
def test_duration_prints_like_go(nanos: int, expected: str) -> None:
    assert Duration(nanos).go_string() == expected


LAYOUTS = [
    ("2006-01-02 15:04:05.999999999 -0700 MST", "2015-06-23 13:19:44.128 +0000 UTC", "Time.String's layout"),
    ("Monday, 02-Jan-06 15:04:05.000 MST", "Tuesday, 23-Jun-15 13:19:44.128 UTC", "names and zero padding"),
    ("Jan _2 3:04PM", "Jun 23 1:19PM", "12-hour clock and space padding"),
    ("2006-01-02T15:04:05Z07:00", "2015-06-23T13:19:44Z", "RFC 3339: UTC is Z"),
    ("20060102 150405.999 -07:00 -0700 -07 Z0700", "20150623 131944.128 +00:00 +0000 +00 Z", "numeric zones"),
    ("Janet Monet .000x ,99 pm 002 __2 _2006", "Janet Monet .128x ,12 pm 174 174 _2015",
     "a name before a lowercase letter is text; fractions, day of year, a literal underscore"),
    ("05.00001", "44.00006", "zeros followed by a digit are no fraction, and the 01 in them is the month"),
    ("3 03 15 4 04 5 05 1 01 2 02 06", "1 01 13 19 19 44 44 6 06 23 23 15", "every number element"),
]


@pytest.mark.parametrize("layout, expected", [pytest.param(*layout[:2], id=layout[2]) for layout in LAYOUTS])
def test_format_follows_gos_reference_time_layouts(layout: str, expected: str) -> None:
    assert format_time(time_from_seconds(1435065584.128), layout) == expected


METHODS = [
    (T + "{{ $t.Year }} {{ $t.Month }} {{ $t.Day }} {{ $t.Hour }} {{ $t.Minute }} {{ $t.Second }} "
         "{{ $t.Nanosecond }} {{ $t.YearDay }} {{ $t.Weekday }}", "2015 June 23 13 19 44 128000000 174 Tuesday",
     "calendar fields; Month and Weekday print their names"),
    (T + "{{ $t.Unix }} {{ $t.UnixMilli }} {{ $t.UnixMicro }} {{ $t.UnixNano }}",
     "1435065584 1435065584128 1435065584128000 1435065584128000000", "Unix times"),
    ("{{ (toTime -1.5).Unix }} {{ (toTime -1.5).UnixMilli }}", "-2 -1500", "Unix seconds round down before 1970"),
    (T + "{{ $t.Add 1500000000 }}|{{ $t.AddDate 0 1 10 }}|{{ (toTime 5).AddDate 1 13 40 }}",
     "2015-06-23 13:19:45.628 +0000 UTC|2015-08-02 13:19:44.128 +0000 UTC|1972-03-12 00:00:05 +0000 UTC",
     "Add takes nanoseconds; AddDate normalises overflowing months and days"),
    (T + "{{ $t.Sub (toTime 1435000000) }}|{{ $t.Before (toTime 1435000000) }}|{{ $t.After (toTime 1435000000) }}|"
         "{{ $t.Equal (toTime 1435065584.128) }}", "18h13m4.128s|false|true|true", "Sub and comparisons"),
    (T + "{{ $t.Truncate 3600000000000 }}|{{ $t.Round 3600000000000 }}|{{ $t.UTC }}|{{ $t.IsZero }}|{{ $t.String }}",
     "2015-06-23 13:00:00 +0000 UTC|2015-06-23 13:00:00 +0000 UTC|2015-06-23 13:19:44.128 +0000 UTC|false|"
     "2015-06-23 13:19:44.128 +0000 UTC", "Truncate, Round and String"),
    ("{{ (toTime 0).Add 1 }}|{{ (toTime 0).Add 1.0 }}", "1970-01-01 00:00:00.000000001 +0000 UTC|"
                                                        "1970-01-01 00:00:00.000000001 +0000 UTC",
     "an integral float constant is an integer argument, as in Go"),
    ("{{ $d := (toTime 1435065584.128).Sub (toTime 1435000000) }}{{ $d }}|{{ $d.Hours }}|{{ $d.Minutes }}|"
     "{{ $d.Seconds }}|{{ $d.Milliseconds }}|{{ $d.Round 60000000000 }}|{{ $d.Truncate 3600000000000 }}",
     "18h13m4.128s|18.217813333333332|1093.0688|65584.128|65584128|18h13m0s|18h0m0s", "Duration methods"),
    ('{{ $d := (toTime 2).Sub (toTime 1) }}{{ printf "%d %s %T %v" $d $d $d $d.Abs }}|{{ ((toTime 1).Sub (toTime 2)).Abs }}',
     "1000000000 1s time.Duration 1s|1s", "a Duration is an int64 for %d and a Stringer for %s"),
    ('{{ printf "%v|%s|%T|%#v" (toTime 5) (toTime 5) (toTime 5).Month (toTime 5) }}',
     "1970-01-01 00:00:05 +0000 UTC|1970-01-01 00:00:05 +0000 UTC|time.Month|"
     "time.Date(1970, time.January, 1, 0, 0, 5, 0, time.UTC)", "printf of times"),
]


@pytest.mark.parametrize("text, expected", [pytest.param(*m[:2], id=m[2]) for m in METHODS])
def test_methods_work_like_go(text: str, expected: str) -> None:
    assert render(text) == expected


METHOD_ERRORS = [
    ("{{ (toTime 1).Nope }}", "can't evaluate field Nope in type *time.Time", "an unknown method"),
    ("{{ (toTime 1).Format }}", "wrong number of args for Format: want 1 got 0", "a missing argument"),
    ("{{ (toTime 1).Year 5 }}", "wrong number of args for Year: want 0 got 1", "an extra argument"),
    ("{{ (toTime 1).Add 1.5 }}", "expected integer; found 1.5", "a fractional constant for a Duration"),
    ('{{ (toTime 1).Add "1s" }}', 'expected integer; found "1s"', "a string constant for a Duration"),
    ("{{ (toTime 1).Add nil }}", "cannot assign nil to time.Duration", "nil for a Duration"),
    ("{{ (toTime 1).Add $value }}", "wrong type for value; expected time.Duration; got float64", "a float value"),
    ("{{ (toTime 1).Sub 5 }}", "can't handle 5 for arg of type time.Time", "a constant for a Time"),
    ("{{ (toTime 1).Sub $value }}", "wrong type for value; expected time.Time; got float64", "a float for a Time"),
    ("{{ (toTime 1).AddDate 1.5 0 0 }}", "expected integer; found 1.5", "a fraction for an int"),
    ("{{ len (toTime 1) }}", "error calling len: len of type time.Time", "len of a time"),
]


@pytest.mark.parametrize("text, message", [pytest.param(*e[:2], id=e[2]) for e in METHOD_ERRORS])
def test_method_calls_fail_like_go(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        render(text)
    assert error.value.message.endswith(message)


def test_times_are_truncated_to_milliseconds_like_prometheus() -> None:
    assert time_from_seconds(1.0001239) == Time(1_000_000_000)
    assert time_from_seconds(-1.0001239) == Time(-1_000_000_000)
