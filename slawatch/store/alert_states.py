"""Read and write persisted alert state, one group at a time.

Only what changed is written: an alert whose state and instants are as persisted is
not rewritten every tick (values and annotations are refreshed when the row changes).
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

from sqlalchemy import Connection, and_, delete, select, tuple_

from slawatch.model import Alert, AlertState, Labels
from slawatch.store.schema import alert_state

# rule name -> fingerprint -> alert
GroupState = dict[str, dict[str, Alert]]


def load_group(conn: Connection, group_key: str) -> GroupState:
    rows = conn.execute(select(alert_state).where(alert_state.c.group_key == group_key))
    out: GroupState = {}
    for row in rows:
        out.setdefault(row.rule, {})[row.fingerprint] = _alert(row)
    return out


def load_all(conn: Connection) -> list[tuple[str, Alert]]:
    """Every persisted alert with its group key, for `slawatch alerts`."""
    rows = conn.execute(select(alert_state).order_by(alert_state.c.rule, alert_state.c.active_at))
    return [(row.group_key, _alert(row)) for row in rows]


def save_group(conn: Connection, group_key: str, before: GroupState, after: GroupState) -> int:
    """Write the difference between two states of a group; returns rows written."""
    gone = [(rule, fp) for rule, alerts in before.items() for fp in alerts if fp not in after.get(rule, {})]
    changed = [
        (rule, a)
        for rule, alerts in after.items()
        for fp, a in alerts.items()
        if _key(before.get(rule, {}).get(fp)) != _key(a)
    ]
    for chunk in _chunks(gone + [(rule, a.fingerprint) for rule, a in changed], 500):
        conn.execute(
            delete(alert_state).where(
                and_(
                    alert_state.c.group_key == group_key,
                    tuple_(alert_state.c.rule, alert_state.c.fingerprint).in_(chunk),
                )
            )
        )
    if changed:
        conn.execute(alert_state.insert(), [_row(group_key, rule, a) for rule, a in changed])
    return len(gone) + len(changed)


StateKey = tuple[str, str, str]  # group key, rule key, fingerprint


def keys(conn: Connection) -> list[tuple[StateKey, dict[str, str]]]:
    """The key and labels of every persisted alert, to check them against the rules in force."""
    rows = conn.execute(select(alert_state.c.group_key, alert_state.c.rule, alert_state.c.fingerprint, alert_state.c.labels))
    return [((r.group_key, r.rule, r.fingerprint), json.loads(r.labels)) for r in rows]


def move(conn: Connection, moves: Iterable[tuple[StateKey, tuple[str, str]]]) -> None:
    """Re-file persisted alerts under another (group key, rule key), keeping their instants."""
    for (group_key, rule, fp), (new_group_key, new_rule) in moves:
        conn.execute(
            alert_state.update()
            .where(alert_state.c.group_key == group_key, alert_state.c.rule == rule, alert_state.c.fingerprint == fp)
            .values(group_key=new_group_key, rule=new_rule)
        )


def drop(conn: Connection, keys: Iterable[StateKey]) -> None:
    for chunk in _chunks(list(keys), 500):
        conn.execute(
            delete(alert_state).where(tuple_(alert_state.c.group_key, alert_state.c.rule, alert_state.c.fingerprint).in_(chunk))
        )


def delete_group(conn: Connection, group_key: str) -> None:
    """Forget the state of a group that a reload removed."""
    conn.execute(delete(alert_state).where(alert_state.c.group_key == group_key))


def _key(a: Alert | None) -> tuple | None:
    """What must survive a restart; a change in any of it rewrites the row."""
    if a is None:
        return None
    return (a.state, a.active_at, a.fired_at, a.keep_firing_since, _minute(a))


def _minute(a: Alert) -> object:
    # last_seen_at moves every tick; refreshing it at most once a minute bounds the
    # writes while keeping the outage-tolerance check accurate to a minute.
    return a.last_seen_at.replace(second=0, microsecond=0) if a.last_seen_at else None


def _row(group_key: str, rule: str, a: Alert) -> dict:
    return {
        "group_key": group_key,
        "rule": rule,
        "fingerprint": a.fingerprint,
        "labels": json.dumps(dict(a.labels), sort_keys=True),
        "annotations": json.dumps(dict(a.annotations), sort_keys=True),
        "state": a.state.value,
        "value": a.value if a.value == a.value else None,  # NaN is not portable SQL
        "active_at": a.active_at,
        "fired_at": a.fired_at,
        "keep_firing_since": a.keep_firing_since,
        "last_seen_at": a.last_seen_at,
    }


def _alert(row: Mapping) -> Alert:
    return Alert(
        rule=row.rule,
        labels=Labels(json.loads(row.labels)),
        state=AlertState(row.state),
        active_at=row.active_at,
        value=row.value if row.value is not None else float("nan"),
        annotations=json.loads(row.annotations),
        fired_at=row.fired_at,
        keep_firing_since=row.keep_firing_since,
        last_seen_at=row.last_seen_at,
    )


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
