"""Escalation end to end: ticket -> watcher -> outbox -> the real slack-sdk WebClient -> the
local Slack Web API server, with explicit instants, on SQLite and PostgreSQL.

The policy is frozen on the ticket at open; the watcher records each step as an
`escalated` event the instant it became due; the announcer turns it into a thread reply
naming who was reached and, for a channel, a post in that channel.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.incidents import reconcile, watcher
from slawatch.incidents.actions import acknowledge
from slawatch.model import EventKind, Labels, Sample
from slawatch.notify.announce import Announcer
from slawatch.notify.dispatcher import Dispatcher
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.senders import SlackSender
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox as outbox_store
from slawatch.store import tickets as tickets_store
from slawatch.store.engine import make_engine, upgrade
from tests.support.slack_api import SlackApiServer

T0 = datetime(2026, 6, 1, 8, 50, tzinfo=timezone.utc)  # ten minutes before the daily 09:00 UTC handoffs
LEADS = "C0LEADS001"
RULE = AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0", "team": "platform"},
                    annotations={"summary": "{{ $labels.instance }} is down"})
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
SCHEDULES = {
    # day 7 of both rotations: ...A until 09:00, then ...B
    "primary": {"people": ["U0PRIMARYA", "U0PRIMARYB"], "shift": "1d", "handoff": "09:00", "start_date": "2026-05-25"},
    "secondary": {"people": ["U0SECONDA", "U0SECONDB"], "shift": "1d", "handoff": "09:00", "start_date": "2026-05-25"},
}
TIMED = {"platform": {"steps": [{"schedule": "primary"}, {"schedule": "secondary", "after": "5m"},
                                {"channel": LEADS, "after": "10m"}]}}
README_CHAIN = {"platform": [{"schedule": "primary"}, {"schedule": "secondary"}, {"channel": LEADS}]}


class Desk:
    """A database, the announcer of one on-call config, the watcher and a dispatcher, driven by hand."""

    def __init__(self, url: str, slack: SlackApiServer, escalation: dict[str, Any]) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.slack = slack
        oncall = OncallSettings.model_validate({"schedules": SCHEDULES, "escalation": escalation})
        self.announcer = Announcer(SlackSettings.model_validate({"base_url": slack.base_url, "channel": "#alerts"}), oncall)
        self.now = T0
        self.dispatcher = Dispatcher(
            self.engine, SlackSender(slack.token, slack.base_url, timedelta(seconds=5)), MessageRenderer(), 1000.0,
            lambda: self.now, monotonic=lambda: self.monotonic,
        )
        self.monotonic = 0.0
        self.pool = ThreadPoolExecutor(1)

    def open(self) -> None:
        samples = [Sample(Labels(__name__="up", instance="api:80"), 0)]
        outcome = evaluate_group(GROUP, {}, T0, lambda _e, _a: samples, self.pool)
        with self.engine.begin() as conn:
            reconcile.reconcile(conn, outcome, SlaPolicy.default(), Classification(), self.announcer)
        self.drain()

    def watch(self, minute: float) -> None:
        self.now = T0 + timedelta(minutes=minute)
        with self.engine.begin() as conn:
            watcher.record_due(conn, self.now, self.announcer)
        self.drain()

    def drain(self) -> None:
        for _ in range(20):
            self.monotonic += 1.0  # token buckets refill between passes
            self.dispatcher.drain()
            with self.engine.connect() as conn:
                if outbox_store.pending_count(conn) == 0:
                    return
        raise AssertionError("outbox never drained")

    def replies(self) -> list[str]:
        (opening,) = [m for m in self.slack.messages("#alerts") if not m.thread_ts]
        return [text(m) for m in self.slack.threads().get(opening.ts, [])]

    def steps(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [e.detail for e in tickets_store.events(conn, 1) if e.kind is EventKind.ESCALATED]

    def close(self) -> None:
        self.pool.shutdown()
        self.engine.dispose()


def text(message: Any) -> str:
    return json.dumps({"text": message.text, "blocks": message.blocks})


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiServer]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)  # slack-sdk ignores NO_PROXY
    with SlackApiServer() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def timed(db_url: str, slack: SlackApiServer) -> Iterator[Desk]:
    desk = Desk(db_url, slack, TIMED)
    yield desk
    desk.close()


def test_an_unacknowledged_ticket_walks_to_the_third_steps_channel(timed: Desk) -> None:
    """Opening at 08:50 pages the primary then (A); 5 min later the secondary (A, still on
    call); at 10 min, 09:00, the leads channel: a thread reply names it and a post with the
    ticket's buttons lands in that channel. Each step is an `escalated` event, once."""
    timed.open()
    (opening,) = timed.slack.messages("#alerts")
    assert "<@U0PRIMARYA>" in text(opening)
    for minute in (1, 4, 5, 5, 9):
        timed.watch(minute)
    (second,) = timed.replies()
    assert "Escalated* to <@U0SECONDA> (step 2 of 3: schedule secondary): not acknowledged 5m after opening" in second
    timed.watch(10)
    third = timed.replies()[1]
    assert f"<#{LEADS}> (step 3 of 3: channel {LEADS})" in third and "not acknowledged 10m after opening" in third
    (posted,) = timed.slack.messages(LEADS)
    assert posted.thread_ts is None and "ServiceDown" not in posted.text
    assert "api:80 is down" in text(posted)
    assert {e["action_id"] for b in posted.blocks if b["type"] == "actions" for e in b["elements"]} == {"ack", "resolve"}
    assert [(s["level"], s["trigger"], s["notified"]["mention"]) for s in timed.steps()] == [
        (0, "opened", "<@U0PRIMARYA>"), (1, "after", "<@U0SECONDA>"), (2, "after", f"<#{LEADS}>"),
    ]
    timed.watch(11)
    assert len(timed.replies()) == 2 and len(timed.slack.messages(LEADS)) == 1  # each step once


def test_acknowledgement_stops_the_after_steps(timed: Desk) -> None:
    timed.open()
    timed.watch(5)
    with timed.engine.begin() as conn:
        acknowledge(conn, 1, "alice", T0 + timedelta(minutes=7), timed.announcer)
    for minute in (7, 10, 12, 16, 30):
        timed.watch(minute)
    assert [s["trigger"] for s in timed.steps()] == ["opened", "after"]
    assert timed.slack.messages(LEADS) == []
    with timed.engine.connect() as conn:
        assert tickets_store.get(conn, 1).escalation_due_at is None  # nothing more to wait for


def test_the_readme_chain_reaches_its_channel_and_a_handoff_pages_the_new_person(
    db_url: str, slack: SlackApiServer
) -> None:
    """`[{schedule: primary}, {schedule: secondary}, {channel: ...}]`, no delays: the
    warning at 09:02 reminds the primary who took over at 09:00 (B, not A paged at the
    opening), the breach at 09:05 pages the new secondary (B), and the recovery breach at
    10:50 reaches the channel, in the thread and in the channel itself."""
    desk = Desk(db_url, slack, README_CHAIN)
    try:
        desk.open()
        assert "<@U0PRIMARYA>" in text(slack.messages("#alerts")[0])
        for minute in (12, 16, 96, 121):
            desk.watch(minute)
        warning, breach, recovery_warning, recovery_breach = desk.replies()
        assert "not acknowledged yet <@U0PRIMARYB> (step 1 of 3: schedule primary)" in warning
        assert "escalating to <@U0SECONDB> (step 2 of 3: schedule secondary)" in breach
        assert "<@U0SECONDB>" in recovery_warning
        assert f"escalating to <#{LEADS}> (step 3 of 3: channel {LEADS})" in recovery_breach
        (posted,) = slack.messages(LEADS)
        assert "recovery deadline breached" in text(posted)
    finally:
        desk.close()
