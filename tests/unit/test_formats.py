"""Durations and ratios for people: one formatter each, in the layouts Slack and the report use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.templates.formats import AVAILABILITY_DIGITS, human_duration, percent


@pytest.mark.parametrize(
    ("value", "sentence", "column"),
    [
        (None, "n/a", "n/a"),
        (0, "0s", "0s"),
        (45, "45s", "45s"),
        (90, "1m 30s", "1m 30s"),
        (300, "5m", "5m 00s"),
        (750, "12m 30s", "12m 30s"),
        (3600, "1h", "1h 00m"),
        (3900, "1h 5m", "1h 05m"),
        (3959, "1h 5m", "1h 05m"),
        (86_580, "1d", "1d 00h"),  # a day and three minutes: the minutes are not the second unit
        (183_600, "2d 3h", "2d 03h"),
        (-300, "-5m", "-5m 00s"),
        (timedelta(hours=1, minutes=5, seconds=59), "1h 5m", "1h 05m"),
    ],
)
def test_a_duration_is_its_two_largest_units_padded_only_for_columns(value: Any, sentence: str, column: str) -> None:
    assert human_duration(value) == sentence
    assert human_duration(value, padded=True) == column


@pytest.mark.parametrize(
    ("value", "dropped", "rounded"),
    [(59.6, "59s", "1m 00s"), (0.5, "0s", "0s"), (1.5, "1s", "2s"), (-59.6, "-59s", "-1m 00s"),
     (timedelta(minutes=4, seconds=59, microseconds=700_000), "4m 59s", "5m 00s")],
)
def test_fractions_of_a_second_are_dropped_unless_rounding_is_asked(value: Any, dropped: str, rounded: str) -> None:
    assert human_duration(value, padded=True) == dropped
    assert human_duration(value, padded=True, rounded=True) == rounded


@given(st.integers(-10**8, 10**8))
def test_seconds_and_a_timedelta_of_them_read_the_same(seconds: int) -> None:
    assert human_duration(seconds) == human_duration(timedelta(seconds=seconds))
    assert human_duration(seconds, padded=True) == human_duration(float(seconds), padded=True, rounded=True)


@pytest.mark.parametrize(
    ("ratio", "digits", "shown"),
    [
        (None, 1, "n/a"), (0.975, 1, "97.5 %"), (1.0, 1, "100.0 %"), (0.99995, 1, "99.9 %"), (0, 1, "0.0 %"),
        (1.42, 1, "142.0 %"), (0.99942, 3, "99.942 %"), (0.9999999, 3, "99.999 %"), (0.5, 0, "50 %"),
    ],
)
def test_percent_never_rounds_a_shortfall_up_to_100(ratio: float | None, digits: int, shown: str) -> None:
    assert percent(ratio, digits) == shown


@pytest.mark.parametrize(("ratio", "digits", "shown"), [(0.995, 3, "99.5 %"), (1.0, 2, "100 %"), (1.0, 0, "100 %")])
def test_trimmed_percentages_drop_trailing_zeros(ratio: float, digits: int, shown: str) -> None:
    assert percent(ratio, digits, trim=True) == shown


@given(st.floats(0, 1, exclude_max=True), st.integers(0, 4))
def test_a_ratio_below_one_shows_below_100(ratio: float, digits: int) -> None:
    assert float(percent(ratio, digits).removesuffix(" %")) < 100


def test_availability_digits_tell_a_miss_from_its_target() -> None:
    assert percent(0.99862, AVAILABILITY_DIGITS) != percent(0.999, AVAILABILITY_DIGITS)
