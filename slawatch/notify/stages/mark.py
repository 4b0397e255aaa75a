"""Mark sent, only after Slack said ok: record where the thread lives and close the row.

An opening message becomes its ticket's thread (updatable); a digest becomes the thread
of every ticket it lists. A sent update covers the older pending updates of its ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import Engine

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.notify.stages import Delivery, Done, Outcome
from slawatch.store import outbox as outbox_store

__all__ = ["MarkSent"]


@dataclass
class MarkSent:
    engine: Engine
    clock: Callable[[], datetime]

    def __call__(self, delivery: Delivery) -> Outcome | None:
        row, posted, now = delivery.row, delivery.posted, self.clock()
        with self.engine.begin() as conn:
            if row.kind in (NotificationKind.OPENING, NotificationKind.DIGEST) and posted is not None:
                ids = [t.id for t in delivery.tickets]
                if ids:
                    outbox_store.set_threads(conn, ids, posted.channel, posted.ts, row.kind is NotificationKind.OPENING)
            if posted is not None and delivery.thread is None:
                outbox_store.remember_channel(conn, row.channel, posted.channel, now)
            if row.kind is NotificationKind.UPDATE and row.ticket_id is not None:
                outbox_store.supersede_updates(conn, row.ticket_id, row.id, now)
            outbox_store.mark(conn, row.id, OutboxStatus.SENT, sent_at=now, last_error=None)
        return Done("sent", now)
