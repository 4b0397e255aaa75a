"""Render the message from the ticket as it is now, and send it (unless `dedup` found it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slawatch.model import NotificationKind
from slawatch.notify.messages import EventFacts, MessageRenderer, SlackMessage
from slawatch.notify.senders import Sender
from slawatch.notify.stages import Delivery, Outcome

__all__ = ["RenderAndSend"]


@dataclass
class RenderAndSend:
    sender: Sender
    renderer: MessageRenderer

    def __call__(self, delivery: Delivery) -> Outcome | None:
        if delivery.posted is not None or delivery.nothing_to_send:
            return None  # an earlier attempt made it to Slack, or there is nothing to say
        row = delivery.row
        if row.kind is NotificationKind.UPDATE:
            assert delivery.thread is not None
            if delivery.thread.own_message:  # a digest line is not updated
                self.sender.update(delivery.thread.channel, delivery.thread.ts, self._render(delivery))
            return None
        channel, thread_ts = (delivery.thread.channel, delivery.thread.ts) if delivery.thread else (row.channel, None)
        delivery.posted = self.sender.post(channel, self._render(delivery), thread_ts, row.id)
        return None

    def _render(self, delivery: Delivery) -> SlackMessage:
        row, tickets, mentions = delivery.row, delivery.tickets, delivery.mentions
        if row.kind is NotificationKind.DIGEST:
            return self.renderer.digest(tickets, mentions)
        if row.kind is NotificationKind.EVENT:
            p = row.payload
            escalation = p.get("escalation")
            detail = {**p.get("detail", {}), **({"level": escalation["level"], "reason": escalation["reason"]}
                                                 if escalation else {})}
            event = EventFacts(p["kind"], datetime.fromisoformat(p["at"]), p.get("actor"), detail)
            return self.renderer.event(tickets[0], event, mentions)
        return self.renderer.opening(tickets[0], mentions)
