"""SLA policy: the default table, deadline snapshots, and due warnings and breaches."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from slawatch.model import Priority
from slawatch.sla.business_time import BusinessCalendar
from slawatch.sla.deadlines import (
    Clock,
    DeadlineEventKind,
    DeadlineKind,
    Deadlines,
    PriorityPolicy,
    SlaPolicy,
    Target,
    compute_deadlines,
    deadline,
    due_deadline_events,
    recovery_met,
    response_met,
    warning_instant,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
M = timedelta(minutes=1)
H = timedelta(hours=1)
RESPONSE, RECOVERY = DeadlineKind.RESPONSE, DeadlineKind.RECOVERY
WARNING, BREACH = DeadlineEventKind.WARNING, DeadlineEventKind.BREACH

CAL_BERLIN = BusinessCalendar(timezone="Europe/Berlin", holiday_country="DE")
POLICY = SlaPolicy.default(CAL_BERLIN)



def params(table: list[tuple]) -> list:
    """Table rows end with their id: the sentence that names the behaviour."""
    return [pytest.param(*row[:-1], id=row[-1]) for row in table]

def utc(h: int, mi: int = 0, d: int = 16) -> datetime:
    """An instant on Monday 2026-03-16 (or day `d`) in UTC."""
    return datetime(2026, 3, d, h, mi, tzinfo=UTC)


# --- the default table --------------------------------------------------------------------

DEFAULT_TABLE = [
    (Priority.P0, Target(15 * M), Target(2 * H)),
    (Priority.P1, Target(30 * M), Target(4 * H)),
    (Priority.P2, Target(2 * H), Target(9 * H, Clock.BUSINESS)),
]


@pytest.mark.parametrize("priority, response, recovery", DEFAULT_TABLE, ids=["P0", "P1", "P2"])
def test_default_policy_matches_design_table(priority, response, recovery):
    rules = SlaPolicy.default().priorities[priority]
    assert (rules.response, rules.recovery) == (response, recovery)
    assert rules.verification == 5 * M
    assert rules.warn_at == 0.8


def test_default_p2_recovery_is_one_business_day_of_the_given_calendar():
    cal = BusinessCalendar(start=time(8), end=time(16, 30))
    assert SlaPolicy.default(cal).priorities[Priority.P2].recovery == Target(
        8.5 * H, Clock.BUSINESS
    )


# --- deadlines ------------------------------------------------------------------------------

DEADLINE_CASES = [
    # (target, opened_at, expected, id)
    (Target(2 * H), datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN),
     datetime(2026, 3, 29, 4, 30, tzinfo=BERLIN), "24x7-2h-is-2-real-hours-over-spring-dst"),
    (Target(2 * H), datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN),
     datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the second 02:30 of the night
     "24x7-2h-is-2-real-hours-over-autumn-dst"),
    (Target(2 * H), datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK),
     datetime(2026, 3, 8, 4, 30, tzinfo=NEW_YORK), "24x7-2h-over-new-york-spring-dst"),
    (Target(15 * M), utc(23, 55, d=13), utc(0, 10, d=14), "24x7-ignores-weekends-and-midnight"),
    (Target(9 * H, Clock.BUSINESS), datetime(2026, 3, 13, 17, tzinfo=BERLIN),
     datetime(2026, 3, 16, 17, tzinfo=BERLIN), "business-friday-17h-due-monday-17h"),
]


@pytest.mark.parametrize("target, opened_at, expected", params(DEADLINE_CASES))
def test_deadline(target, opened_at, expected):
    due = deadline(POLICY, target, opened_at)
    assert due == expected
    assert due.tzinfo is UTC


def test_business_warning_is_measured_on_business_clock():
    """80 % of 9 business hours is 7h12m: 1 h on Friday, then Monday until 15:12."""
    target = Target(9 * H, Clock.BUSINESS)
    opened = datetime(2026, 3, 13, 17, tzinfo=BERLIN)
    assert warning_instant(POLICY, target, opened, warn_at=0.8) == datetime(
        2026, 3, 16, 15, 12, tzinfo=BERLIN
    )


COMPUTE_CASES = [
    (Priority.P0, utc(10), Deadlines(utc(10, 15), utc(12), utc(10, 12), utc(11, 36)), "p0"),
    (Priority.P1, utc(10), Deadlines(utc(10, 30), utc(14), utc(10, 24), utc(13, 12)), "p1"),
    (Priority.P2, datetime(2026, 3, 13, 17, tzinfo=BERLIN),
     Deadlines(
         response_due=datetime(2026, 3, 13, 19, tzinfo=BERLIN),
         recovery_due=datetime(2026, 3, 16, 17, tzinfo=BERLIN),
         response_warn_at=datetime(2026, 3, 13, 18, 36, tzinfo=BERLIN),
         recovery_warn_at=datetime(2026, 3, 16, 15, 12, tzinfo=BERLIN),
     ), "p2-friday-evening-response-24x7-recovery-business"),
]


@pytest.mark.parametrize("priority, opened_at, expected", params(COMPUTE_CASES))
def test_compute_deadlines(priority, opened_at, expected):
    assert compute_deadlines(POLICY, priority, opened_at) == expected


def test_compute_deadlines_uses_the_priority_warn_at():
    rules = PriorityPolicy(response=Target(10 * M), recovery=Target(H), warn_at=0.5)
    policy = SlaPolicy(CAL_BERLIN, {p: rules for p in Priority})
    assert compute_deadlines(policy, Priority.P1, utc(10)).response_warn_at == utc(10, 5)


def test_deadlines_are_an_immutable_utc_snapshot():
    stored = Deadlines(*(datetime(2026, 3, 16, 11, tzinfo=BERLIN),) * 4)
    assert stored.response_due.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.response_due = utc(12)  # type: ignore[misc]


def test_policy_priorities_cannot_be_edited_in_place():
    with pytest.raises(TypeError):
        POLICY.priorities[Priority.P0] = POLICY.priorities[Priority.P1]  # type: ignore[index]


INVALID = [
    (lambda: Target(timedelta(0)), "duration", "zero-target"),
    (lambda: PriorityPolicy(Target(M), Target(H), warn_at=0.0), "warn_at", "warn-at-zero"),
    (lambda: PriorityPolicy(Target(M), Target(H), warn_at=1.5), "warn_at", "warn-at-above-one"),
    (lambda: PriorityPolicy(Target(M), Target(H), verification=-M), "verification", "neg-verify"),
    (lambda: PriorityPolicy(Target(M), Target(H), target_attainment=0), "target_attainment",
     "zero-attainment"),
    (lambda: SlaPolicy(CAL_BERLIN, {Priority.P0: POLICY.priorities[Priority.P0]}), "P1, P2",
     "missing-priorities"),
    (lambda: Deadlines(utc(10), utc(12), utc(10, 20), utc(11)), "response_warn_at", "warn-late"),
    (lambda: deadline(POLICY, Target(H), datetime(2026, 3, 16, 10)), "timezone-aware", "naive"),
]


@pytest.mark.parametrize("build, message", params(INVALID))
def test_invalid_policy_values_are_rejected_naming_the_field(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_clock_is_parsed_from_its_config_spelling():
    assert Target(H, "business").clock is Clock.BUSINESS  # type: ignore[arg-type]
    assert Clock("24x7") is Clock.CALENDAR


# --- due warnings and breaches -------------------------------------------------------------

# P0 opened 10:00: response warn 10:12, due 10:15; recovery warn 11:36, due 12:00.
P0 = compute_deadlines(POLICY, Priority.P0, utc(10))

EVENT_CASES = [
    # (acknowledged_at, recovered_at_final, already, now, expected, id)
    (None, None, set(), utc(10, 11), [], "nothing-due-before-warning"),
    (None, None, set(), utc(10, 12), [(RESPONSE, WARNING, utc(10, 12))],
     "unacked-warns-at-instant"),
    (None, None, set(), utc(10, 15), [(RESPONSE, WARNING, utc(10, 12))],
     "at-due-instant-only-warning-ack-could-still-meet-it"),
    (None, None, set(), utc(10, 20),
     [(RESPONSE, WARNING, utc(10, 12)), (RESPONSE, BREACH, utc(10, 15))],
     "never-acked-past-due-warning-then-breach-with-own-instants"),
    (utc(10, 5), None, set(), utc(10, 20), [], "ack-before-warning-suppresses-both"),
    (utc(10, 12), None, set(), utc(10, 20), [], "ack-at-warning-instant-suppresses-both"),
    (utc(10, 13), None, set(), utc(10, 20), [(RESPONSE, WARNING, utc(10, 12))],
     "ack-between-warning-and-due-warning-only"),
    (utc(10, 15), None, set(), utc(10, 20), [(RESPONSE, WARNING, utc(10, 12))],
     "ack-exactly-at-due-meets-deadline-no-breach"),
    (utc(10, 17), None, set(), utc(10, 20),
     [(RESPONSE, WARNING, utc(10, 12)), (RESPONSE, BREACH, utc(10, 15))],
     "ack-after-due-still-records-breach"),
    (None, None, {(RESPONSE, WARNING)}, utc(10, 20), [(RESPONSE, BREACH, utc(10, 15))],
     "recorded-warning-is-not-repeated"),
    (None, None, {(RESPONSE, WARNING), (RESPONSE, BREACH)}, utc(10, 20), [],
     "recorded-warning-and-breach-give-nothing"),
    (None, None, {(RESPONSE, BREACH)}, utc(10, 20), [], "no-late-warning-after-recorded-breach"),
    (None, None, set(), utc(12, 30),
     [(RESPONSE, WARNING, utc(10, 12)), (RESPONSE, BREACH, utc(10, 15)),
      (RECOVERY, WARNING, utc(11, 36)), (RECOVERY, BREACH, utc(12))],
     "unacked-unrecovered-all-four-ordered-by-instant"),
    (utc(10, 5), None, set(), utc(12, 30),
     [(RECOVERY, WARNING, utc(11, 36)), (RECOVERY, BREACH, utc(12))],
     "ack-does-not-stop-recovery-clock"),
    (utc(10, 5), utc(11), set(), utc(12, 30), [], "recovered-before-recovery-warning-no-events"),
    (utc(10, 5), utc(11, 50), set(), utc(12, 30), [(RECOVERY, WARNING, utc(11, 36))],
     "recovered-between-warning-and-due-warning-only"),
    (utc(10, 5), utc(12), set(), utc(12, 30), [(RECOVERY, WARNING, utc(11, 36))],
     "recovered-exactly-at-due-meets-deadline"),
    (utc(10, 5), utc(12, 10), set(), utc(12, 30),
     [(RECOVERY, WARNING, utc(11, 36)), (RECOVERY, BREACH, utc(12))],
     "recovered-after-due-still-records-breach"),
]


@pytest.mark.parametrize("ack, recovered, already, now, expected", params(EVENT_CASES))
def test_due_deadline_events(ack, recovered, already, now, expected):
    assert due_deadline_events(P0, ack, recovered, already, now) == expected


def test_each_event_is_recorded_exactly_once_across_watcher_ticks():
    """A watcher ticking every minute and recording what it gets sees each event once, in order."""
    already: set = set()
    recorded = []
    for minute in range(0, 181):
        now = utc(10) + minute * M
        for kind, event, instant in due_deadline_events(P0, None, None, already, now):
            already.add((kind, event))
            recorded.append((kind, event, instant, now))
    assert [(k, e, i) for k, e, i, _ in recorded] == [
        (RESPONSE, WARNING, utc(10, 12)),
        (RESPONSE, BREACH, utc(10, 15)),
        (RECOVERY, WARNING, utc(11, 36)),
        (RECOVERY, BREACH, utc(12)),
    ]
    assert recorded[1][3] == utc(10, 16)  # the breach is certain only after the due instant


def test_warning_precedes_breach_when_both_fall_on_the_same_instant():
    """With warn_at = 1.0 the warning and due instants coincide; the warning still comes first."""
    rules = PriorityPolicy(response=Target(10 * M), recovery=Target(H), warn_at=1.0)
    policy = SlaPolicy(CAL_BERLIN, {p: rules for p in Priority})
    stored = compute_deadlines(policy, Priority.P0, utc(10))
    events = due_deadline_events(stored, None, None, set(), utc(10, 11))
    assert events == [(RESPONSE, WARNING, utc(10, 10)), (RESPONSE, BREACH, utc(10, 10))]


# --- met / breached / undecided --------------------------------------------------------------

RESPONSE_MET = [
    (None, utc(10, 10), None, "open-before-due-is-undecided"),
    (None, utc(10, 15), None, "open-at-due-is-undecided"),
    (None, utc(10, 16), False, "open-past-due-is-breached"),
    (utc(10, 10), utc(10, 10), True, "acked-before-due-is-met"),
    (utc(10, 15), utc(11), True, "acked-exactly-at-due-is-met"),
    (utc(10, 16), utc(11), False, "acked-after-due-is-breached"),
]


@pytest.mark.parametrize("ack, now, expected", params(RESPONSE_MET))
def test_response_met(ack, now, expected):
    assert response_met(P0, ack, now) is expected


RECOVERY_MET = [
    (None, False, utc(11), None, "open-before-due-is-undecided"),
    (None, False, utc(12, 1), False, "open-past-due-is-breached"),
    (utc(11, 50), True, utc(12, 30), True, "verified-recovery-before-due-is-met"),
    (utc(12), True, utc(12, 30), True, "verified-recovery-exactly-at-due-is-met"),
    (utc(12, 5), True, utc(12, 30), False, "verified-recovery-after-due-is-breached"),
    (utc(11, 50), False, utc(11, 52), None, "clear-under-verification-before-due-is-undecided"),
    (utc(11, 58), False, utc(12, 2), None, "verification-spanning-due-is-still-undecided"),
    (utc(12, 1), False, utc(12, 3), False, "clear-after-due-cannot-be-met"),
    (None, True, utc(11), None, "resolved-without-clear-time-judged-like-open"),
    (None, True, utc(12, 30), False, "resolved-without-clear-time-past-due-is-breached"),
]


@pytest.mark.parametrize("recovered, resolved, now, expected", params(RECOVERY_MET))
def test_recovery_met(recovered, resolved, now, expected):
    assert recovery_met(P0, recovered, resolved, now) is expected
