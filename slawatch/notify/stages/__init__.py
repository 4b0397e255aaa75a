"""Delivery stages: one step of sending an outbox row each, composed by `notify.dispatcher`.

A row goes through the stages in order. Each stage either lets it through (returns
None, possibly after adding to the `Delivery`) or ends its pass with a named outcome:
`Wait` (the row stays queued; later rows of its ticket wait behind it) or `Done` (the
row is finished). As in Alertmanager's notify pipeline, the policy is the order of the
stages, which `dispatcher.build_stages` spells out.

    order     a ticket's rows go strictly in order
    throttle  a token bucket per channel
    thread    replies and updates wait for their thread; facts are loaded as they are now
    dedup     after a crash, ask Slack whether the post arrived before posting again
    send      render and send
    mark      mark the row sent, after Slack said ok
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from slawatch.notify.messages import Mention, SlackMessage, TicketFacts
from slawatch.notify.senders import Posted
from slawatch.store.outbox import OutboxRow, Thread

__all__ = ["Delivery", "Done", "Outcome", "Stage", "Wait"]


@dataclass
class Delivery:
    """One outbox row on its way through the stages, and what they found out about it."""

    row: OutboxRow
    thread: Thread | None = None
    tickets: list[TicketFacts] = field(default_factory=list)  # one, or a digest's
    mentions: list[Mention] = field(default_factory=list)
    message: SlackMessage | None = None
    posted: Posted | None = None  # set by `dedup` (found) or `send` (posted)
    nothing_to_send: str | None = None  # why the row is finished without a message


@dataclass(frozen=True)
class Wait:
    """The row stays queued this pass; `retry_in` seconds is when it is worth retrying."""

    reason: str
    retry_in: float | None = None


@dataclass(frozen=True)
class Done:
    """The row is finished (sent, or nothing left to send)."""

    reason: str
    at: datetime | None = None


Outcome = Wait | Done


class Stage(Protocol):
    def __call__(self, delivery: Delivery) -> Outcome | None: ...
