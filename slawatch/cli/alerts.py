"""`slawatch alerts`: the persisted pending and firing alerts, as amtool shows them.

Reads only: the schema is checked, never migrated (`store.engine.require_current`).
Label values are printed terminal-safe and columns aligned by display width.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

import click

from slawatch.cli.common import config_option, current_engine, load, matcher_arguments, now

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from slawatch.matchers import Matcher
    from slawatch.model import Alert


def list_alerts(database_url: str) -> list[Alert]:
    """Every persisted alert; SchemaMismatch if the database is not at this slawatch's schema."""
    from slawatch.store.engine import make_engine, require_current

    engine = make_engine(database_url, read_only=True)
    try:
        require_current(engine)
        return _load(engine)
    finally:
        engine.dispose()


def _load(engine: Engine) -> list[Alert]:
    from slawatch.store import alert_states

    with engine.connect() as conn:
        return [alert for _group, alert in alert_states.load_all(conn)]


def select_alerts(alerts: Sequence[Alert], matchers: Sequence[Matcher], state: str | None) -> list[Alert]:
    """The alerts in `state` (any if None) whose labels (with `alertname`) satisfy every matcher."""
    from slawatch.matchers import matches

    return [a for a in alerts if (state is None or a.state.value == state) and matches(matchers, a.labels)]


def _labels_text(alert: Alert) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in alert.labels.items() if k != "alertname")


def _age(delta: timedelta) -> str:
    from slawatch.config.durations import format_duration

    return format_duration(timedelta(seconds=max(0, int(delta.total_seconds()))))


def render_table(alerts: Sequence[Alert], now: datetime) -> str:
    """Columns as amtool prints them: name, state, since, labels, summary."""
    from slawatch.cli.terminal import table

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
    return table(header, rows)


def render_json(alerts: Sequence[Alert]) -> str:
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


@click.command("alerts")
@config_option
@matcher_arguments
@click.option("--state", type=click.Choice(["pending", "firing"]), help="Only alerts in this state.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def command(config_file: str | None, matchers: list[Matcher], state: str | None, fmt: str) -> None:
    """List pending and firing alerts, like `amtool alert query`.

    MATCHER is an Alertmanager matcher over the alert's labels (alertname included):
    name="value", name!="value", name=~"regex", name!~"regex"; a bare first word means
    alertname="WORD". Several matchers must all hold; regexes are fully anchored.

    \b
    Examples:
      slawatch alerts
      slawatch alerts --state firing 'team="db"' 'severity=~"crit.*"'
      slawatch alerts ServiceDown --format json
    """
    settings = load(config_file)
    engine = current_engine(settings, read_only=True)
    try:
        alerts = _load(engine)
    finally:
        engine.dispose()
    chosen = select_alerts(alerts, matchers, state)
    click.echo(render_json(chosen) if fmt == "json" else render_table(chosen, now()))
