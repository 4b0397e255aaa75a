"""SQL for the notification outbox and Slack thread locations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.store.schema import notifications, slack_threads

PENDING, SENDING, SENT = OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT


@dataclass(frozen=True)
class NewNotification:
    """A row to queue; `dedup_key` makes queuing idempotent (a retried transaction)."""

    ticket_id: int | None
    kind: NotificationKind
    channel: str
    payload: dict[str, Any]
    dedup_key: str


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
                 "payload": json.dumps(r.payload), "dedup_key": r.dedup_key}
                for r in fresh
            ],
        )


def due(conn: Connection, now: datetime, limit: int = 500) -> list[OutboxRow]:
    """Pending (and crash-interrupted 'sending') rows whose time has come, oldest first."""
    rows = conn.execute(
        select(notifications)
        .where(and_(notifications.c.status.in_([PENDING.value, SENDING.value]), notifications.c.next_attempt_at <= now))
        .order_by(notifications.c.id)
        .limit(limit)
    )
    return [
        OutboxRow(
            r.id, r.ticket_id, NotificationKind(r.kind), r.channel, json.loads(r.payload), OutboxStatus(r.status),
            r.attempts, r.next_attempt_at,
        )
        for r in rows
    ]


def unsent_by_ticket(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, list[int]]:
    """Ids of every unsent row per ticket, oldest first (due or not): the send order."""
    out: dict[int, list[int]] = {}
    ids = list(ticket_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(notifications.c.ticket_id, notifications.c.id)
            .where(and_(notifications.c.status != SENT.value, notifications.c.ticket_id.in_(ids[start : start + 500])))
            .order_by(notifications.c.id)
        )
        for ticket_id, row_id in rows:
            out.setdefault(ticket_id, []).append(row_id)
    return out


def pending_count(conn: Connection) -> int:
    """Rows not yet sent (pending or sending)."""
    return int(conn.execute(select(func.count()).where(notifications.c.status != SENT.value)).scalar_one())


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
