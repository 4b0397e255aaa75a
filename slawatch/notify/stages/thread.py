"""Context: the ticket's thread and facts as they are now, and whom the row mentions.

A thread reply or an update is selected only once its ticket's thread exists (the
opening message, or the digest that listed it, is out), or once its opening failed: then
it fails too. A row whose ticket no longer exists is marked sent with nothing posted. Mentions
were decided when the row was queued (`notify.announce`); emails among them are looked up
here, the only point where delivery needs Slack's user directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine

from slawatch.model import NotificationKind
from slawatch.notify.messages import Mention, TicketFacts, mention
from slawatch.notify.senders import ErrorClass, SendFailed
from slawatch.notify.stages import Delivery, Outcome
from slawatch.store import outbox as outbox_store
from slawatch.store import tickets as tickets_store

__all__ = ["LoadContext", "ticket_facts"]


def ticket_facts(engine: Engine, ticket_id: int) -> TicketFacts | None:
    """What a message may say about a ticket, read now (the status shown is the current one)."""
    with engine.connect() as conn:
        t = tickets_store.get(conn, ticket_id)
        if t is None:
            return None
        series = tickets_store.series(conn, t)
    return TicketFacts(
        t.id, t.priority, t.status, t.rule, t.labels, t.annotations, series, t.series_count, t.opened_at,
        t.response_due, t.recovery_due, t.acknowledged_at, t.acknowledged_by, t.recovered_at, t.resolved_at,
        t.resolution,
    )


@dataclass
class LoadContext:
    engine: Engine
    user_for_email: Callable[[str], str | None]

    def __call__(self, delivery: Delivery) -> Outcome | None:
        row = delivery.row
        if row.kind is NotificationKind.DEAD_LETTER:
            return None  # about another row; its payload says everything
        if row.kind in (NotificationKind.EVENT, NotificationKind.UPDATE):
            assert row.ticket_id is not None
            with self.engine.connect() as conn:
                delivery.thread = outbox_store.thread(conn, row.ticket_id)
            if delivery.thread is None:  # selected without a thread: its opening was dead-lettered
                raise SendFailed("its ticket's opening message could not be delivered", code="opening_failed",
                                 error_class=ErrorClass.PERMANENT)
        ids = row.payload["ticket_ids"] if row.kind is NotificationKind.DIGEST else [row.ticket_id]
        delivery.tickets = [f for f in (ticket_facts(self.engine, i) for i in ids if i is not None) if f is not None]
        if row.kind is not NotificationKind.DIGEST and not delivery.tickets:
            delivery.nothing_to_send = "ticket_gone"
        delivery.mentions = [self._mention(target) for target in row.payload.get("mentions", [])]
        return None

    def _mention(self, target: str) -> Mention:
        """Mentions are slawatch-made (`<@U…>`, `<#C…>`) or emails to look up."""
        if target.startswith(("<@", "<#")):
            return Mention(target)
        if "@" in target:
            user = self.user_for_email(target)
            return mention(user) if user else mention(target)
        return mention(target)
