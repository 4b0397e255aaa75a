"""SLA policy, deadlines, and which deadline warnings and breaches are due.

Deadlines are computed once when a ticket opens and stored on it (a snapshot, like
Grafana OnCall's escalation snapshot): a later config reload never rewrites an open
ticket's SLA. Deciding which warnings and breaches to record is a pure function of the
stored deadlines, the ticket's acknowledgement/recovery instants and `now`, so the
deadline watcher stays a thin loop and every decision is testable with explicit time.

A deadline is met when the ack (or verified recovery) happens at or before it; hence
a breach becomes certain only strictly after the due instant, while a warning is due
as soon as its instant is reached.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import AbstractSet, Mapping

from slawatch.model import Priority
from slawatch.sla.business_time import BusinessCalendar, add_business_time, business_day_length

UTC = timezone.utc


class Clock(enum.StrEnum):
    """Which clock a target runs on: around the clock, or business hours only."""

    CALENDAR = "24x7"
    BUSINESS = "business"


@dataclass(frozen=True)
class Target:
    """One SLA window (respond within / recover within) and the clock it is measured on."""

    duration: timedelta
    clock: Clock = Clock.CALENDAR

    def __post_init__(self) -> None:
        object.__setattr__(self, "clock", Clock(self.clock))
        if self.duration <= timedelta(0):
            raise ValueError(f"duration: must be positive, got {self.duration}")


@dataclass(frozen=True)
class PriorityPolicy:
    """The SLA of one priority: response and recovery targets, verification, warning point.

    `warn_at` is the share of each window after which a warning is recorded;
    `target_attainment` is the share of tickets that must meet their deadlines in a month.
    """

    response: Target
    recovery: Target
    verification: timedelta = timedelta(minutes=5)
    warn_at: float = 0.8
    target_attainment: float = 0.95

    def __post_init__(self) -> None:
        if self.verification < timedelta(0):
            raise ValueError(f"verification: must not be negative, got {self.verification}")
        if not 0.0 < self.warn_at <= 1.0:
            raise ValueError(f"warn_at: must be in (0, 1], got {self.warn_at}")
        if not 0.0 < self.target_attainment <= 1.0:
            raise ValueError(f"target_attainment: must be in (0, 1], got {self.target_attainment}")


@dataclass(frozen=True)
class SlaPolicy:
    """The business calendar and one PriorityPolicy for every priority."""

    calendar: BusinessCalendar
    priorities: Mapping[Priority, PriorityPolicy] = field(hash=False)

    def __post_init__(self) -> None:
        missing = [p.value for p in Priority if p not in self.priorities]
        if missing:
            raise ValueError(f"priorities: missing policy for {', '.join(missing)}")
        # A read-only copy, so that a shared policy cannot be edited under a running job.
        object.__setattr__(self, "priorities", MappingProxyType(dict(self.priorities)))

    @classmethod
    def default(cls, calendar: BusinessCalendar | None = None) -> "SlaPolicy":
        """The design's table: P0 15m/2h, P1 30m/4h, P2 2h (24x7) / 1 business day."""
        cal = calendar if calendar is not None else BusinessCalendar()
        minutes = lambda n: Target(timedelta(minutes=n))  # noqa: E731
        return cls(
            calendar=cal,
            priorities={
                Priority.P0: PriorityPolicy(response=minutes(15), recovery=minutes(120)),
                Priority.P1: PriorityPolicy(response=minutes(30), recovery=minutes(240)),
                Priority.P2: PriorityPolicy(
                    response=minutes(120),
                    recovery=Target(business_day_length(cal), Clock.BUSINESS),
                ),
            },
        )


def deadline(policy: SlaPolicy, target: Target, opened_at: datetime) -> datetime:
    """When `target` is due for a ticket opened at `opened_at` (aware; returns UTC)."""
    return _elapse(policy, target.clock, _utc(opened_at, "opened_at"), target.duration)


def warning_instant(
    policy: SlaPolicy, target: Target, opened_at: datetime, *, warn_at: float = 0.8
) -> datetime:
    """When `warn_at` of the window has elapsed, measured on the target's own clock.

    `warn_at` lives on the PriorityPolicy, not the Target, so callers pass it;
    compute_deadlines does.
    """
    if not 0.0 < warn_at <= 1.0:
        raise ValueError(f"warn_at: must be in (0, 1], got {warn_at}")
    return _elapse(policy, target.clock, _utc(opened_at, "opened_at"), target.duration * warn_at)


class DeadlineKind(enum.StrEnum):
    """The two deadlines of a ticket."""

    RESPONSE = "response"
    RECOVERY = "recovery"


class DeadlineEventKind(enum.StrEnum):
    """Timeline events the deadline watcher records (values are the event names)."""

    WARNING = "deadline_warning"
    BREACH = "deadline_breached"


@dataclass(frozen=True)
class Deadlines:
    """What a ticket stores at open time: due and warning instants, all aware UTC."""

    response_due: datetime
    recovery_due: datetime
    response_warn_at: datetime
    recovery_warn_at: datetime

    def __post_init__(self) -> None:
        for name in ("response_due", "recovery_due", "response_warn_at", "recovery_warn_at"):
            object.__setattr__(self, name, _utc(getattr(self, name), name))
        for kind in DeadlineKind:
            if self.warn_for(kind) > self.due_for(kind):
                raise ValueError(f"{kind.value}_warn_at: must not be after {kind.value}_due")

    def due_for(self, kind: DeadlineKind) -> datetime:
        return self.response_due if kind is DeadlineKind.RESPONSE else self.recovery_due

    def warn_for(self, kind: DeadlineKind) -> datetime:
        return self.response_warn_at if kind is DeadlineKind.RESPONSE else self.recovery_warn_at


def compute_deadlines(policy: SlaPolicy, priority: Priority, opened_at: datetime) -> Deadlines:
    """The deadline snapshot for a ticket of `priority` opened at `opened_at`."""
    rules = policy.priorities[Priority(priority)]
    return Deadlines(
        response_due=deadline(policy, rules.response, opened_at),
        recovery_due=deadline(policy, rules.recovery, opened_at),
        response_warn_at=warning_instant(policy, rules.response, opened_at, warn_at=rules.warn_at),
        recovery_warn_at=warning_instant(policy, rules.recovery, opened_at, warn_at=rules.warn_at),
    )


DeadlineEvent = tuple[DeadlineKind, DeadlineEventKind, datetime]


def due_deadline_events(
    deadlines: Deadlines,
    acknowledged_at: datetime | None,
    recovered_at_final: datetime | None,
    already: AbstractSet[tuple[DeadlineKind, DeadlineEventKind]],
    now: datetime,
) -> list[DeadlineEvent]:
    """Warnings and breaches due at `now` that `already` does not hold, oldest first.

    A response event is suppressed when the ticket was acknowledged at or before its
    instant; a recovery event when the verified recovery (first clear time) was. A
    due breach implies its warning, and a warning is never recorded after its own
    breach, so each is recorded exactly once and the warning comes first. Each event
    carries the instant it became due, not `now`.
    """
    now = _utc(now, "now")
    done = {
        DeadlineKind.RESPONSE: _opt_utc(acknowledged_at, "acknowledged_at"),
        DeadlineKind.RECOVERY: _opt_utc(recovered_at_final, "recovered_at_final"),
    }
    events: list[DeadlineEvent] = []
    for kind in DeadlineKind:
        warn, due = deadlines.warn_for(kind), deadlines.due_for(kind)
        breached = now > due and not _done_by(done[kind], due)
        warned = breached or (now >= warn and not _done_by(done[kind], warn))
        has_breach = (kind, DeadlineEventKind.BREACH) in already
        if warned and not has_breach and (kind, DeadlineEventKind.WARNING) not in already:
            events.append((kind, DeadlineEventKind.WARNING, warn))
        if breached and not has_breach:
            events.append((kind, DeadlineEventKind.BREACH, due))
    # Stable sort by instant keeps each kind's warning before its breach (warn <= due).
    return sorted(events, key=lambda event: event[2])


def response_met(
    deadlines: Deadlines, acknowledged_at: datetime | None, now: datetime
) -> bool | None:
    """True if acknowledged by the due instant, False once it was missed, else None."""
    ack = _opt_utc(acknowledged_at, "acknowledged_at")
    return _met(deadlines.response_due, ack, _utc(now, "now"))


def recovery_met(
    deadlines: Deadlines, recovered_at: datetime | None, resolved: bool, now: datetime
) -> bool | None:
    """True if the verified recovery began by the due instant, False once missed, else None.

    `recovered_at` is the first clear time; it only counts as final when `resolved`.
    While verification is pending a clear before the due instant leaves the outcome
    open (a flap would move it); a pending clear after it cannot turn into a success.
    A resolved ticket without `recovered_at` is judged like an open one.
    """
    due, now = deadlines.recovery_due, _utc(now, "now")
    clear = _opt_utc(recovered_at, "recovered_at")
    if resolved and clear is not None:
        return clear <= due
    if now > due and not _done_by(clear, due):
        return False
    return None


def _met(due: datetime, done_at: datetime | None, now: datetime) -> bool | None:
    if done_at is not None:
        return done_at <= due
    return False if now > due else None


def _done_by(done_at: datetime | None, instant: datetime) -> bool:
    return done_at is not None and done_at <= instant


def _elapse(policy: SlaPolicy, clock: Clock, start: datetime, amount: timedelta) -> datetime:
    """`amount` after `start` on `clock`; calendar time is added in UTC (real time, DST-safe)."""
    if clock is Clock.BUSINESS:
        return add_business_time(policy.calendar, start, amount)
    return start + amount


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: datetime must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)


def _opt_utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else _utc(value, name)
