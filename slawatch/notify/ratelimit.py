"""A token bucket per Slack channel (Slack allows about one message per second each).

Pure: the caller passes monotonic seconds; `take` says how long to wait, or 0 and
consumes a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float = 3.0  # short bursts, as Slack tolerates
    tokens: float = field(default=-1.0)
    updated: float = field(default=0.0)

    def take(self, now: float) -> float:
        """Consume a token if one is available (return 0.0), else the seconds to wait."""
        if self.tokens < 0:  # first use starts full
            self.tokens, self.updated = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class ChannelLimiter:
    """One bucket per channel, created on first use."""

    def __init__(self, rate: float, capacity: float = 3.0) -> None:
        self.rate, self.capacity = rate, capacity
        self._buckets: dict[str, TokenBucket] = {}
        self._paused_until: dict[str, float] = {}

    def take(self, channel: str, now: float) -> float:
        paused = self._paused_until.get(channel, 0.0) - now
        if paused > 0:
            return paused
        bucket = self._buckets.setdefault(channel, TokenBucket(self.rate, self.capacity))
        return bucket.take(now)

    def pause(self, channel: str, seconds: float, now: float) -> None:
        """Slack said 429 with Retry-After: the whole channel waits, not just one row."""
        self._paused_until[channel] = max(self._paused_until.get(channel, 0.0), now + seconds)

    @property
    def burst(self) -> int:
        """The most rows one channel can send in one pass."""
        return max(1, int(self.capacity))
