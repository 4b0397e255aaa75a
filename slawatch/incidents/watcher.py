"""The deadline watcher: records due warnings and breaches as timeline events, once each.

The decision is `sla.deadlines.due_deadline_events` (pure); this module only reads
unresolved tickets whose first warning instant has passed and writes the events it
returns. Each event carries the instant it became due, not the watcher's `now`, so a
late or restarted watcher still records when the breach really happened. A unique dedup
key per (ticket, deadline, event) keeps them exactly-once even if two watchers race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from slawatch.incidents.ports import Announcer
from slawatch.model import EventKind, TimelineEvent
from slawatch.sla.deadlines import DeadlineEventKind, DeadlineKind, due_deadline_events
from slawatch.store import tickets as store
from slawatch.store.tickets import TicketRow

__all__ = ["due_events", "record_due"]


def due_events(ticket: TicketRow, already: set[tuple[str, str]], now: datetime) -> list[TimelineEvent]:
    """Timeline events for the warnings and breaches of `ticket` due at `now`.

    While a recovery is in verification its first clear time counts as the recovery
    (it is final unless the condition returns, which clears `recovered_at` again).
    """
    recorded = {(DeadlineKind(d), DeadlineEventKind(k)) for d, k in already}
    out = []
    for deadline, kind, instant in due_deadline_events(
        ticket.deadlines(), ticket.acknowledged_at, ticket.recovered_at, recorded, now
    ):
        event = EventKind.DEADLINE_WARNING if kind is DeadlineEventKind.WARNING else EventKind.DEADLINE_BREACHED
        due = ticket.deadlines().due_for(deadline)
        out.append(
            TimelineEvent(
                ticket.id, event, instant,
                detail={"deadline": deadline.value, "due": due.isoformat()},
                dedup_key=f"{ticket.id}:{deadline.value}:{event.value}",
            )
        )
    return out


def record_due(conn: Connection, now: datetime, announcer: Announcer | None = None) -> list[TimelineEvent]:
    """Find and insert every due deadline event (and its notifications); returns them."""
    candidates = store.with_due_warnings(conn, now)
    if not candidates:
        return []
    recorded = store.deadline_events_of(conn, [t.id for t in candidates])
    events = [e for t in candidates for e in due_events(t, recorded.get(t.id, set()), now)]
    store.insert_events(conn, events)
    if announcer is not None:
        announcer.events(conn, events, now)
    return events
