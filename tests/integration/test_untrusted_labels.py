"""Label values from monitored systems, however long or hostile, round-trip unchanged.

One real tick (GroupRunner: alert state and tickets in one transaction) on SQLite and
PostgreSQL, with a 10 kB `service` label and one full of quotes, control characters,
SQL and Slack syntax; then the values are read back from the store, from the `alerts`
view, from `slawatch tickets show --format json` (a real CLI process) and rendered in
the Slack opening, where they must be escaped. A NUL, which PostgreSQL text cannot hold,
stays exact in the labels (JSON escapes it) and becomes U+FFFD in the `service` column.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine, select

from slawatch.cli.alerts import list_alerts
from slawatch.config.notify import OncallSettings, Route, SlackSettings
from slawatch.metrics import Metrics
from slawatch.model import Labels, Sample
from slawatch.notify.announce import Announcer
from slawatch.notify.messages import MessageRenderer, escape_mrkdwn
from slawatch.notify.stages.thread import ticket_facts
from slawatch.report.queries import Window, service_counts
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import GroupEvaluator
from slawatch.rules.runner import GroupRunner, TicketPolicy
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import notifications, tickets

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
# 10,000 characters that do not compress (a btree entry holds ~2.7 kB on PostgreSQL).
LONG = "".join(random.Random(10).choices("abcdefghijklmnopqrstuvwxyz0123456789-_.äöüß€漢字", k=10_000))
HOSTILE = (
    "it's \"quoted\" `back`\\slash\ttab\x01\x1b[31mred\x7f\u2028 "
    "'); DROP TABLE tickets; -- SELECT * FROM alert_state WHERE 1=1 OR ''=' <!channel> <@U123> & <b>|x"
)
CHANNEL = "#" + "c" * 300  # longer than the old varchar(255), from a route in the config
RULES = (
    AlertingRule(name="Hostile", expr="hostile", labels={"priority": "P1"},
                 annotations={"summary": "{{ $labels.note }}", "service": "{{ $labels.service }}"}),
    AlertingRule(name="HostileGroup", expr="grouped", labels={"priority": "P2"}, group_by=("service",)),
)
GROUP = RuleGroup("untrusted", "rules.yaml", timedelta(seconds=15), RULES)
SAMPLES = {
    "hostile": [
        Sample(Labels(__name__="x", service=LONG, note=HOSTILE), 1),
        Sample(Labels(service="nul\x00service", note="PostgreSQL text cannot hold NUL"), 1),
    ],
    "grouped": [Sample(Labels(service=LONG, instance=f"{HOSTILE} {i}"), 1) for i in range(2)],
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def tick(engine: Engine) -> None:
    """One tick exactly as the daemon runs it, with the samples answered by a function."""
    slack = SlackSettings(routes=[Route(match={"priority": "P1"}, channel=CHANNEL)])
    policy = TicketPolicy(SlaPolicy.default(), Classification(), Announcer(slack, OncallSettings()))
    with ThreadPoolExecutor(2) as pool:
        evaluate = GroupEvaluator(lambda expr, _at: SAMPLES[expr], pool)
        GroupRunner(GROUP, engine, evaluate, Metrics(), policy).tick(T0)


def show(db_url: str, ticket_id: int, tmp_path: Path) -> dict:
    env = {**os.environ, "SLAWATCH_DATABASE_URL": db_url, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "slawatch", "tickets", "show", str(ticket_id), "--format", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    return json.loads(out)


def test_long_and_hostile_label_values_round_trip_unchanged(engine: Engine, db_url: str, tmp_path: Path) -> None:
    tick(engine)
    with engine.connect() as conn:
        listed = store.listing(conn)
        by_rule = {t.rule: t for t in listed if t.labels["service"] != "nul\x00service"}
        assert set(by_rule) == {"Hostile", "HostileGroup"} and len(listed) == 3  # the tick committed
        (nul,) = [t for t in listed if t.labels["service"] == "nul\x00service"]  # exact in the labels
        assert conn.execute(select(tickets.c.service).where(tickets.c.id == nul.id)).scalar() == "nul\ufffdservice"
        hostile, grouped = by_rule["Hostile"], by_rule["HostileGroup"]
        series = store.series(conn, grouped)
        # Too long for an index entry: the column stays NULL and the report reads the label.
        assert conn.execute(select(tickets.c.service).where(tickets.c.id == hostile.id)).scalar() is None
        assert service_counts(conn, Window(T0, T0 + timedelta(days=1), T0)) == {LONG: (2, 0), "nul\ufffdservice": (1, 0)}
        assert conn.execute(select(notifications.c.channel).where(notifications.c.ticket_id == hostile.id)).scalar() == CHANNEL

    expected = {"alertname": "Hostile", "priority": "P1", "service": LONG, "note": HOSTILE}
    assert hostile.labels == expected
    assert hostile.annotations == {"summary": HOSTILE, "service": LONG}
    assert hostile.channel == CHANNEL
    assert grouped.labels == {"alertname": "HostileGroup", "priority": "P2", "service": LONG}
    assert sorted(s["instance"] for s in series) == [f"{HOSTILE} 0", f"{HOSTILE} 1"]

    (alert,) = [a for a in list_alerts(db_url) if a.labels.get("note") == HOSTILE]
    assert dict(alert.labels) == expected and dict(alert.annotations) == {"summary": HOSTILE, "service": LONG}

    shown = show(db_url, hostile.id, tmp_path)
    assert shown["labels"] == expected and shown["annotations"] == {"summary": HOSTILE, "service": LONG}
    shown_group = show(db_url, grouped.id, tmp_path)
    assert sorted(s["instance"] for s in shown_group["series"]) == [f"{HOSTILE} 0", f"{HOSTILE} 1"]


def test_hostile_label_values_render_escaped_in_the_slack_opening(engine: Engine) -> None:
    tick(engine)
    with engine.connect() as conn:
        (hostile,) = [t for t in store.listing(conn) if t.labels.get("note") == HOSTILE]
    facts = ticket_facts(engine, hostile.id)
    assert facts is not None
    message = MessageRenderer(timezone="UTC").opening(facts, [])
    title = message.blocks[0]["text"]["text"].split("\n")[0]
    everything = json.dumps(message.blocks, ensure_ascii=False) + message.text
    assert "<!channel>" not in everything and "<@U123>" not in everything and "<b>" not in everything
    # The title is the summary (whitespace collapsed to one line), escaped, SQL and all.
    assert escape_mrkdwn(HOSTILE[HOSTILE.index("');"):]) in title and "&lt;!channel&gt;" in message.text
