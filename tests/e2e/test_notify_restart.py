"""The daemon is SIGKILLed while notifications are still unsent: after a restart they
are delivered, and none twice. Real daemon process, real Prometheus, the real WebClient
against the local Slack API server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

RULES = """
groups:
  - name: notify
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: up{job="api"} == 0
        labels: {priority: P0, team: platform}
        annotations: {summary: "{{ $labels.instance }} is down"}
"""


def test_unsent_notifications_survive_sigkill_and_are_sent_once(
    tmp_path: Path, prometheus_factory, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Exporter() as api, SlackApiServer() as slack:
        prom = prometheus_factory({"api": [api.address]})
        prom.wait_for_target_health("api", "up", timeout=20)
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES)
        config = tmp_path / "slawatch.yaml"
        config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s}}\n"
            f"database: {{url: 'sqlite:///{tmp_path / 'state.db'}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s}}\n"
            f"slack: {{base_url: '{slack.base_url}', channel: '#alerts'}}\n"
            "server: {listen: '127.0.0.1:0'}\n"
        )
        env = {"SLACK_BOT_TOKEN": slack.token, **{k: "" for k in ("HTTPS_PROXY", "HTTP_PROXY")}}
        slack.down()
        daemon = DaemonProcess(config, tmp_path / "daemon.log", env={**os.environ, **env})
        daemon.start()
        try:
            api.down()
            wait_until(lambda: any(c.method == "chat.postMessage" for c in slack.calls), 30, 0.2, "no attempt to post")
            daemon.kill()  # the opening message is still in the outbox
        finally:
            daemon.kill()
        attempts_before = len(slack.calls_to("chat.postMessage"))
        assert slack.messages() == []
        slack.up()
        with DaemonProcess(config, tmp_path / "daemon.log", env={**os.environ, **env}):
            wait_until(lambda: slack.messages("#alerts"), 60, 0.2, "never delivered after restart")
            time.sleep(3)  # give a duplicate every chance to show up
        assert len([m for m in slack.messages("#alerts") if not m.thread_ts]) == 1
        assert len(slack.calls_to("chat.postMessage")) > attempts_before
        assert slack.errors == []
