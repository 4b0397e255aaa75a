"""Tickets end to end: `slawatch run` as a process, a real Prometheus, exporters the test
controls, and the database (SQLite and PostgreSQL) read back through the CLI and store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from slawatch.store import tickets as store
from slawatch.store.engine import make_engine
from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.prometheus import PrometheusServer
from tests.support.waiting import wait_until

FOR = timedelta(seconds=2)
INTERVAL = timedelta(seconds=1)
VERIFICATION = timedelta(seconds=8)

RULES = """
groups:
  - name: tickets
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: up{job="api"} == 0
        for: 2s
        labels: {priority: P0, service: api}
        annotations: {summary: "API instance {{ $labels.instance }} is down"}
      - alert: ShardDown
        expr: shard_up == 0
        labels: {severity: error}
        annotations: {slawatch_group_by: service, summary: "shards of {{ $labels.service }} down"}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, Exporter, Exporter, Path]]:
    tmp = tmp_path_factory.mktemp("tickets")
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    with Exporter() as api, Exporter() as shards:
        api.set("api_ok", {}, 1)
        prom = PrometheusServer({"api": [api.address], "shards": [shards.address]}, workdir=tmp / "prom").start()
        try:
            prom.wait_for_target_health("api", "up", timeout=20)
            yield prom, api, shards, rules
        finally:
            prom.stop()


class Run:
    def __init__(self, tmp: Path, db_url: str, prom: PrometheusServer, rules: Path) -> None:
        self.db_url = db_url
        self.config = tmp / "slawatch.yaml"
        self.config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s}}\n"
            f"database: {{url: '{db_url}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s}}\n"
            f"sla: {{watch_interval: 1s, priorities: {{P0: {{verification: 8s}}, P1: {{verification: 8s}}}}}}\n"
            "server: {listen: '127.0.0.1:0'}\n"
        )
        self.log = tmp / "daemon.log"
        self.engine = make_engine(db_url)

    def daemon(self) -> DaemonProcess:
        return DaemonProcess(self.config, self.log)

    def tickets(self, rule: str) -> list[store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted((t for t in store.listing(conn) if t.rule == rule), key=lambda t: t.id)

    def events(self, ticket_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return [e.kind for e in store.events(conn, ticket_id)]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slawatch", *args, "--config", str(self.config)],
            capture_output=True, text=True, timeout=60,
        )


@pytest.fixture
def run(tmp_path: Path, db_url: str, world) -> Iterator[Run]:  # type: ignore[no-untyped-def]
    prom, api, shards, rules = world
    api.up()
    shards.clear()
    r = Run(tmp_path, db_url, prom, rules)
    yield r
    r.engine.dispose()
    api.up()


def test_ticket_lifecycle_open_ack_recover_verify(run: Run, world) -> None:  # type: ignore[no-untyped-def]
    _prom, api, _shards, _rules = world
    with run.daemon():
        time.sleep(2)
        fault = time.time()
        api.down()
        (t,) = wait_until(lambda: run.tickets("ServiceDown"), 20, 0.1, "no ticket opened")
        # detection needs one scrape (1 s), then `for` and up to two evaluation intervals
        assert t.opened_at.timestamp() - fault <= (FOR + 2 * INTERVAL).total_seconds() + 1.0
        assert (t.priority, t.status) == ("P0", "open")
        assert t.annotations["summary"].startswith("API instance 127.0.0.1:")

        acked = run.cli("tickets", "ack", str(t.id), "--by", "alice")
        assert acked.returncode == 0, acked.stderr
        again = run.cli("tickets", "ack", str(t.id), "--by", "bob")
        assert again.returncode == 1 and "already acknowledged by alice" in again.stderr
        shown = json.loads(run.cli("tickets", "show", str(t.id), "--format", "json").stdout)
        assert shown["acknowledged_by"] == "alice" and shown["response_met"] is True

        api.up()
        recovered = wait_until(lambda: [x for x in run.tickets("ServiceDown") if x.recovered_at], 20, 0.1, "no clear")
        wait_until(lambda: run.tickets("ServiceDown")[0].status == "resolved", 20, 0.2, "never verified")
        (t,) = run.tickets("ServiceDown")
        assert t.resolution == "verified"
        window = t.resolved_at - recovered[0].recovered_at
        assert VERIFICATION <= window <= VERIFICATION + 2 * INTERVAL, window
        shown = json.loads(run.cli("tickets", "show", str(t.id), "--format", "json").stdout)
        assert shown["recovery_met"] is True
        assert [e["kind"] for e in shown["timeline"]] == [
            "opened", "acknowledged", "condition_cleared", "recovery_verified"
        ]


def test_flap_inside_the_verification_window_keeps_one_ticket(run: Run, world) -> None:  # type: ignore[no-untyped-def]
    _prom, api, _shards, _rules = world
    with run.daemon():
        api.down()
        (t,) = wait_until(lambda: run.tickets("ServiceDown"), 20, 0.1, "no ticket opened")
        api.up()
        wait_until(lambda: run.tickets("ServiceDown")[0].recovered_at, 20, 0.1, "no clear")
        api.down()
        wait_until(lambda: "condition_returned" in run.events(t.id), 20, 0.1, "condition never returned")
        assert len(run.tickets("ServiceDown")) == 1
        assert run.tickets("ServiceDown")[0].status == "open"


def test_fifty_series_of_a_group_by_rule_open_one_ticket(run: Run, world) -> None:  # type: ignore[no-untyped-def]
    _prom, _api, shards, _rules = world
    with run.daemon():
        shards.set_many("shard_up", [({"service": "search", "shard": str(i)}, 0) for i in range(50)])
        (t,) = wait_until(lambda: run.tickets("ShardDown"), 20, 0.1, "no ticket opened")
        wait_until(lambda: run.tickets("ShardDown")[0].series_count == 50, 10, 0.2, "series not all attached")
        time.sleep(2)
        (t,) = run.tickets("ShardDown")
        assert (t.priority, t.labels["service"]) == ("P1", "search")


def test_sigkill_during_verification_no_duplicate_and_verification_completes(run: Run, world) -> None:  # type: ignore[no-untyped-def]
    _prom, api, _shards, _rules = world
    daemon = run.daemon().start()
    try:
        api.down()
        (t,) = wait_until(lambda: run.tickets("ServiceDown"), 20, 0.1, "no ticket opened")
        api.up()
        (cleared,) = wait_until(lambda: [x for x in run.tickets("ServiceDown") if x.recovered_at], 20, 0.1, "no clear")
        daemon.kill()
    finally:
        daemon.kill()
    time.sleep(2)
    with run.daemon():
        wait_until(lambda: run.tickets("ServiceDown")[0].status == "resolved", 25, 0.2, "verification never completed")
        time.sleep(2)
    (t,) = run.tickets("ServiceDown")
    assert t.recovered_at == cleared.recovered_at
    window = t.resolved_at - t.recovered_at
    assert VERIFICATION <= window <= VERIFICATION + 2 * INTERVAL, window
    assert run.events(t.id).count("opened") == 1
