"""Every SQL statement about tickets, their series and their timeline (SQLAlchemy Core).

Writes take an open Connection so the caller decides the transaction: one tick's
ticket changes, alert state and outbox rows commit together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, String, and_, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from slawatch.escalation import Progress
from slawatch.incidents.lifecycle import ManuallyResolved, OpenTicket
from slawatch.model import EventKind, Priority, Resolution, TicketStatus, TimelineEvent
from slawatch.sla.deadlines import Deadlines
from slawatch.store.dialect import Label
from slawatch.store.engine import savepoint
from slawatch.store.schema import UNRESOLVED_PREDICATE, UtcDateTime, ticket_events, ticket_series, tickets

UNRESOLVED = (TicketStatus.OPEN.value, TicketStatus.ACKNOWLEDGED.value)
# A btree entry holds at most ~2.7 kB on PostgreSQL; a longer `service` label (labels are
# untrusted) is kept in `labels` only, and the report reads it from there.
SERVICE_MAX_BYTES = 1024
_PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def label_value(name: str) -> ColumnElement[str]:
    """SQL for the value of label `name` of a ticket (a plain Prometheus label name)."""
    if not _PLAIN_NAME.fullmatch(name):
        raise ValueError(f"not a plain label name: {name!r}")
    return Label(tickets.c.labels, literal(name, String()))




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
    rule_removed_at: datetime | None = None
    escalation_due_at: datetime | None = None  # when an `after` step is next due

    def deadlines(self) -> Deadlines:
        """The SLA snapshot stored at open."""
        return Deadlines(self.response_due, self.recovery_due, self.response_warn_at, self.recovery_warn_at)


_FIELDS = list(TicketRow.__dataclass_fields__)
_TICKET_COLUMNS = [tickets.c[name] for name in _FIELDS]
# Positions of the columns parsed on the way out; enums by dict lookup (a million rows
# stream through here for `tickets list --format jsonl`, and Enum() calls are slow).
_LABELS, _ANNOTATIONS, _PRIORITY, _STATUS, _RESOLUTION = (
    _FIELDS.index(n) for n in ("labels", "annotations", "priority", "status", "resolution")
)
_PRIORITIES = {p.value: p for p in Priority}
_STATUSES = {s.value: s for s in TicketStatus}
_RESOLUTIONS = {r.value: r for r in Resolution}


def _ticket(row: Any, labels: dict[str, str] | None = None) -> TicketRow:
    values = list(row)
    values[_LABELS] = json.loads(values[_LABELS]) if labels is None else labels
    values[_ANNOTATIONS] = json.loads(values[_ANNOTATIONS])
    values[_PRIORITY] = _PRIORITIES[values[_PRIORITY]]
    values[_STATUS] = _STATUSES[values[_STATUS]]
    values[_RESOLUTION] = _RESOLUTIONS[values[_RESOLUTION]] if values[_RESOLUTION] else None
    return TicketRow(*values)


def open_for_group(conn: Connection, group_key: str) -> list[OpenTicket]:
    """Unresolved tickets recorded under a rule group, with the fingerprints of their series."""
    return [t for t, _ in _unresolved(conn, tickets.c.group_key == group_key)]


def open_by_identity(conn: Connection, identities: Iterable[str]) -> list[OpenTicket]:
    """The unresolved tickets of these identities, whichever group they were opened under."""
    identities = list(identities)
    out: list[OpenTicket] = []
    for start in range(0, len(identities), 500):
        out.extend(t for t, _ in _unresolved(conn, tickets.c.open_identity.in_(identities[start : start + 500])))
    return out


def unresolved(conn: Connection) -> list[tuple[OpenTicket, dict[str, str]]]:
    """Every unresolved ticket with its labels (not its series' fingerprints): what the
    rule set in force is checked against."""
    return _unresolved(conn, None, fingerprints=False)


def _unresolved(
    conn: Connection, where: ColumnElement[bool] | None, fingerprints: bool = True
) -> list[tuple[OpenTicket, dict[str, str]]]:
    cond = tickets.c.status.in_(UNRESOLVED) if where is None else and_(where, tickets.c.status.in_(UNRESOLVED))
    rows = conn.execute(
        select(
            tickets.c.id, tickets.c.identity, tickets.c.group_key, tickets.c.rule_key, tickets.c.rule,
            tickets.c.recovered_at, tickets.c.verification_seconds, tickets.c.rule_removed_at, tickets.c.labels,
        ).where(cond)
    ).all()
    if not rows:
        return []
    fps: dict[int, set[str]] = {}
    series = conn.execute(
        select(ticket_series.c.ticket_id, ticket_series.c.fingerprint)
        .join(tickets, tickets.c.id == ticket_series.c.ticket_id)
        .where(cond)
    ) if fingerprints else ()
    for ticket_id, fp in series:
        fps.setdefault(ticket_id, set()).add(fp)
    return [
        (
            OpenTicket(
                r.id, r.identity, r.rule_key, r.recovered_at, timedelta(seconds=r.verification_seconds),
                frozenset(fps.get(r.id, ())), r.group_key, r.rule, r.rule_removed_at,
            ),
            json.loads(r.labels),
        )
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
    conn.execute(insert(tickets), [_indexable(r) for r in rows])
    ids: dict[str, int] = {}
    identities = [r["open_identity"] for r in rows]
    for start in range(0, len(identities), 1000):
        chunk = identities[start : start + 1000]
        query = select(tickets.c.open_identity, tickets.c.id).where(tickets.c.open_identity.in_(chunk))
        ids.update((identity, ticket_id) for identity, ticket_id in conn.execute(query))
    return [ids[i] for i in identities]


def insert_open_tickets(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """Insert unresolved tickets, skipping any whose identity already has an unresolved
    ticket (another writer opened it since the caller checked): ids in input order, None
    for a skipped row. A conflict rolls back to a savepoint, never the caller's transaction.
    """
    if not rows:
        return []
    try:
        with savepoint(conn):
            return list(insert_tickets(conn, rows))
    except IntegrityError:
        pass
    out: list[int | None] = []
    for row in rows:
        try:
            with savepoint(conn):
                out.append(insert_tickets(conn, [row])[0])
        except IntegrityError:
            if not _is_open(conn, row["open_identity"]):
                raise  # some other constraint: not a conflict on the identity
            out.append(None)
    return out


def reopen(conn: Connection, ticket_id: int, identity: str, status: TicketStatus) -> bool:
    """Unresolve a ticket resolved by hand; False (nothing changed) when its identity has an
    unresolved ticket already, opened by another writer."""
    try:
        with savepoint(conn):
            update_ticket(
                conn, ticket_id, status=status.value, resolved_at=None, resolved_by=None, resolution=None,
                open_identity=identity,
            )
    except IntegrityError:
        if not _is_open(conn, identity):
            raise
        return False
    return True


def _is_open(conn: Connection, identity: str) -> bool:
    return conn.execute(select(tickets.c.id).where(tickets.c.open_identity == identity)).first() is not None


def adopt(conn: Connection, ticket_id: int, group_key: str, rule_key: str) -> None:
    """The ticket now belongs to this group and rule; its rule exists, so it is not removed."""
    update_ticket(conn, ticket_id, group_key=group_key, rule_key=rule_key, rule_removed_at=None)


def mark_rule_removed(conn: Connection, ticket_id: int, at: datetime, clears: bool) -> bool:
    """Record that the ticket's rule is missing (and, if `clears`, that its condition cleared
    at `at`); False when the ticket was resolved or marked meanwhile."""
    values: dict[str, Any] = {"rule_removed_at": at}
    if clears:
        values["recovered_at"] = func.coalesce(tickets.c.recovered_at, literal(at, UtcDateTime()), type_=UtcDateTime())
    result = conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.status.in_(UNRESOLVED), tickets.c.rule_removed_at.is_(None))
        .values(**values)
    )
    return result.rowcount == 1


def unmark_rule_removed(conn: Connection, ticket_id: int) -> bool:
    result = conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.status.in_(UNRESOLVED), tickets.c.rule_removed_at.is_not(None))
        .values(rule_removed_at=None)
    )
    return result.rowcount == 1


def resolve_rule_removed(conn: Connection, ticket_id: int, at: datetime, recovered_at: datetime, removed_at: datetime) -> bool:
    """Resolve as `rule_removed` if the ticket is still unresolved and still marked as read."""
    result = conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.status.in_(UNRESOLVED), tickets.c.rule_removed_at == removed_at)
        .values(
            status=TicketStatus.RESOLVED.value, resolved_at=at, resolution=Resolution.RULE_REMOVED.value,
            recovered_at=func.coalesce(tickets.c.recovered_at, literal(recovered_at, UtcDateTime()), type_=UtcDateTime()),
            open_identity=None,
        )
    )
    return result.rowcount == 1


def _indexable(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The row with a `service` the column and its index can hold (the labels keep the exact value).

    PostgreSQL text cannot hold NUL, which a label value may contain (JSON columns escape
    it): the column gets U+FFFD instead. Too long for an index entry: NULL.
    """
    service = row.get("service")
    if service is None:
        return row
    service = service.replace("\x00", "\ufffd")
    if len(service.encode("utf-8", "surrogatepass")) > SERVICE_MAX_BYTES:
        service = None
    return {**row, "service": service}


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


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a listing returns; every field is a SQL condition (None: any).

    `service` is the column, or the `service` label where the column is NULL (rows
    written by a daemon older than the column), as the monthly report reads it.
    `label_values` narrows by exact, non-empty label values in SQL (a prefilter: the
    caller's own label predicate still decides).
    """

    status: str | None = None
    priority: str | None = None
    rule: str | None = None
    service: str | None = None
    opened_since: datetime | None = None  # inclusive
    opened_until: datetime | None = None  # exclusive
    label_values: Mapping[str, str] = field(default_factory=dict)

    def conditions(self) -> list[ColumnElement[bool]]:
        c = tickets.c
        out: list[ColumnElement[bool]] = []
        if self.status:
            out.append(c.status == self.status)
        if self.priority:
            out.append(c.priority == self.priority)
        if self.rule:
            out.append(c.rule == self.rule)
        if self.service:
            out.append(or_(c.service == self.service, and_(c.service.is_(None), label_value("service") == self.service)))
        if self.opened_since:
            out.append(c.opened_at >= self.opened_since)
        if self.opened_until:
            out.append(c.opened_at < self.opened_until)
        out.extend(
            label_value(name) == value for name, value in self.label_values.items() if value and _PLAIN_NAME.fullmatch(name)
        )
        return out


LabelPredicate = Callable[[Mapping[str, str]], bool]
STREAM_BATCH = 1000  # rows fetched per round trip while streaming (a server-side cursor on PostgreSQL)


def stream(
    conn: Connection, which: TicketFilter = TicketFilter(), *, limit: int | None = None,
    labels_match: LabelPredicate | None = None,
) -> Iterator[TicketRow]:
    """Tickets newest first, read as they are consumed: memory stays constant however many.

    `labels_match` keeps the rows whose labels it accepts (evaluated before the rest of
    the row is parsed); `limit` counts the rows kept. Close the iterator (or exhaust it)
    to release the cursor.
    """
    query = select(*_TICKET_COLUMNS).where(*which.conditions()).order_by(tickets.c.id.desc())
    if limit is not None and labels_match is None:
        query = query.limit(limit)
    if limit == 0:
        return
    kept = 0
    with conn.execute(query.execution_options(yield_per=STREAM_BATCH)) as result:
        for row in result:
            labels = json.loads(row.labels)
            if labels_match is not None and not labels_match(labels):
                continue
            yield _ticket(row, labels)
            kept += 1
            if limit is not None and kept >= limit:
                return


def count(conn: Connection, which: TicketFilter = TicketFilter(), labels_match: LabelPredicate | None = None) -> int:
    """How many tickets `stream` would yield without a limit (exact; with a predicate, by
    streaming only the labels)."""
    if labels_match is None:
        return conn.execute(select(func.count()).select_from(tickets).where(*which.conditions())).scalar_one()
    query = select(tickets.c.labels).where(*which.conditions())
    with conn.execute(query.execution_options(yield_per=STREAM_BATCH * 10)) as result:
        return sum(1 for (labels,) in result if labels_match(json.loads(labels)))


def listing(conn: Connection, status: str | None = None, priority: str | None = None, limit: int | None = None) -> list[TicketRow]:
    """Tickets newest first, as a list: for the few a test or a tick needs (the CLI streams)."""
    return list(stream(conn, TicketFilter(status=status, priority=priority), limit=limit))


def to_watch(conn: Connection, now: datetime) -> list[TicketRow]:
    """Unresolved tickets with a warning instant reached or an escalation step due: the
    watcher's work, read through the partial index of unresolved tickets."""
    query = select(*_TICKET_COLUMNS).where(
        and_(
            UNRESOLVED_PREDICATE,
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
