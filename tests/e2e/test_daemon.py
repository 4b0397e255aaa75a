"""`slawatch run` as a process against a real Prometheus: restarts, signals, reloads, outages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest

from slawatch.cli.alerts import list_alerts
from slawatch.model import Alert
from slawatch.store import tickets as tickets_store
from slawatch.store.engine import make_engine
from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.prometheus import PrometheusServer
from tests.support.waiting import wait_until

RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: SlowBurn
        expr: e2e_value > 0
        for: 8s
        labels: {priority: P1}
"""


class Setup:
    def __init__(self, tmp: Path, prom: PrometheusServer, data: Exporter) -> None:
        self.tmp, self.prom, self.data = tmp, prom, data
        self.rules = tmp / "rules.yaml"
        self.rules.write_text(RULES)
        self.db_url = f"sqlite:///{tmp / 'state.db'}"
        self.config = tmp / "slawatch.yaml"
        self.config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s, unreachable_after: 3}}\n"
            f"database: {{url: '{self.db_url}'}}\n"
            f"rules: {{paths: ['{self.rules}'], evaluation_interval: 1s}}\n"
            "server: {listen: '127.0.0.1:0'}\n"
        )

    def daemon(self) -> DaemonProcess:
        return DaemonProcess(self.config, self.tmp / "daemon.log")

    def log_path_text(self) -> str:
        return (self.tmp / "daemon.log").read_text(errors="replace")

    def alerts(self, name: str) -> list[Alert]:
        return [a for a in list_alerts(self.db_url) if a.rule == name]


@pytest.fixture
def setup(tmp_path: Path, prometheus_factory, exporter: Exporter) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    prom = prometheus_factory({"data": [exporter.address]})
    prom.wait_for_target_health("data", "up", timeout=15)
    yield Setup(tmp_path, prom, exporter)


def test_sigkill_while_pending_does_not_reset_the_for_timer(setup: Setup) -> None:
    setup.data.set("e2e_value", {}, 1)
    with setup.daemon() as daemon:
        (pending,) = wait_until(lambda: setup.alerts("SlowBurn"), 15, 0.1, "alert never became pending")
        assert pending.state.value == "pending"
        time.sleep(3)
        daemon.kill()
    time.sleep(1)
    with setup.daemon() as daemon:
        firing = wait_until(
            lambda: [a for a in setup.alerts("SlowBurn") if a.state.value == "firing"], 20, 0.1, "never fired"
        )
        restarted = datetime.fromisoformat([e for e in daemon.events() if e["event"] == "daemon_started"][-1]["timestamp"])
    (alert,) = firing
    assert alert.active_at == pending.active_at
    # Fired when `for` elapsed since the original active-since (or at the first tick after the
    # restart, when starting took longer than that), not `for` after the restart.
    delay = alert.fired_at - alert.active_at
    due = max(alert.active_at + timedelta(seconds=8), restarted)
    assert delay >= timedelta(seconds=8) and alert.fired_at - due <= timedelta(seconds=1.5), (delay, restarted)


def test_sigterm_finishes_the_tick_in_flight_and_exits_zero_within_10s(setup: Setup) -> None:
    daemon = setup.daemon().start()
    try:
        wait_until(lambda: any(e.get("event") == "group_evaluated" for e in daemon.events()), 10, 0.1, "no tick")
        setup.prom.pause()  # the next tick's queries hang until their 2 s timeout
        time.sleep(1.2)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        events = [e["event"] for e in daemon.events()]
        assert events[-1] == "daemon_stopped"
    finally:
        setup.prom.resume()
        daemon.kill()


def test_sighup_with_broken_rules_keeps_the_last_good_rules(setup: Setup) -> None:
    setup.data.set("e2e_value", {}, 1)
    with setup.daemon() as daemon:
        wait_until(lambda: setup.alerts("SlowBurn"), 15, 0.1, "alert never became pending")
        setup.rules.write_text(RULES.replace("for: 8s", "for: eight seconds"))
        daemon.signal(signal.SIGHUP)
        failed = wait_until(
            lambda: [e for e in daemon.events() if e["event"] == "reload_failed"], 10, 0.1, "no reload_failed"
        )
        assert any("rules.yaml:8" in p and "for" in p for p in failed[0]["problems"]), failed[0]
        # Still evaluating with the old rules: the alert fires on schedule.
        wait_until(lambda: [a for a in setup.alerts("SlowBurn") if a.state.value == "firing"], 15, 0.2, "stopped")
        setup.rules.write_text(RULES + "      - {alert: Added, expr: e2e_value > 0}\n")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: setup.alerts("Added"), 10, 0.1, "reloaded rule never evaluated")
        assert [a.state.value for a in setup.alerts("SlowBurn")] == ["firing"]


BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


def test_sighup_with_invalid_utf8_or_an_alias_bomb_keeps_the_daemon_and_its_rules(setup: Setup) -> None:
    setup.data.set("e2e_value", {}, 1)
    hostile = [
        (RULES.replace("SlowBurn", "Slow\udcffBurn").encode("utf-8", "surrogateescape"), ":6: invalid UTF-8"),
        (BOMB.encode(), ":2: YAML aliases are not allowed (*a)"),
    ]
    with setup.daemon() as daemon:
        wait_until(lambda: setup.alerts("SlowBurn"), 15, 0.1, "alert never became pending")
        for content, where in hostile:
            seen = len([e for e in daemon.events() if e["event"] == "reload_failed"])
            setup.rules.write_bytes(content)
            started = time.monotonic()
            daemon.signal(signal.SIGHUP)
            failed = wait_until(
                lambda seen=seen: [e for e in daemon.events() if e["event"] == "reload_failed"][seen:],
                10, 0.05, "no reload_failed",
            )
            assert time.monotonic() - started < 2
            assert failed[0]["problems"] == [p for p in failed[0]["problems"] if p.startswith(f"{setup.rules}{where}")]
            assert failed[0]["problems"] and daemon.proc is not None and daemon.proc.poll() is None
        # The previous rules still run: the pending alert fires on schedule, ticks go on.
        wait_until(lambda: [a for a in setup.alerts("SlowBurn") if a.state.value == "firing"], 15, 0.2, "stopped")
        ticks = len([e for e in daemon.events() if e["event"] == "group_evaluated"])
        wait_until(lambda: len([e for e in daemon.events() if e["event"] == "group_evaluated"]) > ticks + 2, 10, 0.2, "no ticks")
        assert not [e for e in daemon.events() if e["event"] in ("reload_crashed", "tick_failed")]


def test_credentials_in_the_prometheus_url_never_reach_the_log(setup: Setup) -> None:
    """Prometheus ignores basic auth, so queries still work; `secret` must not be in stderr."""
    port = setup.prom.url.rsplit(":", 1)[1]
    config = setup.config.read_text()
    setup.config.write_text(config.replace(setup.prom.url, f"http://slawatch:secret@127.0.0.1:{port}"))
    setup.data.set("e2e_value", {}, 1)
    with setup.daemon() as daemon:
        wait_until(lambda: setup.alerts("SlowBurn"), 15, 0.1, "queries with credentials in the URL failed")
        (started,) = [e for e in daemon.events() if e["event"] == "daemon_started"]
        assert started["prometheus"] == f"http://slawatch:***@127.0.0.1:{port}"
        daemon.signal(signal.SIGHUP)  # a reload logs what changed, never the URL
        wait_until(lambda: [e for e in daemon.events() if e["event"] == "reload_succeeded"], 10, 0.1, "no reload")
    # An invalid port makes requests quote the whole URL in its exception.
    setup.config.write_text(config.replace(setup.prom.url, "http://slawatch:secret@127.0.0.1:99999"))
    with setup.daemon() as daemon:
        failed = wait_until(
            lambda: [e for e in daemon.events() if e["event"] == "rule_query_failed"], 10, 0.1, "no query failure"
        )
        assert "http://slawatch:***@127.0.0.1:99999" in failed[0]["error"], failed[0]
    check = subprocess.run(
        [sys.executable, "-m", "slawatch", "check", "--prometheus", "--config", str(setup.config)],
        capture_output=True, text=True, timeout=60,
    )
    assert check.returncode == 1 and "cannot ask Prometheus" in check.stderr and "***" in check.stderr
    assert "secret" not in setup.log_path_text() + check.stdout + check.stderr


def test_unreachable_prometheus_freezes_alerts_and_raises_its_own_alert(setup: Setup) -> None:
    setup.rules.write_text(RULES.replace("for: 8s", "for: 0s"))
    setup.data.set("e2e_value", {}, 1)
    with setup.daemon() as daemon:
        wait_until(lambda: [a for a in setup.alerts("SlowBurn") if a.state.value == "firing"], 15, 0.1, "no fire")
        setup.prom.pause()
        try:
            blind = wait_until(
                lambda: [a for a in setup.alerts("SlawatchPrometheusUnreachable") if a.state.value == "firing"],
                20, 0.2, "monitoring-blind alert never fired",
            )
            assert blind[0].labels["priority"] == "P1"
            # Nothing resolved because Prometheus did not answer.
            assert [a.state.value for a in setup.alerts("SlowBurn")] == ["firing"]
            events = daemon.events()
            assert any(e["event"] == "rule_query_failed" and e["kind"] == "unreachable" for e in events)
            # queries now take their 2 s timeout at a 1 s interval: skipped ticks are logged
            assert any(e["event"] == "tick_skipped" and e["reason"] == "previous_tick_running" for e in events)
            # and monitoring-blindness is an incident like any other: a P1 ticket
            with make_engine(setup.db_url).connect() as conn:
                blind_tickets = [t for t in tickets_store.listing(conn) if t.rule == "SlawatchPrometheusUnreachable"]
            assert [(t.priority, t.status) for t in blind_tickets] == [("P1", "open")]
        finally:
            setup.prom.resume()
        wait_until(lambda: not setup.alerts("SlawatchPrometheusUnreachable"), 20, 0.2, "blind alert never resolved")
        assert [a.state.value for a in setup.alerts("SlowBurn")] == ["firing"]


def test_alerts_command_lists_pending_and_firing_as_json(setup: Setup) -> None:
    setup.data.set("e2e_value", {"host": "h1"}, 1)
    with setup.daemon():
        wait_until(lambda: setup.alerts("SlowBurn"), 15, 0.1, "alert never became pending")
        out = subprocess.run(
            [sys.executable, "-m", "slawatch", "alerts", "--config", str(setup.config), "--format", "json"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        table = subprocess.run(
            [sys.executable, "-m", "slawatch", "alerts", "--config", str(setup.config)],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    (alert,) = [a for a in json.loads(out) if a["alertname"] == "SlowBurn"]
    assert alert["state"] == "pending" and alert["labels"]["host"] == "h1" and alert["active_at"]
    assert "SlowBurn" in table and 'host="h1"' in table and "pending" in table
