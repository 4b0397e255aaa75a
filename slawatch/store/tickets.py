"""Every SQL statement about tickets, their series and their timeline (SQLAlchemy Core).

Writes take an open Connection so the caller decides the transaction: one tick's
ticket changes, alert state and outbox rows commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, and_, func, insert, select, update

from slawatch.escalation import Progress
from slawatch.incidents.lifecycle import ManuallyResolved, OpenTicket
from slawatch.model import EventKind, Priority, Resolution, TicketStatus, TimelineEvent
from slawatch.sla.deadlines import Deadlines
from slawatch.store.schema import ticket_events, ticket_series, tickets

UNRESOLVED = (TicketStatus.OPEN.value, TicketStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class TicketRow:
    """A ticket as read back, with parsed JSON."""

    id: int
    identity: str
    rule: str
    priority: Priority
    status: TicketStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    series_count: int
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    recovered_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: Resolution | None
    response_due: datetime
    recovery_due: datetime
    response_warn_at: datetime
    recovery_warn_at: datetime
    verification_seconds: float
    channel: str | None = None
    escalation: str | None = None  # JSON of the escalation policy frozen at open
    service: str | None = None
    escalation_due_at: datetime | None = None  # when an `after` step is next due

    def deadlines(self) -> Deadlines:
        """The SLA snapshot stored at open."""
        return Deadlines(self.response_due, self.recovery_due, self.response_warn_at, self.recovery_warn_at)


_TICKET_COLUMNS = [tickets.c[name] for name in TicketRow.__dataclass_fields__]


def _ticket(row: Any) -> TicketRow:
    values = dict(row._mapping)
    values["labels"] = json.loads(values["labels"])
    values["annotations"] = json.loads(values["annotations"])
    values["priority"] = Priority(values["priority"])
    values["status"] = TicketStatus(values["status"])
    values["resolution"] = Resolution(values["resolution"]) if values["resolution"] else None
    return TicketRow(**values)


def open_for_group(conn: Connection, group_key: str) -> list[OpenTicket]:
    """Unresolved tickets of a rule group, with the fingerprints of their series."""
    rows = conn.execute(
        select(tickets.c.id, tickets.c.identity, tickets.c.rule_key, tickets.c.recovered_at, tickets.c.verification_seconds)
        .where(and_(tickets.c.group_key == group_key, tickets.c.status.in_(UNRESOLVED)))
    ).all()
    if not rows:
        return []
    fps: dict[int, set[str]] = {}
    series = conn.execute(
        select(ticket_series.c.ticket_id, ticket_series.c.fingerprint)
        .join(tickets, tickets.c.id == ticket_series.c.ticket_id)
        .where(and_(tickets.c.group_key == group_key, tickets.c.status.in_(UNRESOLVED)))
    )
    for ticket_id, fp in series:
        fps.setdefault(ticket_id, set()).add(fp)
    return [
        OpenTicket(r.id, r.identity, r.rule_key, r.recovered_at, timedelta(seconds=r.verification_seconds), frozenset(fps.get(r.id, ())))
        for r in rows
    ]


def manually_resolved(conn: Connection, identities: Iterable[str]) -> dict[str, ManuallyResolved]:
    """For each identity, its latest ticket if that was resolved by hand before recovering."""
    identities = list(identities)
    out: dict[str, ManuallyResolved] = {}
    for start in range(0, len(identities), 500):
        chunk = identities[start : start + 500]
        latest = (
            select(tickets.c.identity, func.max(tickets.c.id).label("id"))
            .where(tickets.c.identity.in_(chunk))
            .group_by(tickets.c.identity)
            .subquery()
        )
        rows = conn.execute(
            select(tickets.c.id, tickets.c.identity, tickets.c.resolved_at)
            .join(latest, latest.c.id == tickets.c.id)
            .where(and_(tickets.c.resolution == Resolution.MANUAL.value, tickets.c.recovered_at.is_(None)))
        )
        out.update({r.identity: ManuallyResolved(r.id, r.identity, r.resolved_at) for r in rows})
    return out


def insert_tickets(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert unresolved tickets; their ids come back in input order.

    A plain executemany (pipelined by psycopg) then one lookup by `open_identity` is
    several times faster on PostgreSQL than INSERT .. RETURNING for an alert storm.
    """
    if not rows:
        return []
    conn.execute(insert(tickets), list(rows))
    ids: dict[str, int] = {}
    identities = [r["open_identity"] for r in rows]
    for start in range(0, len(identities), 1000):
        chunk = identities[start : start + 1000]
        query = select(tickets.c.open_identity, tickets.c.id).where(tickets.c.open_identity.in_(chunk))
        ids.update((identity, ticket_id) for identity, ticket_id in conn.execute(query))
    return [ids[i] for i in identities]


def insert_series(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(insert(ticket_series), list(rows))


def insert_events(conn: Connection, events: Sequence[TimelineEvent]) -> None:
    """Append to the timeline; `detail` is stored as JSON text."""
    if events:
        conn.execute(
            insert(ticket_events),
            [
                {"ticket_id": e.ticket_id, "kind": e.kind.value, "at": e.at, "actor": e.actor,
                 "detail": json.dumps(dict(e.detail)), "dedup_key": e.dedup_key}
                for e in events
            ],
        )


def update_ticket(conn: Connection, ticket_id: int, **values: Any) -> None:
    conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**values))


def add_series_count(conn: Connection, ticket_id: int, added: int) -> None:
    conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(series_count=tickets.c.series_count + added))


def get(conn: Connection, ticket_id: int, *, for_update: bool = False) -> TicketRow | None:
    query = select(*_TICKET_COLUMNS).where(tickets.c.id == ticket_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return _ticket(row) if row else None


def events(conn: Connection, ticket_id: int) -> list[TimelineEvent]:
    """A ticket's timeline in order."""
    rows = conn.execute(
        select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.at, ticket_events.c.id)
    )
    return [
        TimelineEvent(r.ticket_id, EventKind(r.kind), r.at, r.actor, json.loads(r.detail), r.dedup_key) for r in rows
    ]


@dataclass(frozen=True)
class Announced:
    """What announcing an event needs to know about its ticket."""

    id: int
    channel: str | None
    escalation: str | None
    acknowledged_at: datetime | None
    priority: Priority
    opened_at: datetime


def announced(conn: Connection, ticket_ids: Iterable[int]) -> dict[int, Announced]:
    """Routing, escalation policy, opening and acknowledgement of each ticket, by id."""
    ids = sorted(set(ticket_ids))
    out: dict[int, Announced] = {}
    for start in range(0, len(ids), 500):
        query = select(
            tickets.c.id, tickets.c.channel, tickets.c.escalation, tickets.c.acknowledged_at, tickets.c.priority,
            tickets.c.opened_at,
        ).where(tickets.c.id.in_(ids[start : start + 500]))
        out.update(
            {r.id: Announced(r.id, r.channel, r.escalation, r.acknowledged_at, Priority(r.priority), r.opened_at)
             for r in conn.execute(query)}
        )
    return out


def series(conn: Connection, ticket: TicketRow) -> list[dict[str, str]]:
    """The label sets a ticket covers; a ticket without group_by is its one series."""
    rows = conn.execute(
        select(ticket_series.c.labels).where(ticket_series.c.ticket_id == ticket.id).order_by(ticket_series.c.fingerprint)
    )
    return [json.loads(r.labels) for r in rows] or [ticket.labels]


def listing(conn: Connection, status: str | None = None, priority: str | None = None, limit: int = 1000) -> list[TicketRow]:
    query = select(*_TICKET_COLUMNS).order_by(tickets.c.id.desc()).limit(limit)
    if status:
        query = query.where(tickets.c.status == status)
    if priority:
        query = query.where(tickets.c.priority == priority)
    return [_ticket(r) for r in conn.execute(query)]


def to_watch(conn: Connection, now: datetime) -> list[TicketRow]:
    """Unresolved tickets with a warning instant reached or an escalation step due: the
    watcher's work."""
    query = select(*_TICKET_COLUMNS).where(
        and_(
            tickets.c.status.in_(UNRESOLVED),
            (tickets.c.response_warn_at <= now) | (tickets.c.recovery_warn_at <= now)
            | (tickets.c.escalation_due_at <= now),
        )
    )
    return [_ticket(r) for r in conn.execute(query)]


def escalation_progress(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, Progress]:
    """How far each ticket's escalation has walked, from its `escalated` timeline events."""
    found: dict[int, tuple[int, set[str]]] = {}
    for start in range(0, len(ticket_ids), 500):
        rows = conn.execute(
            select(ticket_events.c.ticket_id, ticket_events.c.detail).where(
                and_(
                    ticket_events.c.ticket_id.in_(ticket_ids[start : start + 500]),
                    ticket_events.c.kind == EventKind.ESCALATED.value,
                )
            )
        )
        for r in rows:
            detail = json.loads(r.detail)
            position, keys = found.get(r.ticket_id, (-1, set()))
            keys.add(detail["key"])
            found[r.ticket_id] = (max(position, int(detail["position"])), keys)
    return {ticket_id: Progress(position, frozenset(keys)) for ticket_id, (position, keys) in found.items()}


def set_escalation_due(conn: Connection, due: Mapping[int, datetime | None]) -> None:
    """Store when each ticket's next `after` step is due (None: none pending)."""
    for ticket_id, at in due.items():
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(escalation_due_at=at))


def deadline_events_of(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, set[tuple[str, str]]]:
    """(deadline kind, event kind) already recorded, per ticket."""
    out: dict[int, set[tuple[str, str]]] = {}
    for start in range(0, len(ticket_ids), 500):
        rows = conn.execute(
            select(ticket_events.c.ticket_id, ticket_events.c.kind, ticket_events.c.detail).where(
                and_(
                    ticket_events.c.ticket_id.in_(ticket_ids[start : start + 500]),
                    ticket_events.c.kind.in_([EventKind.DEADLINE_WARNING.value, EventKind.DEADLINE_BREACHED.value]),
                )
            )
        )
        for r in rows:
            out.setdefault(r.ticket_id, set()).add((json.loads(r.detail)["deadline"], r.kind))
    return out
