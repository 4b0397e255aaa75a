"""Monthly SLA maths: ratios, targets, means, intervals, availability, error budgets."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.report import attainment

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def span(a: float, b: float) -> tuple[datetime, datetime]:
    return at(a), at(b)


@pytest.mark.parametrize(
    ("met", "breached", "expected"),
    [(0, 0, None), (3, 0, 1.0), (0, 2, 0.0), (19, 1, 0.95), (1, 2, 1 / 3)],
)
def test_attainment_is_met_over_decided_and_none_when_nothing_was_decided(met, breached, expected) -> None:
    assert attainment.ratio(met, breached) == expected


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [(None, 0.95, None), (0.95, 0.95, True), (0.9499, 0.95, False), (1.0, 0.999, True)],
)
def test_a_target_is_met_at_or_above_it_and_unjudged_without_a_value(value, target, expected) -> None:
    assert attainment.target_met(value, target) is expected


def test_mean_of_nothing_is_none() -> None:
    assert attainment.mean(0.0, 0) is None
    assert attainment.mean(None, 3) is None
    assert attainment.mean(12.0, 4) == 3.0


def test_merge_joins_overlapping_and_touching_intervals_and_drops_empty_ones() -> None:
    merged = attainment.merge([span(10, 20), span(0, 5), span(15, 30), span(30, 31), span(40, 40), span(50, 45)])
    assert merged == [span(0, 5), span(10, 31)]


def test_clip_keeps_the_parts_inside_the_window() -> None:
    assert attainment.clip([span(-10, 5), span(20, 30), span(55, 70), span(80, 90)], at(0), at(60)) == [
        span(0, 5), span(20, 30), span(55, 60),
    ]


def test_subtract_removes_the_holes() -> None:
    assert attainment.subtract([span(0, 100)], [span(10, 20), span(15, 30), span(90, 120)]) == [
        span(0, 10), span(30, 90),
    ]
    assert attainment.subtract([span(0, 10), span(20, 30)], [span(5, 25)]) == [span(0, 5), span(25, 30)]
    assert attainment.subtract([span(0, 10)], []) == [span(0, 10)]
    assert attainment.subtract([span(0, 10)], [span(-5, 15)]) == []


def test_seconds_adds_lengths() -> None:
    assert attainment.seconds([span(0, 1), span(10, 12.5)]) == 210.0


intervals = st.lists(
    st.tuples(st.integers(-100, 1_000), st.integers(0, 200)).map(lambda p: span(p[0], p[0] + p[1])), max_size=25
)


def _covered(items: list[tuple[datetime, datetime]], minute: int) -> bool:
    point = at(minute + 0.5)
    return any(s <= point < e for s, e in items)


@given(intervals)
def test_merged_intervals_are_sorted_disjoint_and_cover_exactly_the_union(items) -> None:
    merged = attainment.merge(items)
    assert all(s < e for s, e in merged)
    assert all(a[1] < b[0] for a, b in zip(merged, merged[1:]))  # disjoint and not touching
    for minute in range(-100, 1_200):
        assert _covered(merged, minute) == _covered(items, minute)


@given(intervals, intervals)
def test_subtracted_intervals_cover_what_is_in_one_and_not_the_other(items, holes) -> None:
    left = attainment.subtract(items, holes)
    assert left == attainment.merge(left)
    for minute in range(-100, 1_200):
        assert _covered(left, minute) == (_covered(items, minute) and not _covered(holes, minute))


MONTH = 31 * 86_400 + 3_600  # October 2026 in Europe/Berlin


def test_availability_is_one_minus_downtime_over_observed_time() -> None:
    assert attainment.availability(0, MONTH, 0) == 1.0
    assert attainment.availability(2_682, MONTH, 0) == pytest.approx(1 - 2_682 / MONTH)
    # an hour unknown shrinks the denominator, and is not counted as up
    assert attainment.availability(1_800, MONTH, 3_600) == pytest.approx(1 - 1_800 / (MONTH - 3_600))
    assert attainment.availability(0, MONTH, MONTH) is None


@given(st.floats(0, MONTH), st.floats(0, MONTH))
def test_availability_stays_within_zero_and_one(down, unknown) -> None:
    value = attainment.availability(down, MONTH, unknown)
    assert value is None or 0.0 <= value <= 1.0


def test_error_budget_is_the_allowed_share_of_the_observed_month() -> None:
    budget = attainment.error_budget(0.999, MONTH, 3_600, 1_339.2)
    assert budget.budget_seconds == pytest.approx(0.001 * (MONTH - 3_600))  # 2,678.4 s
    assert budget.used_seconds == 1_339.2
    assert budget.used_ratio == pytest.approx(0.5)


def test_an_overspent_budget_has_a_ratio_above_one_and_a_zero_budget_none() -> None:
    assert attainment.error_budget(0.999, MONTH, 0, 5_364).used_ratio == pytest.approx(2.0, rel=1e-3)
    assert attainment.error_budget(1.0, MONTH, 0, 0).used_ratio is None
    assert math.isclose(attainment.error_budget(0.99, 100.0, 0, 0).budget_seconds, 1.0)
