"""Delivery that never stalls: fair selection, dead letters, one bad row, visible state.

The real dispatcher thread sends through the real slack-sdk WebClient to the local Slack
API server, with the wall clock (these tests measure latency), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from prometheus_client import generate_latest

from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.daemon import DeliveryMetrics
from slawatch.incidents import reconcile
from slawatch.metrics import Metrics
from slawatch.model import Labels, NotificationKind, OutboxStatus, Priority, Sample
from slawatch.notify.announce import Announcer
from slawatch.notify.dispatcher import Dispatcher
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.senders import SlackSender
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox as outbox_store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.outbox import NewNotification
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

RULE = AlertingRule(name="Down", expr="down", annotations={"summary": "{{ $labels.instance }} is down"})
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
ROUTES = [
    {"match": {"service": "gone"}, "channel": "#gone"},
    {"match": {"service": "busy"}, "channel": "#busy"},
    {"match": {"priority": "P0"}, "channel": "#incidents"},
]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Desk:
    """A database, an announcer and a running dispatcher against the local Slack server."""

    def __init__(self, url: str, slack: SlackApiServer, templates: Path | None = None, **slack_settings: Any) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.slack = slack
        settings = SlackSettings.model_validate(
            {"base_url": slack.base_url, "channel": "#alerts", "routes": ROUTES, "digest_threshold": 100_000,
             "fallback_channel": "#slawatch-ops", **slack_settings}
        )
        self.announcer = Announcer(settings, OncallSettings())
        self.metrics = Metrics()
        self.dispatcher = Dispatcher(
            self.engine, SlackSender(slack.token, slack.base_url, timedelta(seconds=5)),
            MessageRenderer(templates), settings.rate_per_channel, utc_now,
            fallback_channel=settings.fallback_channel, max_attempts=settings.max_attempts,
            observer=DeliveryMetrics(self.metrics),
        )
        self.metrics.watch_outbox(self._figures, utc_now)
        self.pool = ThreadPoolExecutor(2)
        self.state: dict = {}
        self.samples: list[Sample] = []

    def _figures(self) -> list:
        with self.engine.connect() as conn:
            return outbox_store.figures(conn)

    def open(self, *samples: Sample) -> float:
        """One tick in which `samples` start firing too (for: 0); returns the monotonic instant it committed."""
        at = utc_now()
        self.samples.extend(samples)
        outcome = evaluate_group(GROUP, self.state, at, lambda _e, _a: list(self.samples), self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            reconcile.reconcile(conn, outcome, SlaPolicy.default(), Classification(), self.announcer)
        self.dispatcher.wake()
        return time.monotonic()

    def rows(self, status: OutboxStatus | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return outbox_store.listing(conn, status)

    def close(self) -> None:
        self.dispatcher.stop()
        self.pool.shutdown()
        self.engine.dispose()


def down(instance: str, **labels: str) -> Sample:
    return Sample(Labels(__name__="up", instance=instance, **labels), 0)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiServer]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with SlackApiServer() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def desk(db_url: str, slack: SlackApiServer) -> Iterator[Desk]:
    d = Desk(db_url, slack)
    yield d
    d.close()


def posted_within(slack: SlackApiServer, channel: str, since: float, limit: float, text: str) -> float:
    """Seconds from `since` until a message containing `text` is in `channel` (fails after `limit`)."""
    wait_until(lambda: any(text in (m.text or "") for m in slack.messages(channel)), limit, 0.02,
               f"no message with {text!r} in {channel} within {limit}s")
    return time.monotonic() - since


def test_a_dead_channel_never_delays_a_p0_elsewhere_and_its_rows_are_dead_lettered(desk: Desk) -> None:
    desk.slack.break_channel("#gone", "channel_not_found")
    desk.open(*[down(f"gone{i}:80", service="gone") for i in range(30)])
    desk.dispatcher.start()
    opened = desk.open(down("api:80", priority="P0"))
    assert posted_within(desk.slack, "#incidents", opened, 2.0, "api:80 is down") < 2.0
    wait_until(lambda: len(desk.rows(OutboxStatus.FAILED)) == 30, 10, 0.1, "30 dead letters")
    failed = desk.rows(OutboxStatus.FAILED)
    assert {r["channel"] for r in failed} == {"#gone"} and all("channel_not_found" in r["last_error"] for r in failed)
    # one Slack call found the channel gone; the other 29 rows failed with it, without calls
    assert len(desk.slack.calls_to("chat.postMessage")) <= 1 + 1 + 1  # #gone once, the P0, the report
    assert desk.metrics.registry.get_sample_value("slawatch_notification_dead_letters_total", {"channel": "#gone"}) >= 1
    scrape = generate_latest(desk.metrics.registry).decode()
    assert 'slawatch_outbox_rows{channel="#gone",status="failed"} 30.0' in scrape
    posted_within(desk.slack, "#slawatch-ops", opened, 5.0, "channel_not_found")
    (report,) = desk.slack.messages("#slawatch-ops")
    assert "channel_not_found" in report.text and "29 other" in str(report.blocks)
    assert desk.slack.messages("#gone") == []


def test_ten_thousand_rows_in_one_channel_do_not_delay_a_p0_in_another(desk: Desk) -> None:
    desk.open(*[down(f"busy{i}:80", service="busy") for i in range(10_000)])
    with desk.engine.connect() as conn:
        assert outbox_store.pending_count(conn) == 10_000
    started = time.monotonic()
    desk.dispatcher.start()
    time.sleep(1.0)  # the backlog is being worked on
    opened = desk.open(down("api:80", priority="P0"))
    assert posted_within(desk.slack, "#incidents", opened, 2.0, "api:80 is down") < 2.0
    # a P0 in the busy channel itself jumps its queue
    opened = desk.open(down("core:80", service="busy", priority="P0"))
    assert posted_within(desk.slack, "#busy", opened, 3.0, "core:80 is down") < 3.0
    # still rate-limited (a burst of 3, then 1 a second, however long the ticks above took): far from drained
    assert len(desk.slack.messages("#busy")) <= 3 + (time.monotonic() - started) * 1.0


def test_a_template_failing_for_one_ticket_does_not_stop_the_others(db_url: str, slack: SlackApiServer,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "opening.md.j2").write_text(
        '{% extends "default/opening.md.j2" %}{% block body %}'
        '{% if ticket.labels.instance == "bad:80" %}{{ ticket.no_such_field.boom }}{% endif %}'
        '{{ super() }}{% endblock %}'
    )
    desk = Desk(db_url, slack, templates=tmp_path, max_attempts=3)
    try:
        desk.dispatcher.start()
        desk.open(down("bad:80"), down("good1:80"), down("good2:80"))
        wait_until(lambda: len(slack.messages("#alerts")) == 2, 10, 0.05, "the two good openings")
        assert not any("bad:80" in (m.text or "") for m in slack.messages("#alerts"))
        wait_until(lambda: len(desk.rows(OutboxStatus.FAILED)) == 1, 30, 0.1, "the bad row dead-lettered")
        (bad,) = desk.rows(OutboxStatus.FAILED)
        assert bad["attempts"] == 3 and "no_such_field" in bad["last_error"]
        desk.open(down("good3:80"))  # and the pipeline keeps going
        wait_until(lambda: len(slack.messages("#alerts")) == 3, 10, 0.05, "a later opening")
    finally:
        desk.close()


def test_selection_is_per_channel_budget_head_of_ticket_and_urgent_first(desk: Desk) -> None:
    """store.outbox.due: at most N per channel, a ticket's second row waits, P0 before P2."""
    now = utc_now()
    desk.open(*[down(f"busy{i}:80", service="busy") for i in range(5)])
    desk.open(down("api:80", priority="P0"))
    with desk.engine.begin() as conn:
        outbox_store.add(conn, [NewNotification(1, NotificationKind.UPDATE, "#busy", {}, "x:1")], now)
        rows = outbox_store.due(conn, utc_now(), per_channel=3)
    channels = [r.channel for r in rows]
    assert channels.count("#busy") == 3 and channels.count("#incidents") == 1
    assert rows[0].priority is Priority.P0  # the most urgent first, across channels
    assert all(r.kind is NotificationKind.OPENING for r in rows)  # the update waits for its thread


def test_invalid_auth_is_dead_lettered_and_makes_the_dispatcher_report_it(desk: Desk) -> None:
    desk.slack.fail_next("chat.postMessage", 1, error="invalid_auth")
    desk.open(down("a:80"))
    desk.dispatcher.drain()
    (row,) = desk.rows(OutboxStatus.FAILED)
    assert "invalid_auth" in row["last_error"] and desk.dispatcher.auth_error == "invalid_auth"


def test_a_failed_row_can_be_retried_by_a_human(desk: Desk) -> None:
    desk.slack.fail_next("chat.postMessage", 1, error="is_archived")
    desk.open(down("a:80"))
    desk.dispatcher.drain()
    (row,) = desk.rows(OutboxStatus.FAILED)
    with desk.engine.begin() as conn:
        assert outbox_store.retry(conn, row["id"], utc_now())
    for _ in range(10):
        desk.dispatcher.drain()
    assert len(desk.slack.messages("#alerts")) == 1
    with desk.engine.connect() as conn:
        assert outbox_store.get(conn, row["id"]).status is OutboxStatus.SENT
