"""The interfaces `incidents` needs from the rest of slawatch, declared by it (the consumer).

Deciding code depends on these small Protocols, never on the concrete notifier: tests
pass a recording fake, the daemon passes `notify.announce.Announcer`, and a CLI without
Slack passes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Protocol, Sequence

from sqlalchemy import Connection

from slawatch.model import TimelineEvent

__all__ = ["Announcer", "OpenedTicket", "Routing"]


@dataclass(frozen=True)
class Routing:
    """Where a new ticket's messages go and whom it pages, decided once at open."""

    channel: str | None = None
    escalation: str | None = None  # JSON of the escalation policy, frozen with its rotations


@dataclass(frozen=True)
class OpenedTicket:
    ticket_id: int
    channel: str | None


class Announcer(Protocol):
    """Queues the notifications of ticket changes in the caller's transaction."""

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        """Routing and the on-call snapshot stored on a ticket when it opens."""
        ...

    def opened(self, conn: Connection, opened: Sequence[OpenedTicket], at: datetime) -> None:
        """Opening messages (or one digest per channel) for tickets opened at `at`."""
        ...

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        """Thread replies and status updates for timeline events of existing tickets."""
        ...
