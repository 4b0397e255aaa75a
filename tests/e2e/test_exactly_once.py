"""Exactly once across a crash in the middle of a post: Slack has carried out chat.postMessage
but the daemon is SIGKILLed before it heard so (and before it could mark the row sent). After
a restart the row, left `sending`, is looked up in Slack by its channel's id, found, and
marked sent: the message is in the channel once. The channel is configured by name
(`#alerts`), so this works only because the name was resolved to its id before the post.

Real daemon process, real Prometheus scraping the test exporter, the real WebClient against
the local Slack API server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.store import outbox as outbox_store
from slawatch.store.engine import make_engine
from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

RULES = """
groups:
  - name: exactly-once
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: up{job="api"} == 0
        labels: {priority: P0}
        annotations: {summary: "{{ $labels.instance }} is down"}
"""
HOLD_SECONDS = 30  # the held answer to the opening post comes long after the kill
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def test_a_post_slack_carried_out_before_a_sigkill_is_not_posted_again_after_the_restart(
    tmp_path: Path, prometheus_factory, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    for name in PROXY_VARS:  # slack-sdk ignores NO_PROXY
        monkeypatch.delenv(name, raising=False)
    db_url = f"sqlite:///{tmp_path / 'state.db'}"
    with Exporter() as api, SlackApiServer() as slack:
        alerts_id = slack.add_channel("#alerts")  # exists in the workspace: conversations.list lists it
        prom = prometheus_factory({"api": [api.address]})
        prom.wait_for_target_health("api", "up", timeout=20)
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES)
        config = tmp_path / "slawatch.yaml"
        config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s}}\n"
            f"database: {{url: '{db_url}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s}}\n"
            "slack: {channel: '#alerts'}\n"  # by name; the server and token: SLACK_BASE_URL, SLACK_BOT_TOKEN
            "server: {listen: '127.0.0.1:0'}\n"
        )
        env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "SLACK_BASE_URL": slack.base_url}

        def openings() -> list[dict[str, Any]]:
            engine = make_engine(db_url)
            try:
                with engine.connect() as conn:
                    return [r for r in outbox_store.listing(conn) if r["kind"] == NotificationKind.OPENING.value]
            finally:
                engine.dispose()

        slack.hold_next("chat.postMessage", HOLD_SECONDS)
        with DaemonProcess(config, tmp_path / "daemon.log", env=env) as daemon:
            api.down()
            wait_until(lambda: slack.messages("#alerts"), 40, 0.02, "the opening message never reached Slack")
            daemon.kill()  # Slack has the message; the daemon has not heard back
        (row,) = openings()
        assert row["status"] == OutboxStatus.SENDING.value, row
        assert row["channel_id"] == alerts_id  # resolved before the post, so it can be looked up

        with DaemonProcess(config, tmp_path / "daemon.log", env=env) as daemon:
            wait_until(lambda: openings()[0]["status"] == OutboxStatus.SENT.value, 40, 0.2,
                       "the row left sending was never marked sent")
            found = [e for e in daemon.events() if e.get("event") == "notification_found_already_sent"]

        top_level = [m for m in slack.messages("#alerts") if not m.thread_ts]
        assert len(top_level) == 1, [m.text for m in top_level]
        assert "is down" in (top_level[0].text or "")
        assert len([c for c in slack.calls_to("chat.postMessage") if not c.params.get("thread_ts")]) == 1
        lookups = slack.calls_to("conversations.history")
        assert lookups and all(c.params.get("channel") == alerts_id for c in lookups), [c.params for c in lookups]
        assert lookups[-1].delivered
        assert [e.get("outbox_id") for e in found] == [row["id"]]
        assert slack.errors == []
