"""Exactly once: a row is marked `sending` before its post, and a `sending` row is first
looked up in Slack (by the outbox id in the message metadata) before it is posted again.

A row is `sending` after a crash between post and mark-sent, or after an ambiguous
failure (a 5xx or a lost reply). When Slack cannot be asked (no channel id, a lookup
error such as missing_scope or not_in_channel), nobody knows whether the post arrived:
the row stays `sending` and the lookup is retried; it is never resent blindly.
chat.update is idempotent and is never looked up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import structlog
from sqlalchemy import Engine

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.notify.senders import ErrorClass, Sender, SendFailed
from slawatch.notify.stages import Delivery, Outcome
from slawatch.store import outbox as outbox_store

__all__ = ["AlreadySent"]

log = structlog.get_logger()
LOOKBACK = timedelta(minutes=5)  # Slack's clock and ours may disagree a little


@dataclass
class AlreadySent:
    engine: Engine
    sender: Sender
    clock: Callable[[], datetime] = field(default=lambda: datetime.min)

    def __call__(self, delivery: Delivery) -> Outcome | None:
        row = delivery.row
        if row.kind is NotificationKind.UPDATE or delivery.nothing_to_send:
            return None
        if row.status is OutboxStatus.SENDING:
            delivery.marked_sending = True
            channel = delivery.thread.channel if delivery.thread else delivery.channel_id
            thread_ts = delivery.thread.ts if delivery.thread else None
            if channel is None:
                raise SendFailed(f"cannot check whether row {row.id} reached {row.channel}: its channel id is unknown",
                                 ambiguous=True, code="lookup_impossible", error_class=ErrorClass.TRANSIENT)
            since = (row.created_at or self.clock()) - LOOKBACK
            try:
                delivery.posted = self.sender.find(channel, thread_ts, row.id, since)
            except SendFailed as exc:
                raise SendFailed(f"lookup failed: {exc}", retry_after=exc.retry_after, ambiguous=True,
                                 code=exc.code, error_class=ErrorClass.TRANSIENT) from None
            if delivery.posted is not None:
                log.info("notification_found_already_sent", outbox_id=row.id, ticket_id=row.ticket_id)
            return None
        with self.engine.begin() as conn:
            outbox_store.mark(conn, row.id, OutboxStatus.SENDING)
        delivery.marked_sending = True
        return None
