"""Resolve a channel name to its id before the first post, and keep it on the row.

chat.postMessage accepts `#alerts`, but the after-crash lookup (conversations.history)
needs the id. Resolving first (a cached name, else conversations.list) and storing the
id on the row before it is marked `sending` means a crash between post and mark-sent
can always be checked. When a name cannot be resolved (the app lacks channels:read, or
conversations.list does not list it), the post goes ahead by name and Slack is the
judge; its answer records the id. Only a crash inside that first post is then left
unresolvable, and the row waits for a human (`slawatch notifications retry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import structlog
from sqlalchemy import Engine, update

from slawatch.model import NotificationKind
from slawatch.notify.senders import Sender, SendFailed, is_channel_id
from slawatch.notify.stages import Delivery, Outcome
from slawatch.store import outbox as outbox_store
from slawatch.store.schema import notifications

__all__ = ["ResolveChannel"]

log = structlog.get_logger()
_TOP_LEVEL = (NotificationKind.OPENING, NotificationKind.DIGEST, NotificationKind.DEAD_LETTER, NotificationKind.ESCALATION)


@dataclass
class ResolveChannel:
    engine: Engine
    sender: Sender
    clock: Callable[[], datetime]

    def __call__(self, delivery: Delivery) -> Outcome | None:
        row = delivery.row
        if row.kind not in _TOP_LEVEL or delivery.nothing_to_send:
            return None
        if row.channel_id or is_channel_id(row.channel):
            delivery.channel_id = row.channel_id or row.channel
            return None
        with self.engine.connect() as conn:
            known = outbox_store.channel_id(conn, row.channel)
        if known is None:
            try:
                known = self.sender.channel_id(row.channel)
            except SendFailed as exc:
                log.warning("channel_resolve_failed", channel=row.channel, error=str(exc), outbox_id=row.id)
                return None  # post by name; the answer gives the id
            if known is None:
                return None  # post by name; chat.postMessage says whether it exists
        with self.engine.begin() as conn:
            outbox_store.remember_channel(conn, row.channel, known, self.clock())
            conn.execute(update(notifications).where(notifications.c.id == row.id).values(channel_id=known))
        delivery.channel_id = known
        return None
