"""On-call rotations, overrides, nobody before the start, and rotations as frozen JSON.

Escalation policies and their steps are tested in test_escalation.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slawatch.oncall import (
    Nobody,
    Override,
    Rotation,
    Segment,
    is_slack_user_id,
    mention_for,
    next_handoff,
    rotation_from_json,
    rotation_to_json,
    segments,
    shift_at,
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
HALF_DAY_BERLIN_AUTUMN = rotation(shift=12 * H, timezone="Europe/Berlin", start_date=date(2026, 10, 24))
EIGHT_HOURS_BERLIN = rotation(shift=8 * H, handoff=time(6), timezone="Europe/Berlin", start_date=date(2026, 3, 28))
SIX_HOURS_GAP = rotation(shift=6 * H, handoff=time(2, 30), timezone="Europe/Berlin", start_date=date(2026, 3, 28))
THIRTY_SIX_HOURS = rotation(shift=36 * H, timezone="Europe/Berlin", start_date=date(2026, 3, 28))
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
    # Before the first handoff nobody is on call (it used to run the cycle backwards).
    (WEEKLY, utc(2026, 3, 2, 8, 59, 59), Nobody("platform-primary", utc(2026, 3, 2, 9)),
     "before-start-a-second-early-is-nobody"),
    (WEEKLY, utc(2026, 2, 23, 9), Nobody("platform-primary", utc(2026, 3, 2, 9)),
     "before-start-one-week-earlier-is-nobody"),
    (WEEKLY, utc(2025, 1, 1), Nobody("platform-primary", utc(2026, 3, 2, 9)),
     "before-start-long-ago-is-nobody"),
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
    # 12 h shifts divide a day: handoffs stay at 09:00 and 21:00 local across both DST changes
    # (they used to run on elapsed time and move to 10:00/22:00 CEST in spring).
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 8), ALICE, "12h-first-shift-09-cet"),
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 20), BOB, "12h-second-shift-21-cet"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 6, 59, 59), BOB, "12h-spring-second-before-09-cest"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 7), CAROL, "12h-spring-handoff-09-cest-after-an-11h-night"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 8), CAROL, "12h-spring-10-cest-is-not-a-handoff"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 18, 59, 59), CAROL, "12h-spring-second-before-21-cest"),
    (HALF_DAY_BERLIN, utc(2026, 3, 29, 19), ALICE, "12h-spring-handoff-21-cest"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 24, 7), ALICE, "12h-autumn-first-shift-09-cest"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 24, 19), BOB, "12h-autumn-night-shift-21-cest"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 25, 7, 59, 59), BOB, "12h-autumn-08-cet-is-still-the-13h-night"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 25, 8), CAROL, "12h-autumn-handoff-09-cet"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 25, 20), ALICE, "12h-autumn-handoff-21-cet"),
    # 8 h from 06:00: 06:00, 14:00, 22:00 local, whatever the offset.
    (EIGHT_HOURS_BERLIN, utc(2026, 3, 28, 21), CAROL, "8h-22-cet"),
    (EIGHT_HOURS_BERLIN, utc(2026, 3, 29, 3, 59, 59), CAROL, "8h-night-across-spring-forward-is-7h"),
    (EIGHT_HOURS_BERLIN, utc(2026, 3, 29, 4), ALICE, "8h-06-cest"),
    (EIGHT_HOURS_BERLIN, utc(2026, 3, 29, 12), BOB, "8h-14-cest"),
    # A sub-day handoff the clock skips happens when the gap ends (02:30 -> 03:00 CEST).
    (SIX_HOURS_GAP, utc(2026, 3, 28, 19, 30), ALICE, "6h-20-30-cet"),
    (SIX_HOURS_GAP, utc(2026, 3, 29, 0, 59, 59), ALICE, "6h-gap-handoff-not-before-the-change"),
    (SIX_HOURS_GAP, utc(2026, 3, 29, 1), BOB, "6h-gap-handoff-02-30-happens-at-03-00-cest"),
    (SIX_HOURS_GAP, utc(2026, 3, 29, 6, 30), CAROL, "6h-next-handoff-08-30-cest"),
    # Shifts that neither divide a day nor are whole days run on elapsed time.
    (THIRTY_SIX_HOURS, utc(2026, 3, 29, 19, 59, 59), ALICE, "36h-elapsed-first-shift"),
    (THIRTY_SIX_HOURS, utc(2026, 3, 29, 20), BOB, "36h-elapsed-handoff-22-cest-after-spring-forward"),
    # Wall-clock handoffs inside a DST gap happen after it; ambiguous ones at first occurrence.
    (GAP_HANDOFF, utc(2026, 3, 29, 1, 29, 59), BOB, "gap-handoff-02-30-not-yet-at-03-29-cest"),
    (GAP_HANDOFF, utc(2026, 3, 29, 1, 30), CAROL, "gap-handoff-02-30-happens-at-03-30-cest"),
    (AMBIGUOUS_HANDOFF, utc(2026, 10, 25, 0, 29, 59), ALICE,
     "ambiguous-handoff-02-30-not-yet-at-02-29-cest"),
    (AMBIGUOUS_HANDOFF, utc(2026, 10, 25, 0, 30), BOB,
     "ambiguous-handoff-02-30-at-its-first-occurrence-cest"),
    # A one-person rotation always has that person.
    (SOLO, utc(2026, 3, 9, 9), DAVE, "one-person-at-handoff"),
    (SOLO, utc(2026, 1, 1), Nobody("platform-primary", utc(2026, 3, 2, 9)), "one-person-before-start-is-nobody"),
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
    (WEEKLY, utc(2026, 2, 1), utc(2026, 3, 2, 9), "weekly-before-start-is-the-first-handoff"),
    (DAILY_BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 7),
     "berlin-daily-spring-forward-shift-is-23h"),
    (DAILY_BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 8),
     "berlin-daily-fall-back-handoff-still-09-local"),
    (HALF_DAY_BERLIN, utc(2026, 3, 28, 21), utc(2026, 3, 29, 7),
     "12h-across-spring-forward-hands-off-at-09-cest"),
    (HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 24, 20), utc(2026, 10, 25, 8),
     "12h-across-fall-back-hands-off-at-09-cet"),
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


def test_twelve_hour_shifts_across_both_2026_dst_changes_in_berlin_last_11h_and_13h():
    """The nights of 29 March and 25 October: the handoff stays at 09:00 local."""
    spring = shift_at(HALF_DAY_BERLIN, utc(2026, 3, 29, 1))
    autumn = shift_at(HALF_DAY_BERLIN_AUTUMN, utc(2026, 10, 25, 1))
    assert (spring.start, spring.end, spring.end - spring.start) == (utc(2026, 3, 28, 20), utc(2026, 3, 29, 7), 11 * H)
    assert (autumn.start, autumn.end, autumn.end - autumn.start) == (utc(2026, 10, 24, 19), utc(2026, 10, 25, 8), 13 * H)
    for rot, day in ((HALF_DAY_BERLIN, date(2026, 3, 27)), (HALF_DAY_BERLIN_AUTUMN, date(2026, 10, 23))):
        starts = {shift_at(rot, datetime.combine(day + i * D, time(12), tzinfo=BERLIN) + h * H).start
                  for i in range(1, 5) for h in (0, 12)}
        assert {s.astimezone(BERLIN).time() for s in starts} == {time(9), time(21)}


def test_before_the_first_handoff_there_is_no_shift_and_nobody_is_on_call():
    assert shift_at(WEEKLY, utc(2026, 3, 2, 8)) is None
    nobody = who_is_on_call(WEEKLY, utc(2026, 3, 2, 8))
    assert nobody == Nobody("platform-primary", utc(2026, 3, 2, 9)) and not nobody
    assert who_is_on_call(WEEKLY, utc(2026, 3, 2, 9)) == ALICE


def test_an_override_before_the_start_puts_someone_on_call():
    early = rotation(overrides=(Override(utc(2026, 3, 1), utc(2026, 3, 2), DAVE),))
    assert who_is_on_call(early, utc(2026, 3, 1, 12)) == DAVE
    assert not who_is_on_call(early, utc(2026, 3, 2, 1))


def test_segments_merge_shifts_and_overrides_and_leave_out_nobody():
    cover = rotation(overrides=(Override(utc(2026, 3, 10, 12), utc(2026, 3, 11, 12), DAVE),
                                Override(utc(2026, 3, 16), utc(2026, 3, 16, 9), CAROL)))
    assert list(segments(cover, utc(2026, 3, 1), utc(2026, 3, 23, 9))) == [
        Segment(utc(2026, 3, 2, 9), utc(2026, 3, 9, 9), ALICE),
        Segment(utc(2026, 3, 9, 9), utc(2026, 3, 10, 12), BOB),
        Segment(utc(2026, 3, 10, 12), utc(2026, 3, 11, 12), DAVE),
        Segment(utc(2026, 3, 11, 12), utc(2026, 3, 16), BOB),
        Segment(utc(2026, 3, 16), utc(2026, 3, 23, 9), CAROL),  # the override runs into CAROL's shift
    ]


def test_rotation_survives_json_as_frozen():
    rot = rotation(timezone="Europe/Berlin", shift=12 * H, handoff=time(21, 30), overrides=(COVER_EARLY,))
    assert rotation_from_json(json.loads(json.dumps(rotation_to_json(rot)))) == rot


def test_rotation_from_incomplete_json_says_what_it_expects():
    with pytest.raises(ValueError, match="expected name, people, shift_seconds"):
        rotation_from_json({"name": "x"})


# --- overrides -----------------------------------------------------------------------------

COVER = Override(utc(2026, 3, 10, 12), utc(2026, 3, 11, 12), DAVE)
COVER_EARLY = Override(datetime(2026, 3, 1, 9, tzinfo=BERLIN), datetime(2026, 3, 2, 9, tzinfo=BERLIN), ERIN)
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


# --- properties ----------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
SHIFTS = st.one_of(
    st.sampled_from([D, 7 * D, 2 * D, 14 * D, 12 * H, 8 * H, 36 * H]),
    st.integers(min_value=1, max_value=60 * 24 * 15).map(lambda m: timedelta(minutes=m)),
)
INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
PEOPLE = st.lists(st.integers(0, 999).map(lambda i: f"U{i:03d}PERSON"),
                  min_size=1, max_size=6, unique=True)


DIVIDING_SHIFTS = st.sampled_from([timedelta(minutes=m) for m in range(1, 24 * 60) if (24 * 60) % m == 0])


@st.composite
def rotations(draw, with_overrides: bool = True, shifts=SHIFTS) -> Rotation:
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
        shift=draw(shifts),
        handoff=draw(st.times()),
        timezone=draw(st.sampled_from(ZONES)),
        start_date=draw(st.dates(date(2000, 1, 1), date(2040, 1, 1))),
        overrides=overrides,
    )


@settings(max_examples=300)
@given(rot=rotations(), at=INSTANTS)
def test_on_call_is_a_rotation_or_override_person_or_nobody_before_the_start(rot, at):
    allowed = set(rot.people) | {o.person for o in rot.overrides}
    who = who_is_on_call(rot, at)
    assert who in allowed or (isinstance(who, Nobody) and at < rot.first_handoff())


@settings(max_examples=300)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_shift_contains_the_instant_and_matches_who_is_on_call(rot, at):
    shift = shift_at(rot, at)
    assert (shift is None) == (at < rot.first_handoff())
    assume(shift is not None)
    assert shift.start <= at < shift.end == next_handoff(rot, at)
    assert who_is_on_call(rot, shift.start) == shift.person
    following = shift_at(rot, shift.end)
    assert following.start == shift.end
    if following.index == shift.index + 1:
        assert following.person != shift.person or len(rot.people) == 1
    else:  # only a shift lying wholly in a DST gap is passed over
        assert rot.divides_day and following.index > shift.index


@settings(max_examples=200)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_one_full_cycle_gives_each_person_exactly_one_shift(rot, at):
    """Unless a sub-day shift lies wholly in a DST gap (that one is empty)."""
    shift, seen, gapless = shift_at(rot, at), [], True
    assume(shift is not None)
    for _ in rot.people:
        seen.append(shift.person)
        following = shift_at(rot, shift.end)
        assert following.start == shift.end and following.index >= shift.index + 1
        gapless = gapless and following.index == shift.index + 1
        if not rot.wall_clock:
            assert shift.end - shift.start == rot.shift
        shift = following
    if gapless:
        assert sorted(seen) == sorted(rot.people)


@settings(max_examples=300)
@given(rot=rotations(with_overrides=False), at=INSTANTS)
def test_whole_day_shifts_hand_off_at_the_local_handoff_time(rot, at):
    """Unless the handoff time does not exist that day (a DST gap)."""
    assume(rot.whole_days)
    zone, shift = ZoneInfo(rot.timezone), shift_at(rot, at)
    assume(shift is not None)
    local = shift.start.astimezone(zone)
    planned = datetime.combine(local.date(), rot.handoff, tzinfo=zone)
    assume(planned.astimezone(UTC).astimezone(zone).time() == rot.handoff)
    assert local.time() == rot.handoff


@settings(max_examples=300)
@given(rot=rotations(with_overrides=False, shifts=DIVIDING_SHIFTS), at=INSTANTS)
def test_shifts_that_divide_a_day_hand_off_at_fixed_local_times(rot, at):
    """At handoff + k * shift local, unless that time does not exist (a DST gap)."""
    assert rot.divides_day
    zone, shift = ZoneInfo(rot.timezone), shift_at(rot, at)
    assume(shift is not None)
    local = shift.start.astimezone(zone).replace(tzinfo=None)
    assume(local.replace(tzinfo=zone).astimezone(UTC) == shift.start)  # that reading exists
    first = datetime.combine(rot.start_date, rot.handoff)
    assert (local - first) % rot.shift == timedelta(0)
