"""Escalation policies, frozen on a ticket at open, and which of their steps are due. Pure.

A policy is an ordered list of steps, each notifying a schedule's on-call, a user or a
channel (PagerDuty's escalation rules, Grafana OnCall's chain):

- the first step is notified when the ticket opens;
- a step with `after` is notified once the ticket has gone that long unacknowledged,
  counted from the opening (from the start of the pass when repeating), unless the walk
  already went past it;
- the SLA moves the walk too: a deadline warning reminds the current step, a breach
  notifies the next one. Acknowledgement stops the response track (the `after` steps,
  the response warning and breach); the recovery track (its warning and breach) goes
  on from wherever the walk stands, never back down;
- `repeat: N` walks the steps N more times: a new pass starts from the first step when
  the last step (if it has an `after`) has had as long as the first one had (the first
  `after`), or when a breach moves past the last step. Past the end, a breach notifies
  the last step again.

The policy is frozen with the rotations it names (a config edit never rewrites a running
incident), but who is on call is looked up when a step fires, so a handoff changes who
gets the next step. A schedule with nobody on call at that instant (before its
`start_date`) falls through to the next step, and the step says so (`skipped`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence, get_args

from slawatch.oncall import (
    LevelKind,
    Person,
    Rotation,
    check_channel,
    check_person,
    mention_for,
    rotation_from_json,
    rotation_to_json,
    who_is_on_call,
)
from slawatch.sla.deadlines import DeadlineEventKind, DeadlineKind

__all__ = [
    "RESPONSE_TRACK", "DueStep", "Notified", "Policy", "Progress", "Reason", "Skipped", "Step", "Trigger", "Walk",
    "deadline_trigger", "due_steps", "policy_problems", "reach", "stored_policy",
]

UTC = timezone.utc


@dataclasses.dataclass(frozen=True)
class Step:
    """Notify `target` (a schedule name, a user, a channel) after `after` without
    acknowledgement; `after` None: at open for the first step, else only at a breach."""

    kind: LevelKind
    target: str
    after: timedelta | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(LevelKind):
            raise ValueError(f"kind: must be one of schedule, user, channel, got {self.kind!r}")
        if not isinstance(self.target, str) or not self.target:
            raise ValueError("target: must not be empty")
        try:
            if self.kind == "user":
                check_person(self.target)
            elif self.kind == "channel":
                check_channel(self.target)
        except ValueError as exc:
            raise ValueError(f"target: {exc}") from None
        if self.after is not None and self.after <= timedelta(0):
            raise ValueError(f"after: must be positive, got {self.after}")


@dataclasses.dataclass(frozen=True)
class Policy:
    """A team's steps, how often to walk them again, and the rotations they name."""

    team: str
    steps: tuple[Step, ...]
    repeat: int = 0
    schedules: Mapping[str, Rotation] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "schedules", MappingProxyType(dict(self.schedules)))
        for problem in policy_problems(self.steps, self.repeat, self.schedules):
            raise ValueError(problem[1] if not problem[0] else f"{_path(problem[0])}: {problem[1]}")

    @property
    def positions(self) -> int:
        """Length of the whole walk: every step, once per pass."""
        return len(self.steps) * (self.repeat + 1)

    @property
    def pass_length(self) -> timedelta | None:
        """How long one timed pass lasts: the last step's `after` plus the first delay
        (the last step gets as long as the first); None when the last step is untimed."""
        last = self.steps[-1].after
        if last is None:
            return None
        first = next(s.after for s in self.steps if s.after is not None)
        return last + first

    def offset_of(self, position: int) -> timedelta | None:
        """When position `position` of the walk is due after the opening; None: untimed."""
        cycle, level = divmod(position, len(self.steps))
        if cycle and self.pass_length is None:
            return None
        start = cycle * (self.pass_length or timedelta(0))
        if level == 0:
            return start if cycle else None
        after = self.steps[level].after
        return None if after is None else start + after

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the ticket's `escalation` JSON column."""
        return {
            "version": 2,
            "team": self.team,
            "steps": [
                {"kind": s.kind, "target": s.target,
                 **({"after_seconds": s.after.total_seconds()} if s.after is not None else {})}
                for s in self.steps
            ],
            "repeat": self.repeat,
            "schedules": {name: rotation_to_json(r) for name, r in self.schedules.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        """Rebuild a stored snapshot; a snapshot from before policies (`levels` with their
        mentions resolved at open) becomes untimed steps naming those same people."""
        if not isinstance(data, Mapping):
            raise ValueError("expected an object")
        if "steps" not in data and isinstance(data.get("levels"), list):
            return _from_levels(data["levels"])
        try:
            steps = tuple(
                Step(s["kind"], s["target"], timedelta(seconds=s["after_seconds"]) if "after_seconds" in s else None)
                for s in data["steps"]
            )
            schedules = {name: rotation_from_json(r) for name, r in data.get("schedules", {}).items()}
            return cls(str(data.get("team", "")), steps, int(data.get("repeat", 0)), schedules)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"steps: expected kind and target ({exc})") from None


def stored_policy(text: str | None) -> Policy | None:
    """The policy in a ticket's `escalation` column; None when there is none, or when it
    cannot be read (a ticket's escalation is then off, it does not stop the others)."""
    if not text:
        return None
    try:
        return Policy.from_json(json.loads(text))
    except ValueError:
        return None


def _from_levels(levels: list[Any]) -> Policy:
    steps = []
    for i, level in enumerate(levels):
        try:
            kind, target, mention = level["kind"], level["target"], level["mention"]
        except (KeyError, TypeError):
            raise ValueError(f"levels[{i}]: expected kind, target and mention") from None
        if kind == "channel":
            steps.append(Step("channel", target))
        else:  # the person frozen at open: `<@U123>` or an email
            steps.append(Step("user", str(mention).removeprefix("<@").removesuffix(">")))
    return Policy("", tuple(steps))


def _path(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def policy_problems(
    steps: Sequence[Step], repeat: int, schedules: Mapping[str, object]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """What is wrong with a policy, as (path, message); shared with the config's checks."""
    if not steps:
        yield ("steps",), "must not be empty (write `none` to page nobody on purpose)"
        return
    if not isinstance(repeat, int) or repeat < 0:
        yield ("repeat",), f"must be a whole number >= 0, got {repeat!r}"
    if steps[0].after is not None:
        yield ("steps", 0, "after"), "the first step is notified when the ticket opens; it takes no `after`"
    previous: timedelta | None = None
    for i, step in enumerate(steps):
        if step.kind == "schedule" and step.target not in schedules:
            known = ", ".join(sorted(schedules)) or "none"
            yield ("steps", i, "schedule"), f"unknown schedule {step.target!r} (known: {known})"
        if i and step.after is not None:
            if previous is not None and step.after <= previous:
                yield ("steps", i, "after"), "must be longer than the `after` of the timed step before it"
            previous = step.after


# --- who a step reaches ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Notified:
    """Who a step reached: for a schedule, the person on call then; a user; a channel."""

    kind: LevelKind
    target: str
    person: Person | None = None

    @property
    def mention(self) -> str:
        if self.kind == "channel" or self.person is None:
            return mention_for("channel", self.target)
        return mention_for("user", self.person)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A schedule step passed over because nobody was on call (until `until`)."""

    level: int
    schedule: str
    until: datetime


def reach(policy: Policy, level: int, at: datetime) -> tuple[int, Notified | None, tuple[Skipped, ...]]:
    """Who step `level` reaches at `at`, falling through schedules with nobody on call.

    Returns the level actually notified, who, and the steps skipped; (level, None, ...)
    when every step from `level` on is a schedule with nobody on call.
    """
    skipped: list[Skipped] = []
    for index in range(level, len(policy.steps)):
        step = policy.steps[index]
        if step.kind != "schedule":
            person = step.target if step.kind == "user" else None
            return index, Notified(step.kind, step.target, person), tuple(skipped)
        who = who_is_on_call(policy.schedules[step.target], at)
        if who:
            return index, Notified("schedule", step.target, who), tuple(skipped)
        skipped.append(Skipped(index, step.target, who.starts_at))  # type: ignore[union-attr]
    return level, None, tuple(skipped)


# --- which steps are due --------------------------------------------------------------------


class Trigger(enum.StrEnum):
    """What makes a step due."""

    OPENED = "opened"
    AFTER = "after"  # a step's `after` passed without acknowledgement
    RESPONSE_WARNING = "response_warning"
    RESPONSE_BREACH = "response_breach"
    RECOVERY_WARNING = "recovery_warning"
    RECOVERY_BREACH = "recovery_breach"


_DEADLINE_TRIGGERS = {
    (DeadlineKind.RESPONSE, DeadlineEventKind.WARNING): Trigger.RESPONSE_WARNING,
    (DeadlineKind.RESPONSE, DeadlineEventKind.BREACH): Trigger.RESPONSE_BREACH,
    (DeadlineKind.RECOVERY, DeadlineEventKind.WARNING): Trigger.RECOVERY_WARNING,
    (DeadlineKind.RECOVERY, DeadlineEventKind.BREACH): Trigger.RECOVERY_BREACH,
}


def deadline_trigger(deadline: DeadlineKind, kind: DeadlineEventKind) -> Trigger:
    """The trigger a deadline warning or breach is."""
    return _DEADLINE_TRIGGERS[(DeadlineKind(deadline), DeadlineEventKind(kind))]


RESPONSE_TRACK = frozenset({Trigger.AFTER, Trigger.RESPONSE_WARNING, Trigger.RESPONSE_BREACH})
"""Stopped by an acknowledgement."""
# Same instant: remind before moving on, and a breach before an `after` it makes moot.
_RANK = {Trigger.OPENED: 0, Trigger.RESPONSE_WARNING: 1, Trigger.RECOVERY_WARNING: 2,
         Trigger.RESPONSE_BREACH: 3, Trigger.RECOVERY_BREACH: 4, Trigger.AFTER: 5}


class Reason(enum.StrEnum):
    """Why a step was notified; stable names for logs, the timeline and templates."""

    OPENED = "opened_page_first_step"
    NOT_ACKNOWLEDGED_NEXT_STEP = "not_acknowledged_in_time_next_step"
    NOT_ACKNOWLEDGED_REPEAT = "not_acknowledged_in_time_repeat_from_first_step"
    RESPONSE_WARNING_REMIND = "response_warning_remind_current_step"
    RESPONSE_BREACH_NEXT_STEP = "response_breach_next_step"
    RESPONSE_BREACH_REPEAT = "response_breach_repeat_from_first_step"
    RESPONSE_BREACH_EXHAUSTED = "response_breach_chain_exhausted_repage_last_step"
    RECOVERY_WARNING_REMIND = "recovery_warning_remind_current_step"
    RECOVERY_BREACH_NEXT_STEP = "recovery_breach_next_step"
    RECOVERY_BREACH_REPEAT = "recovery_breach_repeat_from_first_step"
    RECOVERY_BREACH_EXHAUSTED = "recovery_breach_chain_exhausted_repage_last_step"


_R = Reason
# trigger -> reason when it moves to the next step / starts a new pass / is past the end
_MOVES: dict[Trigger, tuple[Reason, Reason, Reason]] = {
    Trigger.AFTER: (_R.NOT_ACKNOWLEDGED_NEXT_STEP, _R.NOT_ACKNOWLEDGED_REPEAT, _R.NOT_ACKNOWLEDGED_NEXT_STEP),
    Trigger.RESPONSE_BREACH: (_R.RESPONSE_BREACH_NEXT_STEP, _R.RESPONSE_BREACH_REPEAT, _R.RESPONSE_BREACH_EXHAUSTED),
    Trigger.RECOVERY_BREACH: (_R.RECOVERY_BREACH_NEXT_STEP, _R.RECOVERY_BREACH_REPEAT, _R.RECOVERY_BREACH_EXHAUSTED),
}
_REMINDS = {Trigger.RESPONSE_WARNING: _R.RESPONSE_WARNING_REMIND, Trigger.RECOVERY_WARNING: _R.RECOVERY_WARNING_REMIND}


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the ticket's timeline already holds: the furthest position reached (-1: none)
    and the keys of the steps recorded."""

    position: int = -1
    done: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class DueStep:
    """One step to record: `trigger` made position `position` due at `at`.

    `level` indexes the policy's steps (after any fall-through), `cycle` counts passes
    (0: the first walk). `key` is unique per ticket: the timeline's dedup key ends in it.
    """

    key: str
    trigger: Trigger
    at: datetime
    position: int
    level: int
    cycle: int
    reason: Reason
    notified: Notified | None
    skipped: tuple[Skipped, ...] = ()

    def detail(self, policy: Policy) -> dict[str, Any]:
        """The timeline event's detail: plain JSON."""
        step = policy.steps[self.level]
        return {
            "key": self.key, "trigger": self.trigger.value, "reason": self.reason.value,
            "level": self.level, "steps": len(policy.steps), "cycle": self.cycle, "position": self.position,
            "target": {"kind": step.kind, "name": step.target},
            "notified": None if self.notified is None else {
                "kind": self.notified.kind, "target": self.notified.target, "person": self.notified.person,
                "mention": self.notified.mention,
            },
            "skipped": [{"level": s.level, "schedule": s.schedule, "until": s.until.isoformat()} for s in self.skipped],
        }


@dataclasses.dataclass(frozen=True)
class Walk:
    """The steps due now, oldest first, and when to look again for an `after` step."""

    steps: tuple[DueStep, ...]
    next_at: datetime | None


def due_steps(
    policy: Policy,
    opened_at: datetime,
    acknowledged_at: datetime | None,
    sla: Sequence[tuple[Trigger, datetime]],
    progress: Progress,
    now: datetime,
) -> Walk:
    """The steps that became due by `now` and are not in `progress` yet.

    `sla` lists the deadline warnings and breaches being recorded now, with the instants
    they became due. A response-track trigger at or after the acknowledgement is moot.
    Each step carries the instant it became due, and who it reached at that instant.
    """
    candidates: list[tuple[datetime, int, int, Trigger]] = []  # (at, rank, position, trigger)
    if Trigger.OPENED.value not in progress.done:
        candidates.append((opened_at, _RANK[Trigger.OPENED], 0, Trigger.OPENED))
    for trigger, at in sla:
        if trigger.value not in progress.done and at <= now:
            candidates.append((at, _RANK[trigger], -1, trigger))
    for position in range(max(progress.position, 0) + 1, policy.positions):
        at = _instant(policy, opened_at, position)
        if at is not None and at <= now:
            candidates.append((at, _RANK[Trigger.AFTER], position, Trigger.AFTER))
    position, due = progress.position, []
    for at, _, slot, trigger in sorted(candidates, key=lambda c: c[:3]):
        if trigger in RESPONSE_TRACK and acknowledged_at is not None and acknowledged_at <= at:
            continue
        if trigger is Trigger.AFTER and slot <= position:
            continue  # the walk is already there (a breach moved it)
        step = _step(policy, trigger, at, position, slot)
        position = max(position, step.position)
        due.append(step)
    return Walk(tuple(due), _next_at(policy, opened_at, acknowledged_at, position, now))


def _instant(policy: Policy, opened_at: datetime, position: int) -> datetime | None:
    offset = policy.offset_of(position)
    return None if offset is None else opened_at + offset


def _step(policy: Policy, trigger: Trigger, at: datetime, position: int, slot: int) -> DueStep:
    """Where `trigger` takes a walk standing at `position`, and whom it reaches."""
    last = policy.positions - 1
    if trigger is Trigger.OPENED:
        target, reason, key = 0, _R.OPENED, trigger.value
    elif trigger in _REMINDS:
        target, reason, key = max(position, 0), _REMINDS[trigger], trigger.value
    else:
        target = slot if trigger is Trigger.AFTER else position + 1
        key = f"after:{slot}" if trigger is Trigger.AFTER else trigger.value
        moves = _MOVES[trigger]
        if target > last:
            target, reason = last, moves[2]
        else:
            reason = moves[1] if target % len(policy.steps) == 0 else moves[0]
    cycle, level = divmod(target, len(policy.steps))
    level, notified, skipped = reach(policy, level, at)
    return DueStep(key, trigger, at, cycle * len(policy.steps) + level, level, cycle, reason, notified, skipped)


def _next_at(
    policy: Policy, opened_at: datetime, acknowledged_at: datetime | None, position: int, now: datetime
) -> datetime | None:
    if acknowledged_at is not None:
        return None  # acknowledgement stops the `after` steps
    upcoming = (_instant(policy, opened_at, p) for p in range(max(position, 0) + 1, policy.positions))
    return min((at for at in upcoming if at is not None and at > now), default=None)
