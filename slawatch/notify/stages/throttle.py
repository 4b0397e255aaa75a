"""Rate limit: one token bucket per Slack channel (Slack allows about one message a second)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.stages import Delivery, Outcome, Wait

__all__ = ["ChannelRate"]


@dataclass
class ChannelRate:
    limiter: ChannelLimiter
    monotonic: Callable[[], float]

    def __call__(self, delivery: Delivery) -> Outcome | None:
        wait = self.limiter.take(delivery.row.channel, self.monotonic())
        return Wait("rate_limited", wait) if wait > 0 else None
