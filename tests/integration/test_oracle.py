"""Prometheus is the oracle: the same rule file loaded into a real Prometheus and into
slawatch must produce the same firing alerts (label sets), with active-since instants
within one evaluation interval of each other.

slawatch runs in-process as the real Daemon (scheduler, Prometheus source, SQLite
state); its alerts are read back from the database the way `slawatch alerts` does.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Iterator

import pytest

from slawatch.cli.alerts import list_alerts
from slawatch.config.settings import load_settings
from slawatch.daemon import Daemon
from slawatch.rules.files import load_rules
from tests.support.exporter import Exporter
from tests.support.prometheus import PrometheusServer
from tests.support.waiting import wait_until

INTERVAL = timedelta(seconds=1)
# Both evaluators see a new scrape at their first tick after it is ingested; with
# independent phases that is within one interval, plus a little for ingestion.
ACTIVE_AT_TOLERANCE = INTERVAL + timedelta(milliseconds=250)

RULES = """
groups:
  - name: oracle
    interval: 1s
    rules:
      - alert: TargetDown
        expr: up{job="flaky"} == 0
        for: 2s
        labels: {priority: P0, service: api}
        annotations: {summary: "{{ $labels.instance }} down"}
      - alert: TooHot
        expr: oracle_temp > 50
        for: 2s
        labels: {severity: warning}
      - alert: Flapping
        expr: oracle_flap > 0
        for: 4s
      - alert: KeepFiring
        expr: oracle_keep > 0
        keep_firing_for: 3s
      - alert: ManySeries
        expr: oracle_multi > 0
        for: 1s
        labels: {priority: P1}
"""

Key = frozenset[tuple[str, str]]


class Pair:
    """A Prometheus and a slawatch evaluating the same rules on the same data."""

    def __init__(self, prom: PrometheusServer, db_url: str) -> None:
        self.prom = prom
        self.db_url = db_url

    def prometheus_firing(self, alertname: str) -> dict[Key, float]:
        return {
            frozenset(a["labels"].items()): a["activeAt"].timestamp()
            for a in self.prom.alerts()
            if a["state"] == "firing" and a["labels"]["alertname"] == alertname
        }

    def slawatch_firing(self, alertname: str) -> dict[Key, float]:
        return {
            frozenset(a.labels.items()): a.active_at.timestamp()
            for a in list_alerts(self.db_url)
            if a.state.value == "firing" and a.rule == alertname
        }

    def wait_agree(self, alertname: str, count: int, timeout: float = 20) -> dict[Key, tuple[float, float]]:
        """Wait until both report the same `count` firing label sets; return activeAt pairs."""

        def agreed() -> tuple[bool, dict[Key, tuple[float, float]]] | None:
            ours, theirs = self.slawatch_firing(alertname), self.prometheus_firing(alertname)
            if len(ours) == count and ours.keys() == theirs.keys():
                return True, {k: (ours[k], theirs[k]) for k in ours}
            return None

        _, pairs = wait_until(agreed, timeout, 0.2, f"{alertname}: slawatch and Prometheus never agreed on {count} firing")
        return pairs

    def assert_active_at_close(self, pairs: dict[Key, tuple[float, float]]) -> None:
        for key, (ours, theirs) in pairs.items():
            assert abs(ours - theirs) <= ACTIVE_AT_TOLERANCE.total_seconds(), (dict(key), ours, theirs)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, Exporter, Exporter]]:
    tmp = tmp_path_factory.mktemp("oracle")
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    with Exporter() as data, Exporter() as flaky:
        prom = PrometheusServer(
            {"data": [data.address], "flaky": [flaky.address]}, [rules], workdir=tmp / "prometheus"
        ).start()
        config = tmp / "slawatch.yaml"
        config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s}}\n"
            f"database: {{url: 'sqlite:///{tmp / 'state.db'}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s}}\n"
            "server: {listen: '127.0.0.1:0'}\n"
        )
        settings = load_settings(str(config), env={})
        daemon = Daemon(settings, load_rules(settings.rule_globs(), INTERVAL), str(config))
        daemon.start()
        try:
            prom.wait_for_target_health("data", "up", timeout=15)
            yield Pair(prom, settings.database.url), data, flaky
        finally:
            daemon.stop()
            prom.stop()


def test_target_down_fires_in_both(pair: tuple[Pair, Exporter, Exporter]) -> None:
    p, _data, flaky = pair
    flaky.down()
    try:
        matched = p.wait_agree("TargetDown", 1)
        p.assert_active_at_close(matched)
        (labels,) = [dict(k) for k in matched]
        assert labels["instance"] == flaky.address and labels["priority"] == "P0"
    finally:
        flaky.up()
    p.wait_agree("TargetDown", 0)


def test_threshold_crossing_fires_after_for(pair: tuple[Pair, Exporter, Exporter]) -> None:
    p, data, _ = pair
    data.set("oracle_temp", {"room": "a"}, 20)
    time.sleep(2)
    assert p.slawatch_firing("TooHot") == {} == p.prometheus_firing("TooHot")
    data.set("oracle_temp", {"room": "a"}, 80)
    p.assert_active_at_close(p.wait_agree("TooHot", 1))
    data.set("oracle_temp", {"room": "a"}, 20)
    p.wait_agree("TooHot", 0)


def test_flap_shorter_than_for_fires_in_neither(pair: tuple[Pair, Exporter, Exporter]) -> None:
    p, data, _ = pair
    deadline = time.monotonic() + 9
    for value in (1, 0, 1, 0):  # two 2-second bursts, each shorter than `for: 4s`
        data.set("oracle_flap", {}, value)
        step_end = time.monotonic() + 2
        while time.monotonic() < step_end:
            assert p.slawatch_firing("Flapping") == {}
            assert p.prometheus_firing("Flapping") == {}
            time.sleep(0.25)
    assert time.monotonic() < deadline + 1


def test_keep_firing_for_holds_a_vanished_series(pair: tuple[Pair, Exporter, Exporter]) -> None:
    p, data, _ = pair
    data.set("oracle_keep", {"disk": "sda"}, 1)
    p.assert_active_at_close(p.wait_agree("KeepFiring", 1))
    data.remove("oracle_keep", {"disk": "sda"})
    gone = time.monotonic()
    # Prometheus marks a vanished series stale on the next scrape; both keep it firing
    # for keep_firing_for (3 s) after that, then resolve it.
    time.sleep(2.0)
    assert len(p.slawatch_firing("KeepFiring")) == 1
    assert len(p.prometheus_firing("KeepFiring")) == 1
    p.wait_agree("KeepFiring", 0, timeout=10)
    assert time.monotonic() - gone >= 3.0


def test_several_series_of_one_rule_are_separate_alerts(pair: tuple[Pair, Exporter, Exporter]) -> None:
    p, data, _ = pair
    data.set_many("oracle_multi", [({"shard": str(i)}, 1.0) for i in range(12)])
    matched = p.wait_agree("ManySeries", 12)
    p.assert_active_at_close(matched)
    assert {dict(k)["shard"] for k in matched} == {str(i) for i in range(12)}
    data.set_many("oracle_multi", [({"shard": str(i)}, 1.0 if i < 5 else 0.0) for i in range(12)])
    p.wait_agree("ManySeries", 5)
