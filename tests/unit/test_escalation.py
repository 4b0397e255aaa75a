"""Escalation policies walked with explicit time: `after` delays, SLA warnings and breaches,
repeats, acknowledgement, handoffs and schedules that have not started.

`watch` plays the deadline watcher: at each instant it asks `sla.deadlines` which warnings
and breaches are due and `escalation.due_steps` which steps are, and keeps the progress
the timeline would hold. A P0 ticket opened at T0 (default SLA): response warning T0+12m,
breach T0+15m; recovery warning T0+96m, breach T0+2h.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pytest

from slawatch.escalation import (
    Notified,
    Policy,
    Progress,
    Reason,
    Skipped,
    Step,
    Trigger,
    deadline_trigger,
    due_steps,
    reach,
    stored_policy,
)
from slawatch.model import Priority
from slawatch.oncall import Override, Rotation
from slawatch.sla.deadlines import SlaPolicy, compute_deadlines, due_deadline_events

UTC = timezone.utc
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday, 10:00 CEST
M = timedelta(minutes=1)
ALICE, BOB, DAVE, ERIN = "UALICE01", "UBOB0002", "UDAVE003", "UERIN004"
LEADS = "C04LEADS"
R = Reason


def minutes(m: float) -> datetime:
    return T0 + m * M


def weekly(name: str, *people: str, start: date = date(2026, 5, 25), **changes) -> Rotation:
    fields = dict(shift=timedelta(days=7), handoff=time(9), timezone="UTC", start_date=start)
    return Rotation(name, people, **{**fields, **changes})


SCHEDULES = {"primary": weekly("primary", ALICE), "secondary": weekly("secondary", DAVE)}
THREE_STEPS = Policy("platform", (
    Step("schedule", "primary"),
    Step("schedule", "secondary", after=10 * M),
    Step("channel", LEADS, after=20 * M),
), repeat=1, schedules=SCHEDULES)
README_CHAIN = Policy("platform", (
    Step("schedule", "primary"), Step("schedule", "secondary"), Step("channel", LEADS),
), schedules=SCHEDULES)


@dataclass(frozen=True)
class Paged:
    """One recorded step, as a table row: minute, trigger, step number (1-based), pass, reason, whom."""

    minute: float
    trigger: Trigger
    step: int
    cycle: int
    reason: Reason
    who: str | None


def watch(
    policy: Policy,
    at: list[datetime],
    ack: datetime | None = None,
    recovered: datetime | None = None,
    opened: datetime = T0,
    priority: Priority = Priority.P0,
) -> list[Paged]:
    """Run the watcher's decisions at each instant of `at`; what it would record, in order."""
    deadlines = compute_deadlines(SlaPolicy.default(), priority, opened)
    recorded: set = set()
    progress = Progress()
    out = []
    for now in at:
        known_ack = ack if ack is not None and ack <= now else None
        known_recovery = recovered if recovered is not None and recovered <= now else None
        events = due_deadline_events(deadlines, known_ack, known_recovery, recorded, now)
        recorded |= {(kind, event) for kind, event, _ in events}
        sla = [(deadline_trigger(kind, event), instant) for kind, event, instant in events]
        walk = due_steps(policy, opened, known_ack, sla, progress, now)
        for s in walk.steps:
            who = None if s.notified is None else (s.notified.person or s.notified.target)
            out.append(Paged((s.at - opened) / M, s.trigger, s.level + 1, s.cycle, s.reason, who))
        progress = Progress(
            max([progress.position, *(s.position for s in walk.steps)]), progress.done | {s.key for s in walk.steps}
        )
    return out


EVERY_MINUTE = [minutes(m) for m in range(0, 181)]
A, W, B = Trigger.AFTER, Trigger.RESPONSE_WARNING, Trigger.RESPONSE_BREACH
RW, RB, OP = Trigger.RECOVERY_WARNING, Trigger.RECOVERY_BREACH, Trigger.OPENED


def test_unacknowledged_ticket_walks_three_steps_repeats_and_ends_on_the_last():
    """`after` steps at 10m and 20m, the warning reminds whoever the walk stands at, the
    breach moves on (so the 20m step is moot), the repeat starts over after 30m (the last
    step gets as long as the first had), and past the end a breach pages the last step."""
    assert watch(THREE_STEPS, EVERY_MINUTE) == [
        Paged(0, OP, 1, 0, R.OPENED, ALICE),
        Paged(10, A, 2, 0, R.NOT_ACKNOWLEDGED_NEXT_STEP, DAVE),
        Paged(12, W, 2, 0, R.RESPONSE_WARNING_REMIND, DAVE),
        Paged(15, B, 3, 0, R.RESPONSE_BREACH_NEXT_STEP, LEADS),
        Paged(30, A, 1, 1, R.NOT_ACKNOWLEDGED_REPEAT, ALICE),
        Paged(40, A, 2, 1, R.NOT_ACKNOWLEDGED_NEXT_STEP, DAVE),
        Paged(50, A, 3, 1, R.NOT_ACKNOWLEDGED_NEXT_STEP, LEADS),
        Paged(96, RW, 3, 1, R.RECOVERY_WARNING_REMIND, LEADS),
        Paged(120, RB, 3, 1, R.RECOVERY_BREACH_EXHAUSTED, LEADS),
    ]


def test_acknowledgement_in_the_middle_stops_the_response_track_and_recovery_goes_on_from_there():
    """Acked at 13m, after step 2 and the warning: no breach, no more `after` steps; the
    recovery warning reminds step 2 and the recovery breach moves on to step 3."""
    assert watch(THREE_STEPS, EVERY_MINUTE, ack=minutes(13)) == [
        Paged(0, OP, 1, 0, R.OPENED, ALICE),
        Paged(10, A, 2, 0, R.NOT_ACKNOWLEDGED_NEXT_STEP, DAVE),
        Paged(12, W, 2, 0, R.RESPONSE_WARNING_REMIND, DAVE),
        Paged(96, RW, 2, 0, R.RECOVERY_WARNING_REMIND, DAVE),
        Paged(120, RB, 3, 0, R.RECOVERY_BREACH_NEXT_STEP, LEADS),
    ]


def test_acknowledgement_at_the_instant_a_step_is_due_makes_it_moot():
    assert [p.minute for p in watch(THREE_STEPS, EVERY_MINUTE, ack=minutes(10))] == [0, 96, 120]


def test_the_readme_chain_without_delays_reaches_its_channel():
    """`[{schedule: primary}, {schedule: secondary}, {channel: C04LEADS}]`: the response
    breach pages the secondary, the recovery breach goes on to C04LEADS (it used to page
    the secondary twice and never reach the channel)."""
    assert watch(README_CHAIN, EVERY_MINUTE) == [
        Paged(0, OP, 1, 0, R.OPENED, ALICE),
        Paged(12, W, 1, 0, R.RESPONSE_WARNING_REMIND, ALICE),
        Paged(15, B, 2, 0, R.RESPONSE_BREACH_NEXT_STEP, DAVE),
        Paged(96, RW, 2, 0, R.RECOVERY_WARNING_REMIND, DAVE),
        Paged(120, RB, 3, 0, R.RECOVERY_BREACH_NEXT_STEP, LEADS),
    ]


def test_the_readme_chain_acknowledged_escalates_recovery_to_the_next_step_only():
    assert [(p.minute, p.step, p.who) for p in watch(README_CHAIN, EVERY_MINUTE, ack=minutes(5))] == [
        (0, 1, ALICE), (96, 1, ALICE), (120, 2, DAVE),
    ]


def test_a_single_step_chain_pages_its_step_again_at_each_breach():
    solo = Policy("t", (Step("user", BOB),))
    assert [(p.minute, p.reason) for p in watch(solo, EVERY_MINUTE) if p.trigger in (B, RB)] == [
        (15, R.RESPONSE_BREACH_EXHAUSTED), (120, R.RECOVERY_BREACH_EXHAUSTED),
    ]


def test_breaches_past_the_last_step_start_over_when_repeating_without_delays():
    looped = Policy("t", (Step("user", ALICE), Step("user", BOB)), repeat=1)
    assert [(p.minute, p.step, p.cycle, p.reason) for p in watch(looped, EVERY_MINUTE) if p.trigger in (B, RB)] == [
        (15, 2, 0, R.RESPONSE_BREACH_NEXT_STEP), (120, 1, 1, R.RECOVERY_BREACH_REPEAT),
    ]


def test_a_late_watcher_records_every_step_at_the_instant_it_became_due():
    """One look at 60m after a stall: the same steps, stamped when each became due."""
    late = watch(THREE_STEPS, [minutes(60)])
    assert late == [p for p in watch(THREE_STEPS, EVERY_MINUTE) if p.minute <= 60]


def test_repeated_looks_record_each_step_once():
    twice = [minutes(m) for m in range(0, 181) for _ in range(2)]
    assert watch(THREE_STEPS, twice) == watch(THREE_STEPS, EVERY_MINUTE)


def test_a_step_without_after_in_a_timed_policy_waits_for_a_breach():
    mixed = Policy("t", (Step("user", ALICE), Step("user", BOB, after=5 * M), Step("channel", LEADS)))
    assert [(p.minute, p.step, p.trigger) for p in watch(mixed, EVERY_MINUTE)[:4]] == [
        (0, 1, OP), (5, 2, A), (12, 2, W), (15, 3, B),
    ]


# -- when to look again ---------------------------------------------------------------------


@pytest.mark.parametrize("position, ack, now, expected", [
    pytest.param(-1, None, T0, minutes(10), id="after-opening-the-second-step"),
    pytest.param(1, None, minutes(10), minutes(20), id="after-the-second-the-third"),
    pytest.param(2, None, minutes(15), minutes(30), id="after-a-breach-to-the-third-the-repeat"),
    pytest.param(5, None, minutes(50), None, id="nothing-after-the-last-pass"),
    pytest.param(1, minutes(13), minutes(13), None, id="nothing-once-acknowledged"),
])
def test_next_at_is_the_next_after_step_not_yet_reached(position, ack, now, expected):
    done = frozenset({"opened"}) if position >= 0 else frozenset()
    walk = due_steps(THREE_STEPS, T0, ack, [], Progress(position, done), now)
    assert walk.next_at == expected


# -- who a step reaches: at the instant it fires --------------------------------------------


def test_a_handoff_between_opening_and_breach_pages_the_new_person():
    """Daily rotations handing off at 09:00 UTC: opened at 08:50, the opening pages the
    outgoing primary; the warning at 09:02 reminds the incoming one, and the breach at
    09:05 pages the secondary who took over at 09:00, not the one on call at the opening."""
    daily = {
        "primary": weekly("primary", ALICE, BOB, shift=timedelta(days=1)),
        "secondary": weekly("secondary", DAVE, ERIN, shift=timedelta(days=1)),
    }
    policy = Policy("platform", (Step("schedule", "primary"), Step("schedule", "secondary")), schedules=daily)
    opened = datetime(2026, 6, 1, 8, 50, tzinfo=UTC)  # day 7 of the rotations: ALICE/DAVE until 09:00
    steps = watch(policy, [opened + m * M for m in range(0, 20)], opened=opened)
    assert [(p.minute, p.trigger, p.who) for p in steps] == [(0, OP, ALICE), (12, W, BOB), (15, B, ERIN)]


def test_an_override_that_starts_after_the_opening_gets_the_next_step():
    covered = {**SCHEDULES, "secondary": weekly("secondary", DAVE, overrides=(Override(minutes(14), minutes(60), ERIN),))}
    policy = Policy("platform", README_CHAIN.steps, schedules=covered)
    breach = next(p for p in watch(policy, EVERY_MINUTE) if p.trigger is B)
    assert (breach.step, breach.who) == (2, ERIN)


def test_before_start_date_a_schedule_has_nobody_and_the_step_falls_through():
    """The primary starts on 1 July: its step passes to the secondary, which is where the
    walk then stands, so the breach goes past it (the last step, paged again)."""
    later = {**SCHEDULES, "primary": weekly("primary", ALICE, start=date(2026, 7, 1))}
    policy = Policy("platform", (Step("schedule", "primary"), Step("schedule", "secondary")), schedules=later)
    walk = due_steps(policy, T0, None, [], Progress(), T0)
    (opened,) = walk.steps
    assert (opened.level, opened.position, opened.notified) == (1, 1, Notified("schedule", "secondary", DAVE))
    assert opened.skipped == (Skipped(0, "primary", datetime(2026, 7, 1, 9, tzinfo=UTC)),)
    detail = opened.detail(policy)
    assert detail["skipped"] == [{"level": 0, "schedule": "primary", "until": "2026-07-01T09:00:00+00:00"}]
    assert detail["target"] == {"kind": "schedule", "name": "secondary"}
    assert [(p.minute, p.step, p.reason) for p in watch(policy, EVERY_MINUTE) if p.trigger is B] == [
        (15, 2, R.RESPONSE_BREACH_EXHAUSTED)]


def test_reach_with_nobody_on_call_anywhere_reaches_nobody_and_says_who_was_skipped():
    later = {"primary": weekly("primary", ALICE, start=date(2026, 7, 1)),
             "secondary": weekly("secondary", DAVE, start=date(2026, 8, 3))}
    policy = Policy("platform", (Step("schedule", "primary"), Step("schedule", "secondary")), schedules=later)
    level, notified, skipped = reach(policy, 0, T0)
    assert (level, notified, [s.schedule for s in skipped]) == (0, None, ["primary", "secondary"])


def test_notified_mentions_users_and_channels_as_slack_text():
    assert Notified("schedule", "primary", ALICE).mention == f"<@{ALICE}>"
    assert Notified("user", "boss@example.com", "boss@example.com").mention == "boss@example.com"
    assert Notified("channel", LEADS).mention == f"<#{LEADS}>"
    assert Notified("channel", "#sre-leads").mention == "#sre-leads"


# -- frozen on the ticket ---------------------------------------------------------------------


def test_the_policy_is_frozen_with_its_rotations_not_its_people():
    stored = json.loads(json.dumps(THREE_STEPS.to_json()))
    assert Policy.from_json(stored) == THREE_STEPS
    assert stored["steps"][1] == {"kind": "schedule", "target": "secondary", "after_seconds": 600.0}
    assert set(stored["schedules"]) == {"primary", "secondary"} and "mention" not in json.dumps(stored)


def test_a_snapshot_from_before_policies_still_loads_with_the_people_frozen_then():
    old = {"levels": [
        {"kind": "schedule", "target": "primary", "mention": f"<@{BOB}>"},
        {"kind": "schedule", "target": "secondary", "mention": "erin@example.com"},
        {"kind": "channel", "target": LEADS, "mention": f"<#{LEADS}>"},
    ]}
    policy = Policy.from_json(old)
    assert policy.steps == (Step("user", BOB), Step("user", "erin@example.com"), Step("channel", LEADS))
    assert [p.who for p in watch(policy, EVERY_MINUTE) if p.trigger in (OP, B, RB)] == [BOB, "erin@example.com", LEADS]


def test_an_unreadable_snapshot_turns_escalation_off_for_that_ticket_only():
    assert stored_policy(None) is None and stored_policy('{"team": "api"}') is None
    assert stored_policy(json.dumps(THREE_STEPS.to_json())) == THREE_STEPS


BAD_POLICIES = [
    (dict(steps=()), "steps: must not be empty", "no-steps"),
    (dict(steps=(Step("user", ALICE, after=M),)), r"steps.0.after: the first step is notified when the ticket opens",
     "first-step-with-after"),
    (dict(steps=(Step("user", ALICE), Step("user", BOB, after=10 * M), Step("channel", LEADS, after=10 * M))),
     r"steps.2.after: must be longer than the `after` of the timed step before it", "after-not-increasing"),
    (dict(steps=(Step("schedule", "tertiary"),)), r"steps.0.schedule: unknown schedule 'tertiary' \(known: primary, secondary\)",
     "unknown-schedule"),
    (dict(steps=(Step("user", ALICE),), repeat=-1), r"repeat: must be a whole number >= 0", "negative-repeat"),
]


@pytest.mark.parametrize("changes, message", [pytest.param(*row[:-1], id=row[-1]) for row in BAD_POLICIES])
def test_policy_validation_names_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        Policy(**{"team": "t", "schedules": SCHEDULES, **changes})


@pytest.mark.parametrize("kind, target, message", [
    ("pager", "x", "kind: must be one of"),
    ("user", "bob", "target: 'bob' is neither"),
    ("channel", "<!channel>", "target: '<!channel>' is neither"),
])
def test_step_validation(kind, target, message):
    with pytest.raises(ValueError, match=message):
        Step(kind, target)


def test_pass_length_and_offsets():
    assert THREE_STEPS.pass_length == 30 * M
    assert [THREE_STEPS.offset_of(p) for p in range(6)] == [None, 10 * M, 20 * M, 30 * M, 40 * M, 50 * M]
    assert README_CHAIN.pass_length is None and README_CHAIN.offset_of(1) is None
