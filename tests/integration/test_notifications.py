"""Notifications through the real slack-sdk WebClient to a local Slack-Web-API server.

Tickets are driven tick by tick (explicit timestamps, real SQLite); the dispatcher sends
the outbox with the real SlackSender. The server records every call and can answer 429
with Retry-After, 500, or drop connections (Slack down).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.incidents import reconcile as incidents
from slawatch.incidents import watcher as deadlines
from slawatch.incidents.actions import acknowledge
from slawatch.model import Labels, Sample
from slawatch.notify.announce import Announcer
from slawatch.notify.dispatcher import Dispatcher
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.senders import SlackSender
from slawatch.notify.stages.thread import ticket_facts
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox as outbox_store
from slawatch.store.engine import make_engine, upgrade
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULE = AlertingRule(
    name="ServiceDown", expr="down", labels={"priority": "P0", "team": "platform"},
    annotations={"summary": "{{ $labels.instance }} is down"},
)
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
ONCALL = OncallSettings.model_validate({
    "schedules": {
        "primary": {"people": ["U0PRIMARY", "carol@example.com"], "shift": "7d", "start_date": "2026-05-25"},
        "secondary": {"people": ["U0SECOND"], "shift": "7d", "start_date": "2026-05-25"},
    },
    "escalation": {"platform": [{"schedule": "primary"}, {"schedule": "secondary"}, {"channel": "C0LEADS"}]},
})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, tmp: Path, slack: SlackApiServer, **slack_settings: Any) -> None:
        self.engine = make_engine(f"sqlite:///{tmp / 'n.db'}")
        upgrade(self.engine)
        self.slack = slack
        settings = SlackSettings.model_validate(
            {"base_url": slack.base_url, "channel": "#alerts", "routes": [{"match": {"service": "db"}, "channel": "#db"}],
             **slack_settings}
        )
        self.announcer = Announcer(settings, ONCALL)
        self.clock = Clock(T0)
        self.monotonic = 0.0
        self.dispatcher = Dispatcher(
            self.engine, SlackSender(slack.token, slack.base_url, timedelta(seconds=5)),
            MessageRenderer(timezone="Europe/Berlin"), 1.0, self.clock, monotonic=lambda: self.monotonic,
        )
        self.state: dict = {}
        self.samples: list[Sample] = []
        self.pool = ThreadPoolExecutor(1)

    def tick(self, at: datetime) -> None:
        self.clock.now = at
        outcome = evaluate_group(GROUP, self.state, at, lambda expr, _at: self.samples, self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification(), self.announcer)

    def drain_all(self, rounds: int = 50) -> None:
        """Drain until the outbox is empty, letting token buckets refill between passes and,
        when every row left backs off, letting the clock reach the first retry."""
        for _ in range(rounds):
            self.dispatcher.drain()
            with self.engine.connect() as conn:
                if outbox_store.pending_count(conn) == 0:
                    return
                waiting = [r["next_attempt_at"] for r in outbox_store.all_rows(conn) if r["status"] in ("pending", "sending")]
            self.monotonic += 1.0
            if waiting and min(waiting) > self.clock.now:
                self.monotonic += (min(waiting) - self.clock.now).total_seconds()
                self.clock.now = min(waiting)
        raise AssertionError("outbox never drained")


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiServer]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)  # slack-sdk ignores NO_PROXY
    with SlackApiServer() as server:
        server.add_user("carol@example.com", "U0CAROL")
        yield server
        assert server.errors == []


@pytest.fixture
def world(tmp_path: Path, slack: SlackApiServer) -> Iterator[World]:
    w = World(tmp_path, slack)
    yield w
    w.engine.dispose()


def down(instance: str, **labels: str) -> Sample:
    return Sample(Labels(__name__="up", instance=instance, **labels), 0)


def all_texts(message: Any) -> str:
    """Every string in a message's text and blocks."""
    return json.dumps({"text": message.text, "blocks": message.blocks})


def test_open_posts_one_message_to_the_routed_channel_mentioning_the_on_call(world: World) -> None:
    world.samples = [down("a:80"), down("b:80", service="db")]
    world.tick(T0)
    world.drain_all()
    alerts, db = world.slack.messages("#alerts"), world.slack.messages("#db")
    assert len(alerts) == 1 and len(db) == 1
    assert "<@U0PRIMARY>" in all_texts(alerts[0])  # primary on call for team platform
    assert "a:80 is down" in all_texts(alerts[0]) and "P0" in all_texts(alerts[0])
    actions = [b for b in alerts[0].blocks if b["type"] == "actions"]
    assert {e["action_id"] for e in actions[0]["elements"]} == {"ack", "resolve"}


def test_ack_posts_in_the_thread_and_updates_the_opening_message(world: World) -> None:
    world.samples = [down("a:80")]
    world.tick(T0)
    world.drain_all()
    (opening,) = world.slack.messages("#alerts")
    with world.engine.begin() as conn:
        acknowledge(conn, 1, "alice", T0 + timedelta(minutes=3), world.announcer)
    world.clock.now = T0 + timedelta(minutes=3)
    world.drain_all()
    replies = world.slack.threads()[opening.ts]
    assert len(replies) == 1 and "alice" in all_texts(replies[0])
    (updated,) = [m for m in world.slack.messages("#alerts") if not m.thread_ts]
    assert len(updated.updates) == 1
    assert "ack" not in {e["action_id"] for b in updated.blocks if b["type"] == "actions" for e in b["elements"]}


def test_429_with_retry_after_is_retried_and_delivered_once(world: World) -> None:
    """The outbox, not slack-sdk, retries a 429: the row waits at least Retry-After, and so does its channel."""
    world.slack.fail_next("chat.postMessage", 2, status=429, retry_after=3)
    world.samples = [down("a:80")]
    world.tick(T0)
    world.dispatcher.drain()
    with world.engine.connect() as conn:
        (row,) = outbox_store.all_rows(conn)
    assert row["next_attempt_at"] - T0 >= timedelta(seconds=3)  # Retry-After honoured
    assert world.dispatcher.limiter.take("#alerts", world.monotonic + 2.9) > 0  # the whole channel waits
    world.drain_all()
    attempts = world.slack.calls_to("chat.postMessage")
    assert [c.status for c in attempts] == [429, 429, 200]
    assert len(world.slack.messages("#alerts")) == 1


def test_persistent_rate_limit_reschedules_the_row_without_losing_it(world: World) -> None:
    world.slack.fail_next("chat.postMessage", 3, status=429, retry_after=1)
    world.samples = [down("a:80")]
    world.tick(T0)
    world.dispatcher.drain()  # a 429 is not retried inside the call: the row is rescheduled
    with world.engine.connect() as conn:
        (row,) = outbox_store.all_rows(conn)
    assert row["status"] == "pending" and row["attempts"] == 1 and "429" in row["last_error"]
    world.clock.now = row["next_attempt_at"]
    world.drain_all()
    assert len(world.slack.messages("#alerts")) == 1
    assert [c.status for c in world.slack.calls_to("chat.postMessage")] == [429, 429, 429, 200]


def test_label_values_are_escaped_so_nobody_is_pinged(world: World) -> None:
    world.samples = [down("<!channel> <@U123> & <b>")]
    world.tick(T0)
    world.drain_all()
    (message,) = world.slack.messages("#alerts")
    text = all_texts(message)
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;b&gt;" in text
    assert "<!channel>" not in text and "<@U123>" not in text


def test_two_hundred_tickets_in_one_tick_are_one_digest(world: World) -> None:
    world.samples = [down(f"host{i}:80") for i in range(200)]
    world.tick(T0)
    world.drain_all()
    posts = world.slack.messages("#alerts")
    assert len(posts) == 1 and "200" in posts[0].text
    # later events of a digest ticket go to the digest's thread
    with world.engine.begin() as conn:
        acknowledge(conn, 7, "bob", T0 + timedelta(minutes=1), world.announcer)
    world.clock.now = T0 + timedelta(minutes=1)
    world.drain_all()
    assert len(world.slack.threads()[posts[0].ts]) == 1


def test_deadline_warning_reminds_the_primary_and_breach_escalates(world: World) -> None:
    world.samples = [down("a:80")]
    world.tick(T0)
    world.drain_all()
    (opening,) = world.slack.messages("#alerts")
    with world.engine.begin() as conn:
        deadlines.record_due(conn, T0 + timedelta(minutes=20), world.announcer)
    world.clock.now = T0 + timedelta(minutes=20)
    world.drain_all()
    warning, breach = world.slack.threads()[opening.ts]
    assert "<@U0PRIMARY>" in all_texts(warning) and "<@U0SECOND>" not in all_texts(warning)
    assert "<@U0SECOND>" in all_texts(breach)


def test_on_call_email_is_resolved_with_users_lookup_by_email(tmp_path: Path, slack: SlackApiServer) -> None:
    w = World(tmp_path, slack)
    w.samples = [down("a:80")]
    w.tick(T0 + timedelta(days=7))  # second week of the rotation: carol@example.com
    w.drain_all()
    (message,) = slack.messages("#alerts")
    assert "<@U0CAROL>" in all_texts(message)
    assert len(slack.calls_to("users.lookupByEmail")) == 1


def test_slack_down_for_30s_then_back_delivers_everything_once_in_order(world: World) -> None:
    world.samples = [down("a:80")]
    world.tick(T0)
    world.drain_all()
    (opening,) = world.slack.messages("#alerts")
    world.slack.down()
    world.dispatcher.clock = lambda: datetime.now(timezone.utc)
    world.dispatcher.monotonic = __import__("time").monotonic
    world.dispatcher.start()
    try:
        for i, who in enumerate(("alice", "bob")):
            with world.engine.begin() as conn:
                if i == 0:
                    acknowledge(conn, 1, who, datetime.now(timezone.utc), world.announcer)
            world.samples = [] if i == 1 else world.samples
            world.tick(datetime.now(timezone.utc))
            world.dispatcher.wake()
        threading.Event().wait(30)
        assert world.slack.threads().get(opening.ts, []) == []
        world.slack.up()

        def delivered() -> bool:
            with world.engine.connect() as conn:
                return outbox_store.pending_count(conn) == 0

        wait_until(delivered, 90, 0.5, "outbox not drained after Slack came back")
    finally:
        world.dispatcher.stop()
    replies = world.slack.threads()[opening.ts]
    kinds = [r.params["text"] for r in replies]
    assert len(replies) == 2, kinds  # acknowledged, condition cleared: once each
    assert "acknowledged" in kinds[0].lower() and "clear" in kinds[1].lower()


def test_row_left_sending_by_a_crash_is_not_posted_twice(world: World) -> None:
    """A crash after Slack accepted a post but before the row was marked sent."""
    world.samples = [down("a:80")]
    world.tick(T0)
    with world.engine.connect() as conn:
        (row,) = outbox_store.all_rows(conn)
    facts = ticket_facts(world.engine, row["ticket_id"])
    assert facts is not None
    world.dispatcher.sender.post("#alerts", MessageRenderer().opening(facts, []), None, row["id"])
    with world.engine.begin() as conn:
        outbox_store.mark(conn, row["id"], status="sending")
    world.drain_all()
    assert len(world.slack.messages("#alerts")) == 1
    with world.engine.connect() as conn:
        assert outbox_store.thread(conn, row["ticket_id"]) is not None  # bookkeeping completed


def test_row_left_sending_before_the_post_reached_slack_is_posted(world: World) -> None:
    world.samples = [down("a:80")]
    world.tick(T0)
    world.drain_all()
    world.samples = []
    world.tick(T0 + timedelta(minutes=1))  # condition cleared: a thread reply is queued
    with world.engine.connect() as conn:
        event = next(r for r in outbox_store.all_rows(conn) if r["kind"] == "event")
    with world.engine.begin() as conn:
        outbox_store.mark(conn, event["id"], status="sending")
    world.clock.now = T0 + timedelta(minutes=1)
    world.drain_all()
    (opening,) = [m for m in world.slack.messages("#alerts") if not m.thread_ts]
    assert len(world.slack.threads()[opening.ts]) == 1


def test_ack_button_click_acknowledges_and_posts_in_the_thread(world: World) -> None:
    """The whole loop: Slack button -> signed HTTP request -> ticket acked -> thread reply."""
    import requests

    from slawatch.web import HttpServer, make_app
    from tests.support.slack_requests import click, signed_headers

    world.samples = [down("a:80")]
    world.tick(T0)
    world.drain_all()
    (opening,) = world.slack.messages("#alerts")
    app = make_app(world.engine, "test-signing-secret", world.clock, on_change=world.dispatcher.wake, announcer=world.announcer)
    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    try:
        body = click("ack", 1, {"id": "U0CLICKER", "username": "dave"})
        headers = signed_headers(body, int(world.clock().timestamp()), "test-signing-secret")
        response = requests.post(f"http://127.0.0.1:{server.port}/slack/interactions", data=body, headers=headers, timeout=5)
        assert response.status_code == 200
    finally:
        server.stop()
    world.drain_all()
    (reply,) = world.slack.threads()[opening.ts]
    assert "U0CLICKER" in all_texts(reply) or "dave" in all_texts(reply)
    (updated,) = [m for m in world.slack.messages("#alerts") if not m.thread_ts]
    assert updated.updates, "opening message was not updated"
