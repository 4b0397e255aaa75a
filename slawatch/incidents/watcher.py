"""The deadline watcher: records due warnings and breaches as timeline events, once each.

The decision is `sla.due_deadline_events` (pure); this module only reads unresolved
tickets whose first warning instant has passed and writes the events it returns. Each
event carries the instant it became due, not the watcher's `now`, so a late or
restarted watcher still records when the breach really happened. A unique dedup key
per (ticket, deadline, event) keeps them exactly-once even if two watchers race.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from slawatch.model import EventKind
from slawatch.notify.announce import Announcer
from slawatch.sla.deadlines import DeadlineEventKind, DeadlineKind, due_deadline_events
from slawatch.store import tickets as store
from slawatch.store.tickets import TicketRow


def due_events(ticket: TicketRow, already: set[tuple[str, str]], now: datetime) -> list[dict[str, Any]]:
    """Timeline rows for the warnings and breaches of `ticket` due at `now`.

    While a recovery is in verification its first clear time counts as the recovery
    (it is final unless the condition returns, which clears `recovered_at` again).
    """
    recorded = {(DeadlineKind(d), DeadlineEventKind(k)) for d, k in already}
    rows = []
    for deadline, kind, instant in due_deadline_events(
        ticket.deadlines(), ticket.acknowledged_at, ticket.recovered_at, recorded, now
    ):
        event = EventKind.DEADLINE_WARNING if kind is DeadlineEventKind.WARNING else EventKind.DEADLINE_BREACHED
        due = ticket.response_due if deadline is DeadlineKind.RESPONSE else ticket.recovery_due
        rows.append(
            {
                "ticket_id": ticket.id,
                "kind": event.value,
                "at": instant,
                "detail": json.dumps({"deadline": deadline.value, "due": due.isoformat()}),
                "dedup_key": f"{ticket.id}:{deadline.value}:{event.value}",
            }
        )
    return rows


def record_due(conn: Connection, now: datetime, announcer: Announcer | None = None) -> list[dict[str, Any]]:
    """Find and insert every due deadline event (and its notifications); returns the rows."""
    candidates = store.with_due_warnings(conn, now)
    if not candidates:
        return []
    recorded = store.deadline_events_of(conn, [t.id for t in candidates])
    rows = [row for t in candidates for row in due_events(t, recorded.get(t.id, set()), now)]
    store.insert_events(conn, rows)
    if announcer is not None:
        announcer.events(conn, rows, now)
    return rows
