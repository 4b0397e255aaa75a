"""SQL for the notification outbox and Slack thread locations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, and_, delete, insert, select, update

from slawatch.store.schema import notifications, slack_threads

PENDING, SENDING, SENT = "pending", "sending", "sent"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    ticket_id: int | None
    kind: str
    channel: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class Thread:
    ticket_id: int
    channel: str
    ts: str
    own_message: bool


def add(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Queue rows; a dedup key already present (a retried transaction) is skipped."""
    if not rows:
        return
    keys = [r["dedup_key"] for r in rows]
    existing = set(conn.execute(select(notifications.c.dedup_key).where(notifications.c.dedup_key.in_(keys))).scalars())
    fresh = [r for r in rows if r["dedup_key"] not in existing]
    if fresh:
        conn.execute(
            insert(notifications),
            [
                {"status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now, "last_error": None,
                 "sent_at": None, **r, "payload": json.dumps(r["payload"])}
                for r in fresh
            ],
        )


def due(conn: Connection, now: datetime, limit: int = 500) -> list[OutboxRow]:
    """Pending (and crash-interrupted 'sending') rows whose time has come, oldest first."""
    rows = conn.execute(
        select(notifications)
        .where(and_(notifications.c.status.in_([PENDING, SENDING]), notifications.c.next_attempt_at <= now))
        .order_by(notifications.c.id)
        .limit(limit)
    )
    return [
        OutboxRow(r.id, r.ticket_id, r.kind, r.channel, json.loads(r.payload), r.status, r.attempts, r.next_attempt_at)
        for r in rows
    ]


def unsent_by_ticket(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, list[int]]:
    """Ids of every unsent row per ticket, oldest first (due or not): the send order."""
    out: dict[int, list[int]] = {}
    ids = list(ticket_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(notifications.c.ticket_id, notifications.c.id)
            .where(and_(notifications.c.status != SENT, notifications.c.ticket_id.in_(ids[start : start + 500])))
            .order_by(notifications.c.id)
        )
        for ticket_id, row_id in rows:
            out.setdefault(ticket_id, []).append(row_id)
    return out


def pending_count(conn: Connection) -> int:
    return len(conn.execute(select(notifications.c.id).where(notifications.c.status != SENT)).all())


def mark(conn: Connection, row_id: int, **values: Any) -> None:
    conn.execute(update(notifications).where(notifications.c.id == row_id).values(**values))


def supersede_updates(conn: Connection, ticket_id: int, up_to_id: int, now: datetime) -> None:
    """Older pending chat.update rows of a ticket are covered by the one being sent."""
    conn.execute(
        update(notifications)
        .where(
            and_(
                notifications.c.ticket_id == ticket_id,
                notifications.c.kind == "update",
                notifications.c.status == PENDING,
                notifications.c.id < up_to_id,
            )
        )
        .values(status=SENT, sent_at=now, last_error="superseded")
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
