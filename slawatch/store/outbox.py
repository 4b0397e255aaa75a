"""SQL for the notification outbox, Slack thread locations and resolved channel ids.

Selection is fair by construction (`due`): per channel only as many rows as its rate
budget allows, per ticket only its head row (the oldest unsent one), P0 before P1 before
P2 within a channel; a reply waits in SQL, not in a pass, until its thread exists. So a
backlog of 10,000 rows in one channel costs another channel one query, not a wait.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from slawatch.model import NotificationKind, OutboxStatus, Priority
from slawatch.store.schema import notifications, slack_channels, slack_threads

PENDING, SENDING, SENT, FAILED = OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.FAILED
UNSENT = (PENDING.value, SENDING.value)


@dataclass(frozen=True)
class NewNotification:
    """A row to queue; `dedup_key` makes queuing idempotent (a retried transaction)."""

    ticket_id: int | None
    kind: NotificationKind
    channel: str
    payload: dict[str, Any]
    dedup_key: str
    priority: Priority = Priority.P2


@dataclass(frozen=True)
class OutboxRow:
    id: int
    ticket_id: int | None
    kind: NotificationKind
    channel: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    priority: Priority = Priority.P2
    channel_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Thread:
    ticket_id: int
    channel: str
    ts: str
    own_message: bool


def add(conn: Connection, rows: Sequence[NewNotification], now: datetime) -> None:
    """Queue rows; a dedup key already present (a retried transaction) is skipped."""
    if not rows:
        return
    existing: set[str] = set()
    keys = [r.dedup_key for r in rows]
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        existing.update(conn.execute(select(notifications.c.dedup_key).where(notifications.c.dedup_key.in_(chunk))).scalars())
    fresh = [r for r in rows if r.dedup_key not in existing]
    if fresh:
        conn.execute(
            insert(notifications),
            [
                {"status": PENDING.value, "attempts": 0, "next_attempt_at": now, "created_at": now, "last_error": None,
                 "sent_at": None, "ticket_id": r.ticket_id, "kind": r.kind.value, "channel": r.channel,
                 "payload": json.dumps(r.payload), "dedup_key": r.dedup_key, "priority": r.priority.value}
                for r in fresh
            ],
        )


def due(conn: Connection, now: datetime, per_channel: int) -> list[OutboxRow]:
    """The rows worth trying now: due, head of their ticket, at most `per_channel` per channel.

    Most urgent first (P0 before P2, then oldest first), across channels too. A thread
    reply or update is only due once its ticket's thread exists (the opening message, or
    a digest that listed it, was posted).
    """
    n = notifications
    older = notifications.alias("older")
    head = ~exists().where(and_(older.c.ticket_id == n.c.ticket_id, older.c.id < n.c.id, older.c.status.in_(UNSENT)))
    threaded = exists().where(slack_threads.c.ticket_id == n.c.ticket_id)
    orphaned = exists().where(  # its opening failed: due, so that it is dead-lettered too
        and_(older.c.ticket_id == n.c.ticket_id, older.c.kind == NotificationKind.OPENING.value,
             older.c.status == FAILED.value)
    )
    needs_thread = n.c.kind.in_([NotificationKind.EVENT.value, NotificationKind.UPDATE.value])
    rank = func.row_number().over(partition_by=n.c.channel, order_by=(n.c.priority, n.c.id)).label("rank")
    ranked = (
        select(n, rank)
        .where(
            n.c.status.in_(UNSENT),
            n.c.next_attempt_at <= now,
            or_(n.c.ticket_id.is_(None), and_(head, or_(~needs_thread, threaded, orphaned))),
        )
        .subquery()
    )
    rows = conn.execute(select(ranked).where(ranked.c.rank <= per_channel).order_by(ranked.c.priority, ranked.c.id))
    return [_outbox_row(r) for r in rows]


def get(conn: Connection, row_id: int) -> OutboxRow | None:
    row = conn.execute(select(notifications).where(notifications.c.id == row_id)).first()
    return _outbox_row(row) if row else None


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(
        r.id, r.ticket_id, NotificationKind(r.kind), r.channel, json.loads(r.payload), OutboxStatus(r.status),
        r.attempts, r.next_attempt_at, Priority(r.priority), r.channel_id, r.created_at,
    )


def pending_count(conn: Connection) -> int:
    """Rows still to deliver (pending or sending; failed rows are not waiting for anything)."""
    return int(conn.execute(select(func.count()).where(notifications.c.status.in_(UNSENT))).scalar_one())


def mark(conn: Connection, row_id: int, status: OutboxStatus, **values: Any) -> None:
    conn.execute(
        update(notifications).where(notifications.c.id == row_id).values(status=OutboxStatus(status).value, **values)
    )


def supersede_updates(conn: Connection, ticket_id: int, up_to_id: int, now: datetime) -> None:
    """Older pending chat.update rows of a ticket are covered by the one being sent."""
    conn.execute(
        update(notifications)
        .where(
            and_(
                notifications.c.ticket_id == ticket_id,
                notifications.c.kind == NotificationKind.UPDATE.value,
                notifications.c.status == PENDING.value,
                notifications.c.id < up_to_id,
            )
        )
        .values(status=SENT.value, sent_at=now, last_error="superseded")
    )


def thread(conn: Connection, ticket_id: int) -> Thread | None:
    row = conn.execute(select(slack_threads).where(slack_threads.c.ticket_id == ticket_id)).first()
    return Thread(row.ticket_id, row.channel, row.ts, bool(row.own_message)) if row else None


def set_threads(conn: Connection, ticket_ids: Sequence[int], channel: str, ts: str, own_message: bool) -> None:
    conn.execute(delete(slack_threads).where(slack_threads.c.ticket_id.in_(list(ticket_ids))))
    conn.execute(
        insert(slack_threads),
        [{"ticket_id": t, "channel": channel, "ts": ts, "own_message": int(own_message)} for t in ticket_ids],
    )


def all_rows(conn: Connection) -> list[dict[str, Any]]:
    """Everything in the outbox, for tests and `slawatch notifications`."""
    return [dict(r._mapping) for r in conn.execute(select(notifications).order_by(notifications.c.id))]


def dead_letter(conn: Connection, row: OutboxRow, error: str, now: datetime) -> list[int]:
    """Mark a row failed; an opening or digest takes its ticket(s)' unsent replies with it
    (they have no thread to go to), not its escalation posts to other channels (those still
    reach someone). Returns every row id marked failed."""
    failed = [row.id]
    mark(conn, row.id, FAILED, last_error=error[:500], attempts=row.attempts + 1, sent_at=None)
    tickets = row.payload.get("ticket_ids", []) if row.kind is NotificationKind.DIGEST else [row.ticket_id]
    if row.kind in (NotificationKind.OPENING, NotificationKind.DIGEST) and tickets:
        dependent = conn.execute(
            select(notifications.c.id).where(
                and_(notifications.c.ticket_id.in_([t for t in tickets if t is not None]),
                     notifications.c.status.in_(UNSENT), notifications.c.id != row.id,
                     notifications.c.kind != NotificationKind.ESCALATION.value)
            )
        ).scalars().all()
        if dependent:
            conn.execute(
                update(notifications).where(notifications.c.id.in_(dependent))
                .values(status=FAILED.value, last_error=f"its opening message (row {row.id}) failed: {error}"[:500])
            )
            failed.extend(dependent)
    return failed


def dead_letter_channel(conn: Connection, channel: str, error: str) -> int:
    """Fail every unsent row queued for a channel Slack says is gone; returns how many."""
    result = conn.execute(
        update(notifications)
        .where(and_(notifications.c.channel == channel, notifications.c.status.in_(UNSENT)))
        .values(status=FAILED.value, last_error=error[:500])
    )
    return int(result.rowcount or 0)


def retry(conn: Connection, row_id: int, now: datetime) -> bool:
    """Queue a failed row (and the replies that failed with it) again; False if it is not failed."""
    row = get(conn, row_id)
    if row is None or row.status is not FAILED:
        return False
    ids = [row_id]
    if row.kind in (NotificationKind.OPENING, NotificationKind.DIGEST):
        tickets = row.payload.get("ticket_ids", []) if row.kind is NotificationKind.DIGEST else [row.ticket_id]
        ids += conn.execute(
            select(notifications.c.id).where(
                and_(notifications.c.ticket_id.in_([t for t in tickets if t is not None]),
                     notifications.c.status == FAILED.value, notifications.c.last_error.like(f"its opening message (row {row_id})%"))
            )
        ).scalars().all()
    conn.execute(
        update(notifications).where(notifications.c.id.in_(ids))
        .values(status=PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    )
    return True


def retry_channel(conn: Connection, channel: str, now: datetime) -> int:
    """Queue every failed row of a channel again (after the channel was fixed)."""
    result = conn.execute(
        update(notifications)
        .where(and_(notifications.c.channel == channel, notifications.c.status == FAILED.value))
        .values(status=PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount or 0)


def listing(conn: Connection, status: OutboxStatus | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows newest first, for `slawatch notifications list`."""
    query = select(notifications).order_by(notifications.c.id.desc())
    if status is not None:
        query = query.where(notifications.c.status == status.value)
    if limit is not None:
        query = query.limit(limit)
    return [{**r._mapping, "payload": json.loads(r.payload)} for r in conn.execute(query)]


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    status: OutboxStatus
    rows: int
    oldest: datetime | None  # created_at of the oldest row in this status


def figures(conn: Connection) -> list[ChannelFigures]:
    """Rows by channel and status, with the oldest creation time: one GROUP BY for /metrics."""
    n = notifications
    query = select(n.c.channel, n.c.status, func.count(), func.min(n.c.created_at)).group_by(n.c.channel, n.c.status)
    return [ChannelFigures(c, OutboxStatus(s), int(k), oldest) for c, s, k, oldest in conn.execute(query)]


def channel_id(conn: Connection, name: str) -> str | None:
    """A channel id resolved earlier (by conversations.list or a post's answer)."""
    return conn.execute(select(slack_channels.c.id).where(slack_channels.c.name == name)).scalar_one_or_none()


def remember_channel(conn: Connection, name: str, channel_id: str, now: datetime) -> None:
    if name == channel_id:
        return
    conn.execute(delete(slack_channels).where(slack_channels.c.name == name))
    conn.execute(insert(slack_channels).values(name=name, id=channel_id, resolved_at=now))
