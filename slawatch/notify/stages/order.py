"""Order gate: a ticket's notifications go out strictly in the order they were queued.

A row waits while an older row of its ticket is unsent, even one that is not due yet
(backing off after a failure), and once a row of a ticket waits in a pass, the ticket's
later rows wait too. Digests belong to no ticket and are never held by this gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slawatch.notify.stages import Delivery, Outcome, Wait

__all__ = ["TicketOrder"]


@dataclass
class TicketOrder:
    """Per pass: `queues` are the unsent row ids of each ticket, oldest first."""

    queues: dict[int, list[int]]
    held: set[int] = field(default_factory=set)

    def __call__(self, delivery: Delivery) -> Outcome | None:
        ticket = delivery.row.ticket_id
        if ticket is None:
            return None
        if ticket in self.held or self.queues[ticket][0] != delivery.row.id:
            return Wait("behind_older_row")
        return None

    def settle(self, delivery: Delivery, outcome: Outcome) -> None:
        """After the row's pass: a finished row lets the next one go, a waiting row holds its ticket."""
        ticket = delivery.row.ticket_id
        if ticket is None:
            return
        if isinstance(outcome, Wait):
            self.held.add(ticket)
        elif self.queues[ticket] and self.queues[ticket][0] == delivery.row.id:
            self.queues[ticket].pop(0)
