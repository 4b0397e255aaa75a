"""Human actions on tickets: acknowledge and resolve by hand.

Shared by the CLI and the Slack buttons (`web`). Each action locks the
ticket row, checks the transition is allowed, and writes the change and its timeline
event in one transaction. A refused action changes nothing and says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from slawatch.incidents.ports import Announcer
from slawatch.model import EventKind, Resolution, TicketStatus, TimelineEvent
from slawatch.store import tickets as store
from slawatch.store.tickets import TicketRow


class ActionRefused(Exception):
    """The action is not allowed in the ticket's current state (or it does not exist)."""


def _load(conn: Connection, ticket_id: int) -> TicketRow:
    ticket = store.get(conn, ticket_id, for_update=True)
    if ticket is None:
        raise ActionRefused(f"ticket {ticket_id} does not exist")
    return ticket


def acknowledge(
    conn: Connection, ticket_id: int, by: str, at: datetime, announcer: Announcer | None = None
) -> TicketRow:
    """Record the response; refused if already acknowledged or resolved."""
    ticket = _load(conn, ticket_id)
    if ticket.status is TicketStatus.RESOLVED:
        raise ActionRefused(f"ticket {ticket_id} is resolved; nothing to acknowledge")
    if ticket.acknowledged_at is not None:
        raise ActionRefused(
            f"ticket {ticket_id} was already acknowledged by {ticket.acknowledged_by} at {ticket.acknowledged_at.isoformat()}"
        )
    store.update_ticket(conn, ticket_id, status=TicketStatus.ACKNOWLEDGED.value, acknowledged_at=at, acknowledged_by=by)
    _record(conn, ticket_id, EventKind.ACKNOWLEDGED, at, by, {"response_seconds": (at - ticket.opened_at).total_seconds()}, announcer)
    return _load(conn, ticket_id)


def resolve(
    conn: Connection, ticket_id: int, by: str, note: str, at: datetime, announcer: Announcer | None = None
) -> TicketRow:
    """Resolve by hand (recorded as manual, with the note); refused if already resolved."""
    ticket = _load(conn, ticket_id)
    if ticket.status is TicketStatus.RESOLVED:
        raise ActionRefused(f"ticket {ticket_id} is already resolved ({ticket.resolution})")
    store.update_ticket(
        conn, ticket_id, status=TicketStatus.RESOLVED.value, resolved_at=at, resolved_by=by,
        resolution=Resolution.MANUAL.value, open_identity=None,
    )
    _record(conn, ticket_id, EventKind.RESOLVED_MANUALLY, at, by, {"note": note}, announcer)
    return _load(conn, ticket_id)


def _record(
    conn: Connection, ticket_id: int, kind: EventKind, at: datetime, by: str, detail: dict[str, Any],
    announcer: Announcer | None,
) -> None:
    """The timeline event and, when notifications are on, its outbox rows: one transaction."""
    event = TimelineEvent(ticket_id, kind, at, actor=by, detail=detail)
    store.insert_events(conn, [event])
    if announcer is not None:
        announcer.events(conn, [event], at)
