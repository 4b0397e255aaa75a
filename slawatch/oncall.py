"""Who is on call at an instant, and the escalation chain frozen onto a ticket.

Pure: explicit instants in, values out; no clock, no Slack. Resolving an email to a
Slack user id (`users.lookupByEmail`) is I/O and happens in the notifier.

DST rule: shifts begin at `handoff` local time on `start_date`, then every `shift`. A
shift of whole days is counted in local calendar days, so a daily 09:00 handoff stays at
09:00 local across DST (that shift lasts 23 h or 25 h). Any other shift (12 h, 36 h) is
real elapsed time from the first handoff, so its local handoff moves with the offset. A
wall-clock handoff in a DST gap happens after the gap (02:30 -> 03:30 CEST); an
ambiguous one at its first occurrence. Before `start_date` the rotation extends
backwards (the previous cycle's last person is on call), so lookups never raise.
Instants returned are UTC: datetimes sharing one ZoneInfo compare by wall clock.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal, Mapping, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc

Person = str
"""A Slack user id (`U…`/`W…`) or an email address still to be resolved."""

LevelKind = Literal["schedule", "user", "channel"]
EscalationEvent = Literal[
    "opened", "response_warning", "response_breach", "recovery_warning", "recovery_breach"
]

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s<>&]+@[^@\s<>&]+\.[^@\s<>&]+$")
# Slack channel names: lowercase letters, digits, `-`, `_`, `.`; never `<`, `>`, `&` or
# spaces, so a configured channel cannot smuggle a `<!channel>` ping into a mention.
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9_.\-]{0,79}$")


def is_slack_user_id(person: Person) -> bool:
    """True for a Slack user id (`U…`, or `W…` on Enterprise Grid); False for an email."""
    return bool(_USER_ID.match(person))


def _nonempty(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field}: must not be empty")


def _check_person(person: object, field: str) -> None:
    if not isinstance(person, str) or not (is_slack_user_id(person) or _EMAIL.match(person)):
        raise ValueError(f"{field}: {person!r} is neither a Slack user id (U…/W…) nor an email")


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
        _check_person(self.person, "person")


@dataclasses.dataclass(frozen=True)
class Shift:
    """One scheduled shift of a rotation: [start, end) in UTC; `index` 0 is the first."""

    index: int
    start: datetime
    end: datetime
    person: Person


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
            _check_person(person, f"people[{i}]")
        if self.shift <= timedelta(0):
            raise ValueError(f"shift: must be positive, got {self.shift}")
        if not isinstance(self.handoff, time) or self.handoff.tzinfo is not None:
            raise ValueError(f"handoff: must be a local time without tzinfo, got {self.handoff!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        if isinstance(self.start_date, datetime) or not isinstance(self.start_date, date):
            raise ValueError(f"start_date: must be a date, got {self.start_date!r}")

    @property
    def wall_clock(self) -> bool:
        """True when shifts are whole days, counted in local days (handoff fixed locally)."""
        return self.shift % timedelta(days=1) == timedelta(0)

    def _start_of(self, index: int) -> datetime:
        tz = ZoneInfo(self.timezone)
        if self.wall_clock:
            day = self.start_date + index * self.shift
            return datetime.combine(day, self.handoff, tzinfo=tz).astimezone(UTC)
        first = datetime.combine(self.start_date, self.handoff, tzinfo=tz).astimezone(UTC)
        return first + index * self.shift

    def _index_at(self, at: datetime) -> int:
        if self.wall_clock:
            local_day = at.astimezone(ZoneInfo(self.timezone)).date()
            index = (local_day - self.start_date) // self.shift
        else:
            index = (at - self._start_of(0)) // self.shift
        # The estimate can be one off around the handoff time or a DST change.
        while self._start_of(index) > at:
            index -= 1
        while self._start_of(index + 1) <= at:
            index += 1
        return index


def shift_at(rotation: Rotation, at: datetime) -> Shift:
    """The scheduled shift containing `at` (overrides ignored); start <= at < end."""
    index = rotation._index_at(_utc(at, "at"))
    person = rotation.people[index % len(rotation.people)]
    return Shift(index, rotation._start_of(index), rotation._start_of(index + 1), person)


def who_is_on_call(rotation: Rotation, at: datetime) -> Person:
    """The person on call at `at`: the latest-starting covering override, else the shift.

    Boundaries are exact: at a handoff instant the incoming person is on call, and an
    override's end instant already belongs to the rotation again. Among overrides with
    the same start, the one listed last wins.
    """
    at = _utc(at, "at")
    overrides = enumerate(rotation.overrides)
    covering = [(o.start, i, o.person) for i, o in overrides if o.start <= at < o.end]
    return max(covering)[2] if covering else shift_at(rotation, at).person


def next_handoff(rotation: Rotation, at: datetime) -> datetime:
    """The next scheduled handoff strictly after `at` (UTC). Overrides do not move it."""
    return shift_at(rotation, at).end


# --- escalation chain -------------------------------------------------------------------


def _check_kind(kind: object, field: str) -> None:
    if kind not in get_args(LevelKind):
        raise ValueError(f"{field}: must be one of schedule, user, channel, got {kind!r}")


@dataclasses.dataclass(frozen=True)
class EscalationLevel:
    """One step of a chain: a schedule (by rotation name), a user, or a channel."""

    kind: LevelKind
    target: str

    def __post_init__(self) -> None:
        _check_kind(self.kind, "kind")
        _nonempty(self.target, "target")
        if self.kind == "user":
            _check_person(self.target, "target")
        elif self.kind == "channel" and not (
            _CHANNEL_ID.match(self.target) or _CHANNEL_NAME.match(self.target)
        ):
            raise ValueError(f"target: {self.target!r} is neither a channel id nor a channel name")


@dataclasses.dataclass(frozen=True)
class EscalationChain:
    """A team's chain, in order: primary schedule, secondary, then a manager or channel."""

    team: str
    levels: tuple[EscalationLevel, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        _nonempty(self.team, "team")
        if not self.levels:
            raise ValueError("levels: must not be empty")


def mention_for(kind: LevelKind, target: str) -> str:
    """How Slack text names a resolved target.

    User id -> `<@U123>`; email -> the email unchanged (the notifier resolves it);
    channel id -> `<#C123>`; channel name -> `#name`.
    """
    if kind == "channel":
        return f"<#{target}>" if _CHANNEL_ID.match(target) else "#" + target.removeprefix("#")
    return f"<@{target}>" if is_slack_user_id(target) else target


@dataclasses.dataclass(frozen=True)
class ResolvedLevel:
    """A level as it was when the ticket opened; for a schedule, `mention` is who was on call."""

    kind: LevelKind
    target: str
    mention: str

    def __post_init__(self) -> None:
        _check_kind(self.kind, "kind")
        _nonempty(self.target, "target")
        _nonempty(self.mention, "mention")

    @property
    def email(self) -> str | None:
        """The email still to resolve through users.lookupByEmail, or None if ready."""
        return self.mention if _EMAIL.match(self.mention) else None


@dataclasses.dataclass(frozen=True)
class ChainSnapshot:
    """The chain frozen at ticket open; later config changes never rewrite it."""

    levels: tuple[ResolvedLevel, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ValueError("levels: must not be empty")

    def to_json(self) -> dict[str, Any]:
        """A plain dict for a JSON column."""
        return {"levels": [dataclasses.asdict(level) for level in self.levels]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainSnapshot:
        """Rebuild a stored snapshot as stored; mentions are never re-resolved."""
        levels = data.get("levels") if isinstance(data, Mapping) else None
        if not isinstance(levels, list):
            raise ValueError("levels: expected a list")
        return cls(tuple(_level_from_json(i, item) for i, item in enumerate(levels)))


def _level_from_json(i: int, item: Any) -> ResolvedLevel:
    try:
        return ResolvedLevel(item["kind"], item["target"], item["mention"])
    except (KeyError, TypeError):
        raise ValueError(f"levels[{i}]: expected kind, target and mention") from None
    except ValueError as exc:
        raise ValueError(f"levels[{i}].{exc}") from None


def snapshot_chain(
    chain: EscalationChain, rotations: Mapping[str, Rotation], at: datetime
) -> ChainSnapshot:
    """Resolve every level at `at` (the ticket's open instant): schedules to their on-call."""
    at = _utc(at, "at")
    resolved = []
    for i, level in enumerate(chain.levels):
        target = level.target
        if level.kind == "schedule":
            if target not in rotations:
                raise ValueError(f"levels[{i}].target: unknown schedule {target!r}")
            mention = mention_for("user", who_is_on_call(rotations[target], at))
        else:
            mention = mention_for(level.kind, target)
        resolved.append(ResolvedLevel(level.kind, target, mention))
    return ChainSnapshot(tuple(resolved))


# --- escalation decision ----------------------------------------------------------------


class EscalationReason(enum.StrEnum):
    """Why a level is mentioned; values are stable names for logs and the timeline."""

    OPENED_PAGE_PRIMARY = "opened_page_primary"
    RESPONSE_WARNING_REMIND_PRIMARY = "response_warning_remind_primary"
    RESPONSE_BREACH_NEXT_LEVEL = "response_breach_next_level"
    RESPONSE_BREACH_SINGLE_LEVEL = "response_breach_single_level_repage_primary"
    RECOVERY_WARNING_REMIND_PRIMARY = "recovery_warning_remind_primary"
    RECOVERY_BREACH_NEXT_LEVEL = "recovery_breach_next_level"
    RECOVERY_BREACH_SINGLE_LEVEL = "recovery_breach_single_level_repage_primary"


@dataclasses.dataclass(frozen=True)
class EscalationStep:
    """Mention `snapshot.levels[level]` for `event`, because of `reason`."""

    event: EscalationEvent
    level: int
    reason: EscalationReason


_R = EscalationReason
# The policy, readable off one table: event -> (level, reason); a breach in a one-level
# chain falls back to level 0 with the reason in _SINGLE_LEVEL.
_POLICY: dict[str, tuple[int, EscalationReason]] = {
    "opened": (0, _R.OPENED_PAGE_PRIMARY),
    "response_warning": (0, _R.RESPONSE_WARNING_REMIND_PRIMARY),
    "response_breach": (1, _R.RESPONSE_BREACH_NEXT_LEVEL),
    "recovery_warning": (0, _R.RECOVERY_WARNING_REMIND_PRIMARY),
    "recovery_breach": (1, _R.RECOVERY_BREACH_NEXT_LEVEL),
}
_SINGLE_LEVEL = {
    "response_breach": _R.RESPONSE_BREACH_SINGLE_LEVEL,
    "recovery_breach": _R.RECOVERY_BREACH_SINGLE_LEVEL,
}
_STOPPED_BY_ACK = frozenset({"response_warning", "response_breach"})


def escalation_for(
    event: EscalationEvent, snapshot: ChainSnapshot, acknowledged: bool
) -> EscalationStep | None:
    """Which level to mention for a ticket event, or None when nobody needs pinging.

    Opened and both warnings go to level 0 (the primary). A breach goes to level 1, the
    level after the primary, who was the last one notified on that track (level 0 again
    in a one-level chain). An ack stops the response track only: recovery warnings and
    breaches escalate even after it. The recovery warning goes to the primary, not the
    acknowledger: the snapshot is what the ticket stores, and the acknowledger already
    follows the ticket's thread.
    """
    if event not in _POLICY:
        raise ValueError(f"event: unknown escalation event {event!r}")
    if acknowledged and event in _STOPPED_BY_ACK:
        return None
    level, reason = _POLICY[event]
    if level >= len(snapshot.levels):
        return EscalationStep(event, len(snapshot.levels) - 1, _SINGLE_LEVEL[event])
    return EscalationStep(event, level, reason)
