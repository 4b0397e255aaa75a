"""Tickets written straight into a real database, fast, through the store's own insert.

`ticket_row` builds the row `incidents.reconcile` would write for an opened ticket;
`insert` writes many at once with `store.tickets.insert_tickets` (one executemany), and
`update` then moves any of them on (acknowledged, recovered, resolved) column by column.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import Engine

from slawatch.store import tickets as store

RESPOND = {"P0": timedelta(minutes=15), "P1": timedelta(minutes=30), "P2": timedelta(hours=2)}
RECOVER = {"P0": timedelta(hours=2), "P1": timedelta(hours=4), "P2": timedelta(hours=24)}


def ticket_row(
    n: int, opened_at: datetime, *, rule: str = "ServiceDown", priority: str = "P0",
    labels: Mapping[str, str] | None = None, summary: str | None = None,
) -> dict[str, Any]:
    """The row of an open ticket number `n` (its identity), with the default SLA's deadlines."""
    all_labels = {"alertname": rule, **(labels or {})}
    identity = f"{n:016x}"
    return {
        "identity": identity,
        "open_identity": identity,
        "group_key": "rules.yaml;test",
        "rule_key": rule,
        "rule": rule,
        "priority": priority,
        "status": "open",
        "labels": json.dumps(all_labels, sort_keys=True),
        "annotations": json.dumps({"summary": summary if summary is not None else f"{rule} #{n}"}),
        "series_count": 1,
        "service": all_labels.get("service"),
        "opened_at": opened_at,
        "response_due": opened_at + RESPOND[priority],
        "recovery_due": opened_at + RECOVER[priority],
        "response_warn_at": opened_at + RESPOND[priority] * 0.8,
        "recovery_warn_at": opened_at + RECOVER[priority] * 0.8,
        "verification_seconds": 300.0,
        "channel": None,
        "escalation": None,
    }


def insert(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert open tickets; their ids in input order."""
    with engine.begin() as conn:
        return store.insert_tickets(conn, rows)


def update(engine: Engine, ticket_id: int, **values: Any) -> None:
    """Change columns of one ticket; a resolved one gives up its open identity, as resolving does."""
    if values.get("status") == "resolved":
        values.setdefault("open_identity", None)
    with engine.begin() as conn:
        store.update_ticket(conn, ticket_id, **values)
