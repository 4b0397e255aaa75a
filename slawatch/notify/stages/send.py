"""Send the rendered message, unless `dedup` found it already in Slack."""

from __future__ import annotations

from dataclasses import dataclass

from slawatch.model import NotificationKind
from slawatch.notify.senders import Sender
from slawatch.notify.stages import Delivery, Outcome

__all__ = ["Send"]


@dataclass
class Send:
    sender: Sender

    def __call__(self, delivery: Delivery) -> Outcome | None:
        if delivery.posted is not None or delivery.nothing_to_send:
            return None  # an earlier attempt made it to Slack, or there is nothing to say
        row, message = delivery.row, delivery.message
        assert message is not None
        if row.kind is NotificationKind.UPDATE:
            assert delivery.thread is not None
            if delivery.thread.own_message:  # a digest line is not updated
                self.sender.update(delivery.thread.channel, delivery.thread.ts, message)
            return None
        if delivery.thread is not None:
            delivery.posted = self.sender.post(delivery.thread.channel, message, delivery.thread.ts, row.id)
        else:
            delivery.posted = self.sender.post(delivery.channel_id or row.channel, message, None, row.id)
        return None
