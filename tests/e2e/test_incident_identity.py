"""Incident identity end to end: `slawatch run` as a process, a real Prometheus, an
exporter the test controls. Tickets survive rule files moved between runs, a rule
removed from its file resolves its ticket as `rule_removed` (with thread replies through
the real WebClient and the local Slack API server), and a restart later than
`for_outage_tolerance` neither clears nor duplicates a ticket whose fault persists."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from slawatch.cli.alerts import list_alerts
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine
from slawatch.store.schema import tickets as tickets_table
from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.prometheus import PrometheusServer
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

SERVICE_DOWN = """
      - alert: ServiceDown
        expr: e2e_down > 0
        for: {for_}
        labels: {{priority: P0, service: api}}
        annotations: {{summary: "api is down"}}
"""
SLOW_BURN = """
      - alert: SlowBurn
        expr: e2e_slow > 0
        for: 5m
        labels: {priority: P1}
"""


def rules_text(*rules: str) -> str:
    return "groups:\n  - name: identity\n    interval: 1s\n    rules:\n" + "".join(rules)


class Run:
    """One daemon configuration in a temp folder; `write_config` may be called again."""

    def __init__(self, tmp: Path, db_url: str, prom: PrometheusServer, env: dict[str, str] | None = None) -> None:
        self.tmp, self.db_url, self.prom, self.env = tmp, db_url, prom, env
        self.config = tmp / "slawatch.yaml"
        self.log = tmp / "daemon.log"
        self.engine = make_engine(db_url)

    def write_config(self, rules: Path, verification: str = "4s", tolerance: str = "1h", extra: str = "") -> None:
        self.config.write_text(
            f"prometheus: {{url: '{self.prom.url}', timeout: 2s}}\n"
            f"database: {{url: '{self.db_url}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s, for_outage_tolerance: {tolerance}}}\n"
            f"sla: {{watch_interval: 1s, priorities: {{P0: {{verification: {verification}}}, "
            f"P1: {{verification: {verification}}}}}}}\n"
            "server: {listen: '127.0.0.1:0'}\n" + extra
        )

    def daemon(self) -> DaemonProcess:
        return DaemonProcess(self.config, self.log, env=self.env)

    def tickets(self, rule: str = "ServiceDown") -> list[store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted((t for t in store.listing(conn) if t.rule == rule), key=lambda t: t.id)

    def events(self, ticket_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return [e.kind for e in store.events(conn, ticket_id)]

    def group_key(self, ticket_id: int) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(tickets_table.select().where(tickets_table.c.id == ticket_id)).mappings().one()
        return str(row["group_key"])

    def log_events(self, name: str) -> list[dict]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines() if self.log.exists() else []:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                out.append(entry)
        return out


@pytest.fixture
def prom(prometheus_factory, exporter: Exporter) -> PrometheusServer:  # type: ignore[no-untyped-def]
    server = prometheus_factory({"data": [exporter.address]})
    server.wait_for_target_health("data", "up", timeout=20)
    return server


@pytest.fixture
def run(tmp_path: Path, db_url: str, prom: PrometheusServer) -> Iterator[Run]:
    r = Run(tmp_path, db_url, prom)
    yield r
    r.engine.dispose()


def test_rule_files_moved_between_runs_keep_the_open_ticket(run: Run, exporter: Exporter) -> None:
    """Like a new release directory or another mount point: the same ticket continues,
    no tick fails, no second ticket, and a pending `for` timer is not reset."""
    first = run.tmp / "release-1"
    first.mkdir()
    (first / "rules.yaml").write_text(rules_text(SERVICE_DOWN.format(for_="1s"), SLOW_BURN))
    run.write_config(first / "rules.yaml")
    exporter.set("e2e_down", {}, 1)
    exporter.set("e2e_slow", {}, 1)
    with run.daemon():
        (opened,) = wait_until(run.tickets, 20, 0.1, "no ticket opened")
        (pending,) = wait_until(lambda: [a for a in list_alerts(run.db_url) if a.rule == "SlowBurn"], 10, 0.1,
                                "SlowBurn never pending")
    assert run.group_key(opened.id) == "release-1/rules.yaml;identity"

    second = run.tmp / "release-2"
    shutil.move(first, second)  # the old path is gone
    run.write_config(second / "rules.yaml")
    with run.daemon() as daemon:
        wait_until(lambda: run.log_events("ticket_adopted"), 10, 0.1, "ticket never adopted")
        offset = len(daemon.events())
        wait_until(lambda: len([e for e in daemon.events()[offset:] if e.get("event") == "group_evaluated"]) >= 5,
                   20, 0.1, "too few ticks after the move")
        assert [(t.id, t.status, t.recovered_at) for t in run.tickets()] == [(opened.id, "open", None)]
        assert run.group_key(opened.id) == "release-2/rules.yaml;identity"
        (slow,) = [a for a in list_alerts(run.db_url) if a.rule == "SlowBurn"]
        assert (slow.state.value, slow.active_at) == ("pending", pending.active_at)
        # the new group owns the ticket: the fault goes, the ticket verifies
        exporter.set("e2e_down", {}, 0)
        wait_until(lambda: run.tickets()[0].status == "resolved", 20, 0.2, "never verified after the move")
    (t,) = run.tickets()
    assert (t.id, t.resolution) == (opened.id, "verified")
    assert run.events(t.id) == ["opened", "condition_cleared", "recovery_verified"]
    assert run.log_events("tick_write_failed") == []
    assert run.log_events("ticket_open_conflict") == []


def test_a_rule_removed_and_sighup_resolves_its_ticket_as_rule_removed(
    tmp_path: Path, prom: PrometheusServer, exporter: Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with SlackApiServer() as slack:
        run = Run(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", prom, {**os.environ, "SLACK_BOT_TOKEN": slack.token})
        rules = tmp_path / "rules.yaml"
        rules.write_text(rules_text(SERVICE_DOWN.format(for_="1s"), SLOW_BURN))
        run.write_config(rules, verification="4s", extra=f"slack: {{base_url: '{slack.base_url}', channel: '#alerts'}}\n")
        exporter.set("e2e_down", {}, 1)
        with run.daemon() as daemon:
            (opened,) = wait_until(run.tickets, 20, 0.1, "no ticket opened")
            wait_until(lambda: [m for m in slack.messages("#alerts") if not m.thread_ts], 20, 0.1, "no opening message")
            rules.write_text(rules_text(SLOW_BURN))  # the fault is still there; its rule is not
            removed = time.time()
            daemon.signal(signal.SIGHUP)
            wait_until(lambda: run.log_events("reload_succeeded"), 10, 0.1, "no reload")
            wait_until(lambda: run.tickets()[0].status == "resolved", 20, 0.2, "never resolved after removal")

            def removal_replies() -> list[str]:
                bodies = [json.dumps(m.blocks) for m in slack.messages("#alerts") if m.thread_ts]
                found = [b for b in bodies if "removed" in b]
                return found if len(found) >= 2 else []

            replies = wait_until(removal_replies, 20, 0.2, "no thread replies about the removal")
        (t,) = run.tickets()
        assert (t.id, t.resolution) == (opened.id, "rule_removed")
        assert abs(t.recovered_at.timestamp() - removed) < 3
        window = t.resolved_at - t.recovered_at
        assert timedelta(seconds=4) <= window <= timedelta(seconds=7), window
        assert run.events(t.id) == ["opened", "rule_removed", "recovery_verified"]
        assert any("Rule ServiceDown removed" in r for r in replies), replies
        assert any("Recovery verified* (rule removed)" in r for r in replies), replies
        assert run.log_events("tick_write_failed") == []
        assert slack.errors == []


def test_restart_after_the_outage_tolerance_keeps_the_ticket_as_it_is(run: Run, exporter: Exporter) -> None:
    """The persisted state is older than for_outage_tolerance, so the alert restarts as
    pending for its whole `for`; its ticket is neither cleared nor duplicated meanwhile."""
    rules = run.tmp / "rules.yaml"
    rules.write_text(rules_text(SERVICE_DOWN.format(for_="6s")))
    run.write_config(rules, verification="2s", tolerance="1s")
    exporter.set("e2e_down", {}, 1)
    daemon = run.daemon().start()
    try:
        (opened,) = wait_until(run.tickets, 30, 0.1, "no ticket opened")
        (before,) = [a for a in list_alerts(run.db_url) if a.rule == "ServiceDown"]
        daemon.kill()
    finally:
        daemon.kill()
    time.sleep(2.5)  # longer than the tolerance
    with run.daemon() as second:
        (restarted,) = wait_until(
            lambda: [a for a in list_alerts(run.db_url) if a.rule == "ServiceDown" and a.active_at > before.active_at],
            15, 0.1, "the alert did not restart as pending",
        )
        assert restarted.state.value == "pending"
        assert any(e.get("event") == "group_evaluated" and e.get("pending") == 1 for e in second.events())
        deadline = time.monotonic() + 12  # the whole `for` and the verification window, twice over
        while time.monotonic() < deadline:
            assert [(t.id, t.status, t.recovered_at) for t in run.tickets()] == [(opened.id, "open", None)]
            time.sleep(0.2)
        (firing,) = [a for a in list_alerts(run.db_url) if a.rule == "ServiceDown"]
        assert firing.state.value == "firing"
    assert run.events(opened.id) == ["opened"]
    assert run.log_events("tick_write_failed") == []
