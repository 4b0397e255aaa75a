"""Per-channel token bucket, with explicit times (the outbox backoff: test_delivery_policy)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.notify.ratelimit import ChannelLimiter, TokenBucket


def test_bucket_allows_a_burst_then_one_per_second() -> None:
    bucket = TokenBucket(rate=1.0, capacity=3.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0


def test_channels_have_their_own_buckets() -> None:
    limiter = ChannelLimiter(rate=1.0, capacity=1.0)
    assert limiter.take("#a", 0.0) == 0.0
    assert limiter.take("#a", 0.0) > 0
    assert limiter.take("#b", 0.0) == 0.0


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_never_more_than_capacity_plus_rate_times_elapsed(gaps: list[float]) -> None:
    bucket = TokenBucket(rate=1.0, capacity=3.0)
    now, sent = 0.0, 0
    for gap in gaps:
        now += gap
        if bucket.take(now) == 0.0:
            sent += 1
    assert sent <= 3 + now * 1.0 + 1e-9
