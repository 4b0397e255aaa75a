"""Business-time arithmetic: weekends, holidays, DST, odd calendars, and its invariants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slawatch.sla.business_time import (
    BusinessCalendar,
    add_business_time,
    business_day_length,
    business_duration_between,
    business_interval,
    is_business_day,
    is_business_instant,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
JERUSALEM = ZoneInfo("Asia/Jerusalem")

CAL_BERLIN = BusinessCalendar(timezone="Europe/Berlin")
CAL_DE = BusinessCalendar(timezone="Europe/Berlin", holiday_country="DE")
CAL_DE_EXTRA = BusinessCalendar(
    timezone="Europe/Berlin", holiday_country="DE", extra_holidays=frozenset({date(2026, 12, 28)})
)
CAL_EXPLICIT_ONLY = BusinessCalendar(
    timezone="Europe/Berlin", extra_holidays=frozenset({date(2026, 3, 16)})
)
CAL_NEW_YORK = BusinessCalendar(timezone="America/New_York")
CAL_SUN_THU = BusinessCalendar(timezone="Asia/Jerusalem", workdays=frozenset({6, 0, 1, 2, 3}))
# Every day 00:00-06:00 in Berlin: the DST changes (02:00/03:00) fall inside business hours.
CAL_NIGHT = BusinessCalendar(
    timezone="Europe/Berlin", workdays=frozenset(range(7)), start=time(0), end=time(6)
)

H = timedelta(hours=1)
DAY = 9 * H  # one business day of 09:00-18:00



def params(table: list[tuple]) -> list:
    """Table rows end with their id: the sentence that names the behaviour."""
    return [pytest.param(*row[:-1], id=row[-1]) for row in table]

def b(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def ny(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NEW_YORK)


def jlm(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=JERUSALEM)


ADD_CASES = [
    # (calendar, start, amount, expected, id)
    (CAL_BERLIN, b(2026, 3, 13, 17), DAY, b(2026, 3, 16, 17), "fri-17h-plus-1-day-is-mon-17h"),
    (CAL_BERLIN, b(2026, 3, 16, 9), DAY, b(2026, 3, 16, 18), "full-day-ends-at-close-not-next"),
    (CAL_BERLIN, b(2026, 3, 16, 9), H, b(2026, 3, 16, 10), "opened-at-opening-counts-at-once"),
    (CAL_BERLIN, b(2026, 3, 16, 18), H, b(2026, 3, 17, 10), "opened-at-close-waits-for-open"),
    (CAL_BERLIN, b(2026, 3, 13, 18), H, b(2026, 3, 16, 10), "opened-fri-close-waits-for-mon"),
    (CAL_BERLIN, b(2026, 3, 14, 11), DAY, b(2026, 3, 16, 18), "opened-saturday-starts-monday-open"),
    (CAL_BERLIN, b(2026, 3, 16, 20), 2 * H, b(2026, 3, 17, 11), "opened-20h-starts-next-morning"),
    (CAL_BERLIN, b(2026, 3, 17, 7), 2 * H, b(2026, 3, 17, 11), "opened-07h-starts-at-09h"),
    (CAL_BERLIN, b(2026, 3, 16, 17, 45), timedelta(minutes=30), b(2026, 3, 17, 9, 15),
     "minutes-carry-over-to-next-morning"),
    (CAL_BERLIN, b(2026, 3, 11, 12), 3 * DAY, b(2026, 3, 16, 12), "three-days-span-a-weekend"),
    (CAL_BERLIN, b(2026, 3, 13, 17), 10 * DAY, b(2026, 3, 27, 17), "ten-days-are-two-weeks"),
    (CAL_DE, b(2026, 12, 24, 17), DAY, b(2026, 12, 28, 17), "de-christmas-holidays-skipped"),
    (CAL_BERLIN, b(2026, 12, 24, 17), DAY, b(2026, 12, 25, 17), "no-country-christmas-is-workday"),
    (CAL_DE_EXTRA, b(2026, 12, 24, 17), DAY, b(2026, 12, 29, 17), "explicit-date-added-to-country"),
    (CAL_DE, b(2026, 4, 2, 17), DAY, b(2026, 4, 7, 17), "de-easter-friday-and-monday-skipped"),
    (CAL_EXPLICIT_ONLY, b(2026, 3, 13, 17), DAY, b(2026, 3, 17, 17), "explicit-dates-no-country"),
    (CAL_BERLIN, b(2026, 3, 27, 17), DAY, b(2026, 3, 30, 17), "berlin-spring-dst-weekend"),
    (CAL_BERLIN, b(2026, 10, 23, 17), DAY, b(2026, 10, 26, 17), "berlin-autumn-dst-weekend"),
    (CAL_NEW_YORK, ny(2026, 3, 6, 17), DAY, ny(2026, 3, 9, 17), "new-york-spring-dst-weekend"),
    (CAL_NEW_YORK, ny(2026, 10, 30, 17), DAY, ny(2026, 11, 2, 17), "new-york-autumn-dst-weekend"),
    (CAL_NIGHT, b(2026, 3, 29, 0), 5 * H, b(2026, 3, 29, 6), "spring-dst-day-is-5-real-hours"),
    (CAL_NIGHT, b(2026, 3, 29, 0), 6 * H, b(2026, 3, 30, 1), "spring-dst-short-day-carries-1h"),
    (CAL_NIGHT, b(2026, 10, 25, 0), 6 * H, b(2026, 10, 25, 5), "autumn-dst-day-is-7-real-hours"),
    (CAL_SUN_THU, jlm(2026, 3, 12, 17), DAY, jlm(2026, 3, 15, 17), "sun-thu-week-skips-fri-sat"),
    (CAL_SUN_THU, jlm(2026, 3, 13, 10), H, jlm(2026, 3, 15, 10), "sun-thu-friday-waits-for-sunday"),
    (CAL_BERLIN, b(2026, 3, 14, 11), timedelta(0), b(2026, 3, 14, 11), "zero-amount-returns-start"),
]


@pytest.mark.parametrize("cal, start, amount, expected", params(ADD_CASES))
def test_add_business_time(cal, start, amount, expected):
    result = add_business_time(cal, start, amount)
    assert result == expected
    assert result.tzinfo is UTC


def test_dst_deadline_keeps_wall_clock_so_utc_shifts_by_the_offset_change():
    """Friday 17:00 CET is 16:00Z; Monday 17:00 CEST is 15:00Z."""
    result = add_business_time(CAL_BERLIN, b(2026, 3, 27, 17), DAY)
    assert result == datetime(2026, 3, 30, 15, tzinfo=UTC)


DURATION_CASES = [
    (CAL_BERLIN, b(2026, 3, 16, 0), b(2026, 3, 21, 0), 45 * H, "mon-fri-week-is-45h"),
    (CAL_BERLIN, b(2026, 3, 13, 17), b(2026, 3, 16, 17), DAY, "friday-17h-to-monday-17h-is-1-day"),
    (CAL_BERLIN, b(2026, 3, 16, 19), b(2026, 3, 17, 8), timedelta(0), "overnight-is-zero"),
    (CAL_BERLIN, b(2026, 3, 17, 12), b(2026, 3, 16, 12), timedelta(0), "reversed-range-is-zero"),
    (CAL_BERLIN, b(2026, 3, 16, 10), b(2026, 3, 16, 10), timedelta(0), "empty-range-is-zero"),
    (CAL_DE, b(2026, 12, 21, 0), b(2026, 12, 28, 0), 4 * DAY, "christmas-week-has-4-days"),
    (CAL_NIGHT, b(2026, 3, 29, 0), b(2026, 3, 30, 0), 5 * H, "spring-dst-night-day-is-5h"),
    (CAL_NIGHT, b(2026, 10, 25, 0), b(2026, 10, 26, 0), 7 * H, "autumn-dst-night-day-is-7h"),
]


@pytest.mark.parametrize("cal, a, end, expected", params(DURATION_CASES))
def test_business_duration_between(cal, a, end, expected):
    assert business_duration_between(cal, a, end) == expected


INSTANT_CASES = [
    (CAL_BERLIN, b(2026, 3, 16, 9), True, "opening-instant-is-business"),
    (CAL_BERLIN, b(2026, 3, 16, 17, 59), True, "just-before-close-is-business"),
    (CAL_BERLIN, b(2026, 3, 16, 18), False, "closing-instant-is-not-business"),
    (CAL_BERLIN, b(2026, 3, 16, 8, 59), False, "before-opening-is-not-business"),
    (CAL_BERLIN, b(2026, 3, 14, 12), False, "saturday-noon-is-not-business"),
    (CAL_DE, b(2026, 12, 25, 12), False, "holiday-noon-is-not-business"),
    (CAL_SUN_THU, jlm(2026, 3, 15, 12), True, "sunday-noon-is-business-in-sun-thu-week"),
    (CAL_BERLIN, datetime(2026, 3, 16, 8, 30, tzinfo=UTC), True, "utc-input-judged-in-berlin"),
]


@pytest.mark.parametrize("cal, at, expected", params(INSTANT_CASES))
def test_is_business_instant(cal, at, expected):
    assert is_business_instant(cal, at) is expected


DAY_CASES = [
    (CAL_DE, date(2026, 12, 24), True, "christmas-eve-is-a-de-workday"),
    (CAL_DE, date(2026, 12, 25), False, "christmas-day-is-a-de-holiday"),
    (CAL_DE, date(2026, 1, 6), True, "epiphany-is-a-workday-in-de-nationally"),
    (BusinessCalendar(holiday_country="DE", holiday_subdivision="BY"), date(2026, 1, 6), False,
     "epiphany-is-a-holiday-in-bavaria"),
    (CAL_EXPLICIT_ONLY, date(2026, 3, 16), False, "explicit-date-is-a-holiday"),
    (CAL_BERLIN, date(2026, 3, 15), False, "sunday-is-not-a-workday"),
    (CAL_SUN_THU, date(2026, 3, 15), True, "sunday-is-a-workday-in-sun-thu-week"),
    (CAL_SUN_THU, date(2026, 3, 13), False, "friday-is-not-a-workday-in-sun-thu-week"),
]


@pytest.mark.parametrize("cal, day, expected", params(DAY_CASES))
def test_is_business_day(cal, day, expected):
    assert is_business_day(cal, day) is expected


def test_business_day_length_is_end_minus_start():
    assert business_day_length(CAL_BERLIN) == 9 * H
    assert business_day_length(BusinessCalendar(start=time(8, 30), end=time(17))) == 8.5 * H


def test_workdays_given_as_list_are_stored_as_frozenset():
    cal = BusinessCalendar(workdays=[0, 1, 2])  # type: ignore[arg-type]
    assert cal.workdays == frozenset({0, 1, 2})
    hash(cal)


INVALID_CALENDARS = [
    (dict(start=time(18), end=time(9)), "business_hours", "end-before-start"),
    (dict(start=time(9), end=time(9)), "business_hours", "end-equal-start"),
    (dict(workdays=frozenset()), "workdays", "no-workdays"),
    (dict(workdays=frozenset({7})), "workdays", "weekday-out-of-range"),
    (dict(timezone="Mars/Olympus_Mons"), "timezone", "unknown-zone"),
    (dict(timezone=""), "timezone", "empty-zone"),
    (dict(holiday_country="XX"), "holidays", "unknown-country"),
    (dict(holiday_country="DE", holiday_subdivision="ZZ"), "holidays", "unknown-subdivision"),
    (dict(holiday_subdivision="BY"), "holidays", "subdivision-without-country"),
]


@pytest.mark.parametrize("kwargs, field", params(INVALID_CALENDARS))
def test_invalid_calendar_is_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        BusinessCalendar(**kwargs)


def test_naive_start_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(CAL_BERLIN, datetime(2026, 3, 16, 9), H)


def test_negative_amount_is_rejected():
    with pytest.raises(ValueError, match="amount"):
        add_business_time(CAL_BERLIN, b(2026, 3, 16, 9), -H)


def test_calendar_without_business_days_stops_instead_of_looping_forever():
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(5 * 53))
    cal = BusinessCalendar(workdays=frozenset({0}), extra_holidays=mondays)
    with pytest.raises(ValueError, match="no business time"):
        add_business_time(cal, datetime(2026, 1, 1, tzinfo=UTC), H)


# --- invariants -------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "Asia/Jerusalem"]


@st.composite
def calendars(draw) -> BusinessCalendar:
    start_min = draw(st.integers(0, 20 * 60))
    end_min = draw(st.integers(start_min + 1, 24 * 60 - 1))
    return BusinessCalendar(
        timezone=draw(st.sampled_from(ZONES)),
        workdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        start=time(*divmod(start_min, 60)),
        end=time(*divmod(end_min, 60)),
        holiday_country=draw(st.sampled_from([None, "DE", "US"])),
        extra_holidays=frozenset(
            draw(st.sets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=8))
        ),
    )


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def amounts(draw, cal: BusinessCalendar, min_us: int = 1) -> timedelta:
    """Up to 15 business days, so that sparse calendars stay fast."""
    day_us = business_day_length(cal) // timedelta(microseconds=1)
    return timedelta(microseconds=draw(st.integers(min_us, 15 * day_us)))


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(data=st.data(), cal=calendars(), start=instants)
def test_deadline_is_never_before_open_time(data, cal, start):
    amount = data.draw(amounts(cal, min_us=0))
    assert add_business_time(cal, start, amount) >= start


@PROPERTY_SETTINGS
@given(data=st.data(), cal=calendars(), start=instants)
def test_positive_business_deadline_lies_inside_business_hours(data, cal, start):
    """Inside (opening, closing] of a business day: a deadline may sit on a closing."""
    result = add_business_time(cal, start, data.draw(amounts(cal)))
    local_day = result.astimezone(cal.zone).date()
    intervals = [business_interval(cal, d) for d in (local_day - timedelta(days=1), local_day)]
    assert any(iv is not None and iv[0] < result <= iv[1] for iv in intervals)


@PROPERTY_SETTINGS
@given(data=st.data(), cal=calendars(), start=instants)
def test_business_duration_between_inverts_add_business_time(data, cal, start):
    amount = data.draw(amounts(cal, min_us=0))
    end = add_business_time(cal, start, amount)
    assert abs(business_duration_between(cal, start, end) - amount) <= timedelta(microseconds=1)


@PROPERTY_SETTINGS
@given(data=st.data(), cal=calendars(), first=instants, second=instants)
def test_later_open_time_never_gives_earlier_deadline(data, cal, first, second):
    earlier, later = sorted((first, second))
    amount = data.draw(amounts(cal, min_us=0))
    assert add_business_time(cal, earlier, amount) <= add_business_time(cal, later, amount)
