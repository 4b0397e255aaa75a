"""`slawatch alerts`: the persisted pending and firing alerts, as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from slawatch.config.durations import format_duration
from slawatch.model import Alert
from slawatch.store import alert_states
from slawatch.store.engine import make_engine, upgrade


def list_alerts(database_url: str) -> list[Alert]:
    engine = make_engine(database_url)
    try:
        upgrade(engine)  # a fresh database simply has no alerts yet
        with engine.connect() as conn:
            return [alert for _group, alert in alert_states.load_all(conn)]
    finally:
        engine.dispose()


def _labels_text(alert: Alert) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in alert.labels.items() if k != "alertname")


def _age(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=max(0, int(delta.total_seconds()))))


def render_table(alerts: list[Alert], now: datetime) -> str:
    """Columns as amtool prints them: name, state, since, labels, summary."""
    header = ("ALERTNAME", "STATE", "ACTIVE SINCE", "FOR", "LABELS", "SUMMARY")
    rows = [
        (
            a.rule,
            a.state.value,
            a.active_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            _age(now - a.active_at),
            _labels_text(a),
            a.annotations.get("summary", ""),
        )
        for a in alerts
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def render_json(alerts: list[Alert]) -> str:
    return json.dumps(
        [
            {
                "alertname": a.rule,
                "state": a.state.value,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "active_at": a.active_at.isoformat(),
                "fired_at": a.fired_at.isoformat() if a.fired_at else None,
                "value": a.value if a.value == a.value else None,
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
        indent=2,
    )
