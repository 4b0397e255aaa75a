"""Who is on call at an instant: rotations, overrides, and nobody before a rotation starts.

Pure: explicit instants in, values out; no clock, no Slack. Resolving an email to a
Slack user id (`users.lookupByEmail`) is I/O and happens in the notifier. The escalation
policy that names these schedules is `slawatch.escalation`.

DST rules. Shifts begin at `handoff` local time on `start_date`, then every `shift`.
- A shift of whole days (1d, 7d, 14d) is counted in local calendar days, so a daily
  09:00 handoff stays at 09:00 local across DST (that shift lasts 23 h or 25 h). A
  handoff in a DST gap happens after the gap (02:30 -> 03:30 CEST); an ambiguous one at
  its first occurrence.
- A shift that divides a day (12h, 8h, 6h, 1h...) hands off at fixed local times: 12 h
  from 09:00 is 09:00 and 21:00 local all year, so the shift across a DST change lasts
  11 h or 13 h. A handoff that the clock skips (a DST gap) happens when the gap ends;
  one that the clock shows twice, at its first occurrence. A shift lying wholly inside a
  gap is empty and never on call.
- Any other shift (36h, 5h) is real elapsed time from the first handoff, so its local
  handoff time moves with the offset.
Before the first handoff nobody is on call (`Nobody`), unless an override says so: a
mistyped `start_date` then pages nobody visibly instead of someone at random.
Instants returned are UTC: datetimes sharing one ZoneInfo compare by wall clock.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
DAY = timedelta(days=1)

Person = str
"""A Slack user id (`U…`/`W…`) or an email address still to be resolved."""

LevelKind = Literal["schedule", "user", "channel"]
"""Whom an escalation step notifies: whoever is on call for a schedule, a user, a channel."""

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s<>&]+@[^@\s<>&]+\.[^@\s<>&]+$")
# Slack channel names: lowercase letters, digits, `-`, `_`, `.`; never `<`, `>`, `&` or
# spaces, so a configured channel cannot smuggle a `<!channel>` ping into a mention.
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9_.\-]{0,79}$")


def is_slack_user_id(person: Person) -> bool:
    """True for a Slack user id (`U…`, or `W…` on Enterprise Grid); False for an email."""
    return bool(_USER_ID.match(person))


def is_email(person: str) -> bool:
    return bool(_EMAIL.match(person))


def check_person(person: object) -> None:
    """Raise ValueError unless `person` is a Slack user id or an email."""
    if not isinstance(person, str) or not (is_slack_user_id(person) or _EMAIL.match(person)):
        raise ValueError(f"{person!r} is neither a Slack user id (U…/W…) nor an email")


def check_channel(channel: object) -> None:
    """Raise ValueError unless `channel` is a channel id (`C…`/`G…`) or a channel name."""
    if not isinstance(channel, str) or not (_CHANNEL_ID.match(channel) or _CHANNEL_NAME.match(channel)):
        raise ValueError(f"{channel!r} is neither a channel id nor a channel name")


def check_timezone(name: object) -> None:
    try:
        ZoneInfo(name)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def mention_for(kind: LevelKind, target: str) -> str:
    """How Slack text names a resolved target.

    User id -> `<@U123>`; email -> the email unchanged (the notifier resolves it);
    channel id -> `<#C123>`; channel name -> `#name`.
    """
    if kind == "channel":
        return f"<#{target}>" if _CHANNEL_ID.match(target) else "#" + target.removeprefix("#")
    return f"<@{target}>" if is_slack_user_id(target) else target


def _named(field: str, check: Any, value: object) -> None:
    try:
        check(value)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def _nonempty(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field}: must not be empty")


def _utc(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{field}: must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class Override:
    """`person` covers the half-open range [start, end), whatever the rotation says."""

    start: datetime
    end: datetime
    person: Person

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.end <= self.start:
            raise ValueError(f"end: must be after start ({self.start} >= {self.end})")
        _named("person", check_person, self.person)


@dataclasses.dataclass(frozen=True)
class Shift:
    """One scheduled shift of a rotation: [start, end) in UTC; `index` 0 is the first."""

    index: int
    start: datetime
    end: datetime
    person: Person


@dataclasses.dataclass(frozen=True)
class Nobody:
    """Nobody is on call: the instant is before the rotation's first handoff, `starts_at`.

    Falsy, so `if who_is_on_call(...)` reads as "is somebody on call".
    """

    schedule: str
    starts_at: datetime

    def __bool__(self) -> bool:
        return False


@dataclasses.dataclass(frozen=True)
class Rotation:
    """A schedule: `people` take turns of length `shift`, handing off at local `handoff`.

    See the module docstring for the DST and before-start rules. `people` may repeat a
    person (two turns per cycle); overrides may overlap (the latest-starting one wins).
    """

    name: str
    people: tuple[Person, ...]
    shift: timedelta
    handoff: time
    timezone: str
    start_date: date
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "people", tuple(self.people))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        _nonempty(self.name, "name")
        if not self.people:
            raise ValueError("people: must not be empty")
        for i, person in enumerate(self.people):
            _named(f"people[{i}]", check_person, person)
        if self.shift <= timedelta(0):
            raise ValueError(f"shift: must be positive, got {self.shift}")
        if not isinstance(self.handoff, time) or self.handoff.tzinfo is not None:
            raise ValueError(f"handoff: must be a local time without tzinfo, got {self.handoff!r}")
        _named("timezone", check_timezone, self.timezone)
        if isinstance(self.start_date, datetime) or not isinstance(self.start_date, date):
            raise ValueError(f"start_date: must be a date, got {self.start_date!r}")

    @property
    def whole_days(self) -> bool:
        """Shifts of whole days, counted in local calendar days."""
        return self.shift % DAY == timedelta(0)

    @property
    def divides_day(self) -> bool:
        """Shifts shorter than a day that divide it: fixed local handoff times."""
        return self.shift < DAY and DAY % self.shift == timedelta(0)

    @property
    def wall_clock(self) -> bool:
        """True when handoffs keep their local times across DST (see the module docstring)."""
        return self.whole_days or self.divides_day

    def _start_of(self, index: int) -> datetime:
        tz = ZoneInfo(self.timezone)
        if self.whole_days:
            day = self.start_date + index * self.shift
            return datetime.combine(day, self.handoff, tzinfo=tz).astimezone(UTC)
        if self.divides_day:
            days, slot = divmod(index, DAY // self.shift)
            local = datetime.combine(self.start_date + timedelta(days=days), self.handoff) + slot * self.shift
            return _first_reaching(local, tz)
        first = datetime.combine(self.start_date, self.handoff, tzinfo=tz).astimezone(UTC)
        return first + index * self.shift

    def _index_at(self, at: datetime) -> int:
        tz = ZoneInfo(self.timezone)
        if self.whole_days:
            index = (at.astimezone(tz).date() - self.start_date) // self.shift
        elif self.divides_day:
            local = at.astimezone(tz).replace(tzinfo=None)
            index = (local - datetime.combine(self.start_date, self.handoff)) // self.shift
        else:
            index = (at - self._start_of(0)) // self.shift
        # The estimate can be a few off around the handoff time or a DST change.
        while self._start_of(index) > at:
            index -= 1
        while self._start_of(index + 1) <= at:
            index += 1
        return index

    def first_handoff(self) -> datetime:
        """When the rotation begins (UTC): before it, nobody is on call."""
        return self._start_of(0)


def _first_reaching(local: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the local clock of `tz` reads `local` (naive) or later.

    Normally the instant it reads exactly that (the first of two in the autumn hour);
    for a time in a DST gap, the instant the gap ends.
    """
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap, fold=0 reads `local` with the offset from before the change (an instant
    # after it) and fold=1 with the offset after it (an instant before it): bisect.
    lo, hi = local.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    while hi - lo > timedelta(microseconds=1):
        middle = lo + (hi - lo) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= local:
            hi = middle
        else:
            lo = middle
    return hi


def shift_at(rotation: Rotation, at: datetime) -> Shift | None:
    """The scheduled shift containing `at` (overrides ignored), start <= at < end; None
    before the rotation's first handoff."""
    at = _utc(at, "at")
    index = rotation._index_at(at)
    if index < 0:
        return None
    person = rotation.people[index % len(rotation.people)]
    return Shift(index, rotation._start_of(index), rotation._start_of(index + 1), person)


def who_is_on_call(rotation: Rotation, at: datetime) -> Person | Nobody:
    """The person on call at `at`: the latest-starting covering override, else the shift,
    else (before the first handoff) `Nobody`.

    Boundaries are exact: at a handoff instant the incoming person is on call, and an
    override's end instant already belongs to the rotation again. Among overrides with
    the same start, the one listed last wins.
    """
    at = _utc(at, "at")
    overrides = enumerate(rotation.overrides)
    covering = [(o.start, i, o.person) for i, o in overrides if o.start <= at < o.end]
    if covering:
        return max(covering)[2]
    shift = shift_at(rotation, at)
    return shift.person if shift else Nobody(rotation.name, rotation.first_handoff())


def next_handoff(rotation: Rotation, at: datetime) -> datetime:
    """The next scheduled handoff strictly after `at` (UTC); before the rotation starts, its
    first handoff. Overrides do not move it."""
    shift = shift_at(rotation, at)
    return shift.end if shift else rotation.first_handoff()


@dataclasses.dataclass(frozen=True)
class Segment:
    """[start, end) during which `person` is on call (overrides applied)."""

    start: datetime
    end: datetime
    person: Person


def segments(rotation: Rotation, start: datetime, end: datetime) -> Iterator[Segment]:
    """Who is on call over [start, end), as maximal segments; time with nobody is left out."""
    start, end = _utc(start, "start"), _utc(end, "end")
    edges = {o.start for o in rotation.overrides} | {o.end for o in rotation.overrides}
    at = start
    current: Segment | None = None
    while at < end:
        upcoming = [e for e in edges if at < e < end] + [next_handoff(rotation, at), end]
        following = min(upcoming)
        person = who_is_on_call(rotation, at)
        if current is not None and (not person or current.person != person):
            yield current
            current = None
        if person:
            current = Segment(current.start if current else at, following, person)
        at = following
    if current is not None:
        yield current


# --- frozen with an escalation policy -------------------------------------------------------


def rotation_to_json(rotation: Rotation) -> dict[str, Any]:
    """A plain dict for a ticket's escalation snapshot."""
    return {
        "name": rotation.name,
        "people": list(rotation.people),
        "shift_seconds": rotation.shift.total_seconds(),
        "handoff": rotation.handoff.isoformat(),
        "timezone": rotation.timezone,
        "start_date": rotation.start_date.isoformat(),
        "overrides": [
            {"start": o.start.isoformat(), "end": o.end.isoformat(), "person": o.person} for o in rotation.overrides
        ],
    }


def rotation_from_json(data: Mapping[str, Any]) -> Rotation:
    """The rotation as it was frozen; raises ValueError naming what is missing."""
    try:
        return Rotation(
            data["name"], tuple(data["people"]), timedelta(seconds=data["shift_seconds"]),
            time.fromisoformat(data["handoff"]), data["timezone"], date.fromisoformat(data["start_date"]),
            tuple(
                Override(datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]), o["person"])
                for o in data.get("overrides", [])
            ),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"expected name, people, shift_seconds, handoff, timezone, start_date ({exc})") from None
