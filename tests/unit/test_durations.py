"""Prometheus-style durations."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.config.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("15s", timedelta(seconds=15)),
        ("1m30s", timedelta(seconds=90)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
    ],
)
def test_parses_prometheus_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 min", "1.5h", "30m1h", "-1s", "1x"])
def test_rejects_what_prometheus_rejects(text: str) -> None:
    with pytest.raises(DurationError, match="not a valid duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_format_then_parse_is_identity(ms: int) -> None:
    delta = timedelta(milliseconds=ms)
    assert parse_duration(format_duration(delta)) == delta
