"""Delivery stages: one step of sending an outbox row each, composed by `notify.dispatcher`.

Which rows are tried at all is decided in SQL (`store.outbox.due`): per ticket only its
head row, per channel only what its budget allows, replies only once their thread
exists, most urgent first. Each selected row then goes through the stages in order.
A stage either lets it through (returns None, possibly after adding to the `Delivery`)
or ends its pass with a named outcome: `Wait` (the row stays queued) or `Done` (the row
is finished). A stage that raises ends the pass too; the dispatcher backs the row off or
dead-letters it. As in Alertmanager's notify pipeline, the policy is the order of the
stages, which `dispatcher.build_stages` spells out.

    throttle  a token bucket per channel
    thread    the ticket's thread and facts as they are now, and whom to mention
    channel   a channel name resolved to its id before the first post (for the lookup)
    render    the message, from the ticket as it is now
    dedup     after a crash, ask Slack whether the post arrived before posting again
    send      send
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
    channel_id: str | None = None  # the top-level channel's id, when known
    marked_sending: bool = False  # committed as `sending`: a failure from here on is ambiguous


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
