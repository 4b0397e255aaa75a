"""Render the message from the ticket as it is now (before anything is marked `sending`,
so a template that fails leaves the row plainly pending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slawatch.model import NotificationKind
from slawatch.notify.deadletter import dead_letter_message
from slawatch.notify.messages import EventFacts, MessageRenderer, SlackMessage
from slawatch.notify.stages import Delivery, Outcome

__all__ = ["Render"]


@dataclass
class Render:
    renderer: MessageRenderer

    def __call__(self, delivery: Delivery) -> Outcome | None:
        if not delivery.nothing_to_send:
            delivery.message = self._render(delivery)
        return None

    def _render(self, delivery: Delivery) -> SlackMessage:
        row, tickets, mentions = delivery.row, delivery.tickets, delivery.mentions
        if row.kind is NotificationKind.DEAD_LETTER:
            return dead_letter_message(row.payload)
        if row.kind is NotificationKind.DIGEST:
            return self.renderer.digest(tickets, mentions)
        if row.kind in (NotificationKind.EVENT, NotificationKind.ESCALATION):
            p = row.payload
            detail = {**p.get("detail", {}), **(p.get("escalation") or {})}  # the step it announces
            event = EventFacts(p["kind"], datetime.fromisoformat(p["at"]), p.get("actor"), detail)
            if row.kind is NotificationKind.ESCALATION:
                return self.renderer.escalation(tickets[0], event, mentions)
            return self.renderer.event(tickets[0], event, mentions)
        return self.renderer.opening(tickets[0], mentions)
