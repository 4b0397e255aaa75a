"""On-call rotations, overrides, the escalation chain snapshot and escalation decisions."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slawatch.oncall import (
    ChainSnapshot,
    EscalationChain,
    EscalationLevel,
    EscalationReason,
    EscalationStep,
    Override,
    ResolvedLevel,
    Rotation,
    escalation_for,
    is_slack_user_id,
    mention_for,
    next_handoff,
    shift_at,
    snapshot_chain,
    who_is_on_call,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
ALICE, BOB, CAROL = "UALICE01", "UBOB0002", "carol@example.com"
DAVE, ERIN = "UDAVE003", "WERIN004"


def params(table: list[tuple]) -> list:
    """Table rows end with their id: the sentence that names the behaviour."""
    return [pytest.param(*row[:-1], id=row[-1]) for row in table]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def rotation(**changes) -> Rotation:
    """A weekly UTC rotation handing off Mondays 09:00 from 2026-03-02, unless changed."""
    fields = dict(
        name="platform-primary",
        people=(ALICE, BOB, CAROL),
        shift=7 * D,
        handoff=time(9),
        timezone="UTC",
        start_date=date(2026, 3, 2),
    )
    return Rotation(**{**fields, **changes})


WEEKLY = rotation()
DAILY_BERLIN = rotation(shift=D, timezone="Europe/Berlin", start_date=date(2026, 3, 23))
DAILY_NEW_YORK = rotation(shift=D, timezone="America/New_York", start_date=date(2026, 3, 2))
DAILY_BERLIN_FROM_SUMMER = rotation(shift=D, timezone="Europe/Berlin",
                                    start_date=date(2026, 10, 19))
DAILY_NEW_YORK_FROM_SUMMER = rotation(shift=D, timezone="America/New_York",
                                      start_date=date(2026, 10, 26))
HALF_DAY_BERLIN = rotation(shift=12 * H, timezone="Europe/Berlin", start_date=date(2026, 3, 28))
GAP_HANDOFF = rotation(shift=D, handoff=time(2, 30), timezone="Europe/Berlin",
                       start_date=date(2026, 3, 27))
AMBIGUOUS_HANDOFF = rotation(shift=D, handoff=time(2, 30), timezone="Europe/Berlin",
                             start_date=date(2026, 10, 24))
SOLO = rotation(people=(DAVE,))

# --- who is on call ------------------------------------------------------------------------

ON_CALL_CASES = [
    # (rotation, at, expected, id)
    (WEEKLY, utc(2026, 3, 2, 9), ALICE, "weekly-first-shift-starts-at-the-handoff"),
    (WEEKLY, utc(2026, 3, 9, 8, 59, 59), ALICE, "weekly-one-second-before-handoff-is-outgoing"),
    (WEEKLY, utc(2026, 3, 9, 9), BOB, "weekly-at-the-handoff-instant-is-incoming"),
    (WEEKLY, utc(2026, 3, 9, 9, 0, 1), BOB, "weekly-one-second-after-handoff-is-incoming"),
    (WEEKLY, utc(2026, 3, 9, 9) - timedelta(microseconds=1), ALICE,
     "weekly-one-microsecond-before-handoff-is-outgoing"),
    (WEEKLY, utc(2026, 3, 16, 9), CAROL, "weekly-third-person-third-week"),
    (WEEKLY, utc(2026, 3, 23, 9), ALICE, "weekly-cycle-wraps-to-the-first-person"),
    (WEEKLY, datetime(2026, 3, 9, 10, tzinfo=BERLIN), BOB, "weekly-instant-in-another-zone"),
    # Before start_date the rotation extends backwards.
    (WEEKLY, utc(2026, 3, 2, 8, 59, 59), CAROL, "before-start-last-person-of-previous-cycle"),
    (WEEKLY, utc(2026, 2, 23, 9), CAROL, "before-start-one-week-earlier-still-last-person"),
    (WEEKLY, utc(2026, 2, 16, 9), BOB, "before-start-two-weeks-earlier-second-to-last"),
    (WEEKLY, utc(2025, 1, 1), CAROL, "before-start-long-ago-follows-the-cycle"),
    # Daily handoff at 09:00 local stays 09:00 local across DST.
    (DAILY_BERLIN, utc(2026, 3, 28, 8), CAROL, "berlin-daily-handoff-09-cet-is-08-utc"),
    (DAILY_BERLIN, utc(2026, 3, 29, 6, 59, 59), CAROL,
     "berlin-daily-second-before-09-cest-after-spring-forward"),
    (DAILY_BERLIN, utc(2026, 3, 29, 7), ALICE, "berlin-daily-handoff-09-cest-is-07-utc"),
    (DAILY_BERLIN, utc(2026, 10, 25, 7, 59, 59), CAROL,
     "berlin-daily-second-before-09-cet-after-fall-back"),
    (DAILY_BERLIN, utc(2026, 10, 25, 8), ALICE, "berlin-daily-handoff-09-cet-is-08-utc-in-autumn"),
    (DAILY_BERLIN_FROM_SUMMER, utc(2026, 10, 25, 7), CAROL,
     "berlin-daily-from-summer-08-cet-is-not-a-handoff-after-fall-back"),
    (DAILY_BERLIN_FROM_SUMMER, utc(2026, 10, 25, 8), ALICE,
     "berlin-daily-from-summer-handoff-stays-09-cet-after-fall-back"),
    (DAILY_NEW_YORK_FROM_SUMMER, utc(2026, 11, 1, 13), CAROL,
     "new-york-daily-from-summer-08-est-is-not-a-handoff-after-fall-back"),
    (DAILY_NEW_YORK_FROM_SUMMER, utc(2026, 11, 1, 14), ALICE,
     "new-york-daily-from-summer-handoff-stays-09-est-after-fall-back"),
    (DAILY_NEW_YORK, utc(2026, 3, 8, 12, 59, 59), CAROL,
     "new-york-daily-second-before-09-edt-after-spring-forward"),
    (DAILY_NEW_YORK, utc(2026, 3, 8, 13), ALICE, "new-york-daily-handoff-09-edt-is-13-utc"),
    (DAILY_NEW_YORK, utc(2026, 3, 8, 14), ALICE, "new-york-daily-10-edt-is-not-a-handoff"),
    (DAILY_NEW_YORK, utc(2026, 11, 1, 13, 59, 59), ALICE,
     "new-york-daily-second-before-09-est-after-fall-back"),
    (DAILY_NEW_YORK, utc(2026, 11, 1, 14), BOB, "new-york-daily-handoff-09-est-is-14-utc"),
    # 12 h shifts are real time: after spring forward the handoff is at 10:00/22:00 CEST.
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 8), ALICE, "12h-first-shift-09-cet"),
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 20), BOB, "12h-second-shift-21-cet"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 7), BOB, "12h-09-cest-is-not-a-handoff-after-dst"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 7, 59, 59), BOB, "12h-second-before-10-cest-handoff"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 8), CAROL, "12h-handoff-at-10-cest-twelve-real-hours"),
    # Wall-clock handoffs inside a DST gap happen after it; ambiguous ones at first occurrence.
    (GAP_HANDOFF, utc(2026, 3, 29, 1, 29, 59), BOB, "gap-handoff-02-30-not-yet-at-03-29-cest"),
    (GAP_HANDOFF, utc(2026, 3, 29, 1, 30), CAROL, "gap-handoff-02-30-happens-at-03-30-cest"),
    (AMBIGUOUS_HANDOFF, utc(2026, 10, 25, 0, 29, 59), ALICE,
     "ambiguous-handoff-02-30-not-yet-at-02-29-cest"),
    (AMBIGUOUS_HANDOFF, utc(2026, 10, 25, 0, 30), BOB,
     "ambiguous-handoff-02-30-at-its-first-occurrence-cest"),
    # A one-person rotation always has that person.
    (SOLO, utc(2026, 3, 9, 9), DAVE, "one-person-at-handoff"),
    (SOLO, utc(2026, 1, 1), DAVE, "one-person-before-start"),
    (SOLO, utc(2030, 6, 1), DAVE, "one-person-years-later"),
]


@pytest.mark.parametrize("rot, at, expected", params(ON_CALL_CASES))
def test_who_is_on_call(rot, at, expected):
    assert who_is_on_call(rot, at) == expected


HANDOFF_CASES = [
    # (rotation, at, expected next handoff, id)
    (WEEKLY, utc(2026, 3, 4), utc(2026, 3, 9, 9), "weekly-mid-shift-next-monday-09"),
    (WEEKLY, utc(2026, 3, 9, 9), utc(2026, 3, 16, 9), "weekly-at-handoff-returns-the-following"),
    (WEEKLY, utc(2026, 3, 9, 9) - S, utc(2026, 3, 9, 9), "weekly-second-before-handoff"),
    (WEEKLY, utc(2026, 2, 1), utc(2026, 2, 2, 9), "weekly-before-start-extends-backwards"),
    (DAILY_BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 7),
     "berlin-daily-spring-forward-shift-is-23h"),
    (DAILY_BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 8),
     "berlin-daily-fall-back-handoff-still-09-local"),
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 21), utc(2026, 3, 29, 8),
     "12h-across-spring-forward-is-12-real-hours"),
    (SOLO, utc(2026, 3, 3), utc(2026, 3, 9, 9), "one-person-still-has-handoffs"),
]


@pytest.mark.parametrize("rot, at, expected", params(HANDOFF_CASES))
def test_next_handoff(rot, at, expected):
    assert next_handoff(rot, at) == expected


def test_shift_at_reports_bounds_and_index_in_utc():
    shift = shift_at(DAILY_BERLIN, utc(2026, 3, 29, 12))
    assert (shift.index, shift.start, shift.end, shift.person) == (
        6, utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), ALICE)
    assert shift.start.tzinfo is UTC


# --- overrides -----------------------------------------------------------------------------

COVER = Override(utc(2026, 3, 10, 12), utc(2026, 3, 11, 12), DAVE)
INNER = Override(utc(2026, 3, 10, 18), utc(2026, 3, 10, 20), ERIN)
WITH_OVERRIDES = rotation(overrides=(COVER, INNER))

OVERRIDE_CASES = [
    # (rotation, at, expected, id)
    (WITH_OVERRIDES, utc(2026, 3, 10, 11, 59, 59), BOB, "second-before-override-is-rotation"),
    (WITH_OVERRIDES, utc(2026, 3, 10, 12), DAVE, "override-start-is-inclusive"),
    (WITH_OVERRIDES, utc(2026, 3, 11), DAVE, "inside-override"),
    (WITH_OVERRIDES, utc(2026, 3, 11, 11, 59, 59), DAVE, "second-before-override-end"),
    (WITH_OVERRIDES, utc(2026, 3, 11, 12), BOB, "override-end-is-exclusive"),
    (WITH_OVERRIDES, utc(2026, 3, 10, 18), ERIN, "overlapping-latest-starting-wins-at-its-start"),
    (WITH_OVERRIDES, utc(2026, 3, 10, 19), ERIN, "overlapping-latest-starting-wins-inside"),
    (WITH_OVERRIDES, utc(2026, 3, 10, 20), DAVE, "overlapping-outer-resumes-after-inner-ends"),
    (rotation(overrides=(INNER, COVER)), utc(2026, 3, 10, 19), ERIN,
     "overlapping-latest-starting-wins-whatever-the-order"),
    (rotation(overrides=(COVER, Override(COVER.start, COVER.start + H, ERIN))),
     utc(2026, 3, 10, 12, 30), ERIN, "same-start-the-one-listed-last-wins"),
    (rotation(overrides=(Override(datetime(2026, 3, 10, 13, tzinfo=BERLIN),
                                  datetime(2026, 3, 10, 14, tzinfo=BERLIN), CAROL),)),
     utc(2026, 3, 10, 12), CAROL, "override-in-another-zone-compares-instants"),
    (rotation(overrides=(Override(utc(2026, 3, 9, 8), utc(2026, 3, 9, 10), ALICE),)),
     utc(2026, 3, 9, 9, 30), ALICE, "override-spanning-a-handoff-wins"),
]


@pytest.mark.parametrize("rot, at, expected", params(OVERRIDE_CASES))
def test_overrides(rot, at, expected):
    assert who_is_on_call(rot, at) == expected


def test_overrides_do_not_move_the_scheduled_handoff():
    assert next_handoff(WITH_OVERRIDES, utc(2026, 3, 10, 19)) == utc(2026, 3, 16, 9)


# --- validation ----------------------------------------------------------------------------

INVALID_ROTATIONS = [
    (dict(people=()), "people: must not be empty", "empty-people"),
    (dict(people=(ALICE, "bob")), "people[1]: 'bob' is neither", "person-neither-id-nor-email"),
    (dict(shift=timedelta(0)), "shift: must be positive", "zero-shift"),
    (dict(shift=-D), "shift: must be positive", "negative-shift"),
    (dict(timezone="Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus'", "bad-zone"),
    (dict(timezone=""), "timezone: unknown time zone ''", "empty-zone"),
    (dict(name=""), "name: must not be empty", "empty-name"),
    (dict(handoff=time(9, tzinfo=UTC)), "handoff: must be a local time", "aware-handoff"),
    (dict(start_date=datetime(2026, 3, 2)), "start_date: must be a date", "datetime-start-date"),
]


@pytest.mark.parametrize("changes, message", params(INVALID_ROTATIONS))
def test_rotation_validation_names_the_field(changes, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rotation(**changes)


INVALID_OVERRIDES = [
    (utc(2026, 3, 10), utc(2026, 3, 10), ALICE, "end: must be after start", "empty-range"),
    (utc(2026, 3, 11), utc(2026, 3, 10), ALICE, "end: must be after start", "end-before-start"),
    (datetime(2026, 3, 10), utc(2026, 3, 11), ALICE, "start: must be a timezone-aware", "naive"),
    (utc(2026, 3, 10), utc(2026, 3, 11), "dave", "person: 'dave' is neither", "bad-person"),
]


@pytest.mark.parametrize("start, end, person, message", params(INVALID_OVERRIDES))
def test_override_validation_names_the_field(start, end, person, message):
    with pytest.raises(ValueError, match=message):
        Override(start, end, person)


def test_naive_instant_is_rejected():
    with pytest.raises(ValueError, match="at: must be a timezone-aware"):
        who_is_on_call(WEEKLY, datetime(2026, 3, 9, 9))


@pytest.mark.parametrize("person, expected", [
    ("U024BE7LH", True), ("W012A3CDE", True), ("alice@example.com", False),
    ("C0123ABCD", False), ("u024be7lh", False), ("U", False),
])
def test_is_slack_user_id(person, expected):
    assert is_slack_user_id(person) is expected


# --- chain snapshot ------------------------------------------------------------------------

MENTION_CASES = [
    ("user", "U024BE7LH", "<@U024BE7LH>", "user-id-becomes-user-mention"),
    ("user", "W012A3CDE", "<@W012A3CDE>", "grid-user-id-becomes-user-mention"),
    ("user", "boss@example.com", "boss@example.com", "email-left-for-later-lookup"),
    ("channel", "C0123ABCD", "<#C0123ABCD>", "channel-id-becomes-channel-link"),
    ("channel", "G0123ABCD", "<#G0123ABCD>", "private-channel-id-becomes-channel-link"),
    ("channel", "sre-escalations", "#sre-escalations", "channel-name-gets-a-hash"),
    ("channel", "#sre-escalations", "#sre-escalations", "hashed-channel-name-kept"),
]


@pytest.mark.parametrize("kind, target, mention", params(MENTION_CASES))
def test_mention_for(kind, target, mention):
    assert mention_for(kind, target) == mention


SECONDARY = rotation(name="platform-secondary", people=(DAVE, "erin@example.com"))
ROTATIONS = {"platform-primary": WEEKLY, "platform-secondary": SECONDARY}
CHAIN = EscalationChain("platform", (
    EscalationLevel("schedule", "platform-primary"),
    EscalationLevel("schedule", "platform-secondary"),
    EscalationLevel("user", "boss@example.com"),
    EscalationLevel("channel", "C0SRE0001"),
))


def test_snapshot_resolves_schedules_to_who_is_on_call_at_open():
    snap = snapshot_chain(CHAIN, ROTATIONS, utc(2026, 3, 9, 9))
    assert snap.levels == (
        ResolvedLevel("schedule", "platform-primary", f"<@{BOB}>"),
        ResolvedLevel("schedule", "platform-secondary", "erin@example.com"),
        ResolvedLevel("user", "boss@example.com", "boss@example.com"),
        ResolvedLevel("channel", "C0SRE0001", "<#C0SRE0001>"),
    )
    assert [level.email for level in snap.levels] == [
        None, "erin@example.com", "boss@example.com", None]


def test_snapshot_honours_overrides_at_open():
    rotations = {**ROTATIONS, "platform-primary": WITH_OVERRIDES}
    snap = snapshot_chain(CHAIN, rotations, utc(2026, 3, 10, 19))
    assert snap.levels[0].mention == f"<@{ERIN}>"


def test_snapshot_survives_json_and_later_config_changes():
    snap = snapshot_chain(CHAIN, ROTATIONS, utc(2026, 3, 9, 9))
    stored = json.loads(json.dumps(snap.to_json()))
    changed = {**ROTATIONS, "platform-primary": rotation(people=(CAROL,))}
    assert snapshot_chain(CHAIN, changed, utc(2026, 3, 9, 9)) != snap
    assert ChainSnapshot.from_json(stored) == snap
    assert stored["levels"][0] == {
        "kind": "schedule", "target": "platform-primary", "mention": f"<@{BOB}>"}


def test_snapshot_of_unknown_schedule_names_the_level():
    chain = EscalationChain("platform", (EscalationLevel("schedule", "nope"),))
    with pytest.raises(ValueError, match=r"levels\[0\]\.target: unknown schedule 'nope'"):
        snapshot_chain(chain, ROTATIONS, utc(2026, 3, 9))


BAD_JSON = [
    ({}, r"levels: expected a list", "missing-levels"),
    ({"levels": []}, r"levels: must not be empty", "empty-levels"),
    ({"levels": [{"kind": "user"}]}, r"levels\[0\]: expected kind, target and mention", "partial"),
    ({"levels": [{"kind": "pager", "target": "x", "mention": "x"}]}, r"levels\[0\]\.kind:",
     "unknown-kind"),
]


@pytest.mark.parametrize("data, message", params(BAD_JSON))
def test_snapshot_from_bad_json_names_the_field(data, message):
    with pytest.raises(ValueError, match=message):
        ChainSnapshot.from_json(data)


BAD_LEVELS = [
    ("pager", "x", "kind: must be one of", "unknown-kind"),
    ("user", "", "target: must not be empty", "empty-target"),
    ("user", "bob", "target: 'bob' is neither", "user-neither-id-nor-email"),
    ("channel", "<!channel>", "target: '<!channel>' is neither", "channel-cannot-inject-a-ping"),
    ("channel", "Ops Room", "target: 'Ops Room' is neither", "channel-name-with-space"),
]


@pytest.mark.parametrize("kind, target, message", params(BAD_LEVELS))
def test_escalation_level_validation(kind, target, message):
    with pytest.raises(ValueError, match=message):
        EscalationLevel(kind, target)


def test_chain_needs_levels_and_team():
    with pytest.raises(ValueError, match="levels: must not be empty"):
        EscalationChain("platform", ())
    with pytest.raises(ValueError, match="team: must not be empty"):
        EscalationChain("", (EscalationLevel("user", ALICE),))


# --- escalation decisions ------------------------------------------------------------------

R = EscalationReason
# (event, acknowledged, {chain length: (level, reason)} or None for every length, id)
ESCALATION_TABLE = [
    ("opened", False, {1: (0, R.OPENED_PAGE_PRIMARY), 2: (0, R.OPENED_PAGE_PRIMARY),
                       3: (0, R.OPENED_PAGE_PRIMARY)}, "opened-pages-primary"),
    ("opened", True, {1: (0, R.OPENED_PAGE_PRIMARY), 2: (0, R.OPENED_PAGE_PRIMARY),
                      3: (0, R.OPENED_PAGE_PRIMARY)}, "opened-pages-primary-regardless"),
    ("response_warning", False, {n: (0, R.RESPONSE_WARNING_REMIND_PRIMARY) for n in (1, 2, 3)},
     "response-warning-unacked-reminds-primary"),
    ("response_warning", True, None, "response-warning-acked-is-silent"),
    ("response_breach", False, {1: (0, R.RESPONSE_BREACH_SINGLE_LEVEL),
                                2: (1, R.RESPONSE_BREACH_NEXT_LEVEL),
                                3: (1, R.RESPONSE_BREACH_NEXT_LEVEL)},
     "response-breach-unacked-escalates-to-next-level"),
    ("response_breach", True, None, "response-breach-acked-is-silent"),
    ("recovery_warning", False, {n: (0, R.RECOVERY_WARNING_REMIND_PRIMARY) for n in (1, 2, 3)},
     "recovery-warning-unacked-reminds-primary"),
    ("recovery_warning", True, {n: (0, R.RECOVERY_WARNING_REMIND_PRIMARY) for n in (1, 2, 3)},
     "recovery-warning-acked-still-reminds-primary"),
    ("recovery_breach", False, {1: (0, R.RECOVERY_BREACH_SINGLE_LEVEL),
                                2: (1, R.RECOVERY_BREACH_NEXT_LEVEL),
                                3: (1, R.RECOVERY_BREACH_NEXT_LEVEL)},
     "recovery-breach-unacked-escalates-to-next-level"),
    ("recovery_breach", True, {1: (0, R.RECOVERY_BREACH_SINGLE_LEVEL),
                               2: (1, R.RECOVERY_BREACH_NEXT_LEVEL),
                               3: (1, R.RECOVERY_BREACH_NEXT_LEVEL)},
     "recovery-breach-acked-still-escalates"),
]
ESCALATION_CASES = [
    pytest.param(event, acked, n, None if by_length is None else by_length[n],
                 id=f"{name}-{n}-level{'s' if n > 1 else ''}")
    for event, acked, by_length, name in ESCALATION_TABLE
    for n in (1, 2, 3)
]


def snapshot_of(length: int) -> ChainSnapshot:
    return ChainSnapshot(tuple(
        ResolvedLevel("user", f"ULEVEL{i}0", f"<@ULEVEL{i}0>") for i in range(length)))


@pytest.mark.parametrize("event, acked, length, expected", ESCALATION_CASES)
def test_escalation_for(event, acked, length, expected):
    step = escalation_for(event, snapshot_of(length), acked)
    if expected is None:
        assert step is None
    else:
        assert step == EscalationStep(event, *expected)
        assert 0 <= step.level < length


def test_escalation_reasons_are_stable_snake_case_names():
    assert R.RESPONSE_BREACH_SINGLE_LEVEL == "response_breach_single_level_repage_primary"
    assert all(reason.value == reason.value.lower() for reason in R)


def test_unknown_event_is_rejected():
    with pytest.raises(ValueError, match="event: unknown escalation event 'resolved'"):
        escalation_for("resolved", snapshot_of(2), False)


# --- properties ----------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
SHIFTS = st.one_of(
    st.sampled_from([D, 7 * D, 2 * D, 14 * D, 12 * H, 8 * H, 36 * H]),
    st.integers(min_value=1, max_value=60 * 24 * 15).map(lambda m: timedelta(minutes=m)),
)
INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
PEOPLE = st.lists(st.integers(0, 999).map(lambda i: f"U{i:03d}PERSON"),
                  min_size=1, max_size=6, unique=True)


@st.composite
def rotations(draw, with_overrides: bool = True) -> Rotation:
    overrides = ()
    if with_overrides:
        overrides = tuple(
            Override(start, start + length, f"W{i:03d}OVERRIDE")
            for i, (start, length) in enumerate(draw(st.lists(st.tuples(
                INSTANTS, st.timedeltas(timedelta(seconds=1), timedelta(days=10))), max_size=4)))
        )
    return Rotation(
        name="generated",
        people=tuple(draw(PEOPLE)),
        shift=draw(SHIFTS),
        handoff=draw(st.times()),
        timezone=draw(st.sampled_from(ZONES)),
        start_date=draw(st.dates(date(2000, 1, 1), date(2040, 1, 1))),
        overrides=overrides,
    )


@settings(max_examples=300)
@given(rot=rotations(), at=INSTANTS)
def test_on_call_is_always_a_rotation_or_override_person(rot, at):
    allowed = set(rot.people) | {o.person for o in rot.overrides}
    assert who_is_on_call(rot, at) in allowed


@settings(max_examples=300)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_shift_contains_the_instant_and_matches_who_is_on_call(rot, at):
    shift = shift_at(rot, at)
    assert shift.start <= at < shift.end == next_handoff(rot, at)
    assert who_is_on_call(rot, shift.start) == shift.person
    assert who_is_on_call(rot, shift.end) != shift.person or len(rot.people) == 1


@settings(max_examples=200)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_one_full_cycle_gives_each_person_exactly_one_shift(rot, at):
    shift, seen = shift_at(rot, at), []
    for _ in rot.people:
        seen.append(shift.person)
        following = shift_at(rot, shift.end)
        assert following.start == shift.end and following.index == shift.index + 1
        if not rot.wall_clock:
            assert shift.end - shift.start == rot.shift
        shift = following
    assert sorted(seen) == sorted(rot.people)


@settings(max_examples=300)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_whole_day_shifts_hand_off_at_the_local_handoff_time(rot, at):
    """Unless the handoff time does not exist that day (a DST gap)."""
    assume(rot.wall_clock)
    zone, shift = ZoneInfo(rot.timezone), shift_at(rot, at)
    local = shift.start.astimezone(zone)
    planned = datetime.combine(local.date(), rot.handoff, tzinfo=zone)
    assume(planned.astimezone(UTC).astimezone(zone).time() == rot.handoff)
    assert local.time() == rot.handoff
