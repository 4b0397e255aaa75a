"""Exactly once: a row is marked `sending` before its post, and a `sending` row is first
looked up in Slack (by the outbox id in the message metadata) before it is posted again.

A row is `sending` after a crash between post and mark-sent, or after an ambiguous
failure (a 5xx or a lost reply). chat.update is idempotent and is never looked up.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import Engine

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.notify.senders import Sender
from slawatch.notify.stages import Delivery, Outcome
from slawatch.store import outbox as outbox_store

__all__ = ["AlreadySent"]

log = structlog.get_logger()


@dataclass
class AlreadySent:
    engine: Engine
    sender: Sender

    def __call__(self, delivery: Delivery) -> Outcome | None:
        row = delivery.row
        if row.kind is NotificationKind.UPDATE or delivery.nothing_to_send:
            return None
        if row.status is OutboxStatus.SENDING:
            channel, thread_ts = (delivery.thread.channel, delivery.thread.ts) if delivery.thread else (row.channel, None)
            delivery.posted = self.sender.find(channel, thread_ts, row.id)
            if delivery.posted is not None:
                log.info("notification_found_already_sent", outbox_id=row.id, ticket_id=row.ticket_id)
            return None
        with self.engine.begin() as conn:
            outbox_store.mark(conn, row.id, OutboxStatus.SENDING)
        return None
