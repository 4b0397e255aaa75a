"""Business-time arithmetic: working days and hours in a time zone, minus holidays.

P2's "1 business day" is counted inside business hours only, so a ticket opened on
Friday 17:00 with 09:00-18:00 hours is due on Monday 17:00. Business hours are
wall-clock hours in the calendar's zone; every length is measured between real (UTC)
instants, so a day that crosses a DST change at night is as long as it really is.

Everything here is pure: aware datetimes in, aware UTC datetimes out, no clock.
Holiday tables come from the `holidays` package and are memoised per
(country, subdivision, year), since they are fixed data and looked up on every day walked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

UTC = timezone.utc
MONDAY_TO_FRIDAY = frozenset(range(5))
# The longest run of days without business time we walk before giving up: a calendar
# whose holidays swallow every working day must fail loudly, never loop forever.
MAX_IDLE_DAYS = 3 * 366
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BusinessCalendar:
    """Where and when business time runs: a zone, working weekdays, daily hours, holidays.

    `workdays` are `date.weekday()` numbers (Monday 0 .. Sunday 6). `start`/`end` are
    naive wall-clock times in `timezone`; hours that span midnight are not supported.
    Holidays are the union of the `holidays` package's table for `holiday_country`
    (optionally `holiday_subdivision`) and `extra_holidays`.
    """

    timezone: str = "UTC"
    workdays: frozenset[int] = MONDAY_TO_FRIDAY
    start: time = time(9, 0)
    end: time = time(18, 0)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable from config, but store hashable frozensets.
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown IANA time zone {self.timezone!r}") from None
        if not self.workdays:
            raise ValueError("workdays: at least one working day is required")
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in self.workdays):
            raise ValueError(f"workdays: expected weekday numbers 0-6, got {sorted(self.workdays)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("business_hours: start and end are wall-clock times without a zone")
        if self.end <= self.start:
            raise ValueError(
                f"business_hours: end {self.end:%H:%M} must be after start {self.start:%H:%M}"
            )
        if self.holiday_subdivision is not None and self.holiday_country is None:
            raise ValueError("holidays: a subdivision needs a country")
        if self.holiday_country is not None:
            try:
                holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"holidays: {exc}") from None

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's zone (ZoneInfo caches instances, so this is cheap)."""
        return ZoneInfo(self.timezone)


@functools.lru_cache(maxsize=None)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """One year of a country's public holidays; memoised because the table never changes."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def is_business_day(cal: BusinessCalendar, local_date: date) -> bool:
    """True if `local_date` (a date in the calendar's zone) is a working day, not a holiday."""
    if local_date.weekday() not in cal.workdays or local_date in cal.extra_holidays:
        return False
    if cal.holiday_country is None:
        return True
    table = _country_holidays(cal.holiday_country, cal.holiday_subdivision, local_date.year)
    return local_date not in table


def business_interval(cal: BusinessCalendar, local_date: date) -> tuple[datetime, datetime] | None:
    """The UTC instants at which business opens and closes on `local_date`, or None.

    A wall time that falls in a DST gap resolves as zoneinfo does (fold=0: shifted
    forward by the gap); a close that would precede the opening yields an empty day.
    """
    if not is_business_day(cal, local_date):
        return None
    zone = cal.zone
    opens = datetime.combine(local_date, cal.start, tzinfo=zone).astimezone(UTC)
    closes = datetime.combine(local_date, cal.end, tzinfo=zone).astimezone(UTC)
    return (opens, closes) if closes > opens else None


def business_day_length(cal: BusinessCalendar) -> timedelta:
    """Nominal length of one business day (end - start), the size of "1 business day"."""
    return datetime.combine(date.min, cal.end) - datetime.combine(date.min, cal.start)


def is_business_instant(cal: BusinessCalendar, at: datetime) -> bool:
    """True if business time is running at `at` (opening inclusive, closing exclusive)."""
    at = _utc(at, "at")
    local_day = at.astimezone(cal.zone).date()
    for day in (local_day - _ONE_DAY, local_day):
        interval = business_interval(cal, day)
        if interval is not None and interval[0] <= at < interval[1]:
            return True
    return False


def add_business_time(cal: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant at which `amount` of business time has elapsed since `start`.

    Counting begins at `start` if business is open then, else at the next opening.
    A result that lands exactly on a closing stays there (9 h from Mon 09:00 is
    Mon 18:00, not Tue 09:00). An `amount` of zero returns `start` unchanged (in UTC):
    nothing has to elapse, so nothing waits for an opening.
    """
    cursor = _utc(start, "start")
    if amount < timedelta(0):
        raise ValueError(f"amount: must not be negative, got {amount}")
    remaining = amount
    if remaining == timedelta(0):
        return cursor
    idle_days = 0
    for opens, closes in _intervals_from(cal, cursor):
        cursor = max(cursor, opens)
        if cursor < closes:
            available = closes - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = closes
            idle_days = 0
        elif opens == closes:  # marker for a day without business time
            idle_days += 1
            if idle_days > MAX_IDLE_DAYS:
                raise ValueError(
                    f"calendar: no business time within {MAX_IDLE_DAYS} days after "
                    f"{cursor.isoformat()} (every working day is a holiday?)"
                )
    raise AssertionError("unreachable: _intervals_from is infinite")  # pragma: no cover


def business_duration_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Business time inside [a, b); zero when b <= a. The inverse of add_business_time."""
    a, b = _utc(a, "a"), _utc(b, "b")
    total = timedelta(0)
    if b <= a:
        return total
    cursor = a
    for opens, closes in _intervals_from(cal, a):
        if opens >= b:
            break
        cursor = max(cursor, opens)
        end = min(closes, b)
        if cursor < end:
            total += end - cursor
            cursor = end
    return total


def _intervals_from(cal: BusinessCalendar, at: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals day by day from the local day before `at`, without end.

    A day without business time yields (midnight, midnight) so that callers can
    count idle days and stop; the day before `at` is included in case an interval
    reaches past local midnight after a DST shift.
    """
    day = at.astimezone(cal.zone).date() - _ONE_DAY
    while True:
        interval = business_interval(cal, day)
        if interval is None:
            midnight = datetime.combine(day, time(0), tzinfo=cal.zone).astimezone(UTC)
            yield midnight, midnight
        else:
            yield interval
        day += _ONE_DAY


def _utc(value: datetime, name: str) -> datetime:
    """Normalise an aware datetime to UTC; naive datetimes are ambiguous, so refuse them."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: datetime must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)
