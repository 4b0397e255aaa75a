"""The test harness itself: the controllable exporter and the real Prometheus."""

from __future__ import annotations

import time
from datetime import timezone
from pathlib import Path

import pytest
import requests

from tests.support.exporter import Exporter
from tests.support.fixtures import PrometheusFactory
from tests.support.prometheus import (
    PrometheusAPIError,
    PrometheusStartError,
    prometheus_binary,
)
from tests.support.waiting import wait_until

ALERT_RULE = """\
groups:
  - name: harness
    rules:
      - alert: Test
        expr: my_gauge > 5
        for: 2s
"""

ALWAYS_RULE = """\
groups:
  - name: always
    rules:
      - alert: Always
        expr: vector(1)
"""


def scalar(result: list[dict]) -> float | None:
    """The single sample value of an instant-query result, or None when empty."""
    return float(result[0]["value"][1]) if result else None


# -- waiting ------------------------------------------------------------------


def test_wait_until_returns_the_first_truthy_value() -> None:
    """wait_until hands back what the predicate returned once it is truthy."""
    calls = iter([0, None, [], 7])
    assert wait_until(lambda: next(calls), timeout=1, interval=0.001) == 7


def test_wait_until_times_out_with_message_and_last_value() -> None:
    """A timeout raises AssertionError naming the message and the last observed value."""
    with pytest.raises(AssertionError, match=r"never ready .*last observed: \{\}"):
        wait_until(dict, timeout=0.05, interval=0.01, message="never ready")
    with pytest.raises(AssertionError, match=r"last observed: ConnectionError\('boom'\)"):
        wait_until(_raise_connection_error, timeout=0.05, interval=0.01,
                   ignore=(ConnectionError,))


def _raise_connection_error() -> None:
    raise ConnectionError("boom")


# -- exporter -----------------------------------------------------------------


def test_exporter_serves_gauges_with_type_lines_and_escaped_labels(exporter: Exporter) -> None:
    """/metrics is exposition 0.0.4: one TYPE line per name, label values escaped."""
    exporter.set("my_gauge", {"path": 'C:\\tmp "x"\nnext'}, 1.5)
    exporter.set("my_gauge", {"path": "plain"}, 2)
    exporter.set("other", {}, float("inf"))

    response = requests.get(exporter.url, timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.text == (
        "# TYPE my_gauge gauge\n"
        'my_gauge{path="C:\\\\tmp \\"x\\"\\nnext"} 1.5\n'
        'my_gauge{path="plain"} 2.0\n'
        "# TYPE other gauge\n"
        "other +Inf\n"
    )


def test_exporter_remove_clear_and_set_many(exporter: Exporter) -> None:
    """Series can be removed one by one, replaced in bulk, or cleared."""
    exporter.set_many("bulk", [({"i": str(i)}, i) for i in range(60)])
    assert exporter.exposition().count("\nbulk{") == 60
    exporter.remove("bulk", {"i": "0"})
    assert 'bulk{i="0"}' not in exporter.exposition()
    exporter.set_many("bulk", [({"i": "x"}, 1)], replace=True)
    assert exporter.exposition() == '# TYPE bulk gauge\nbulk{i="x"} 1.0\n'
    exporter.clear()
    assert exporter.exposition() == ""
    with pytest.raises(ValueError):
        exporter.set("bad-name", {}, 1)


def test_exporter_answers_503_while_down(exporter: Exporter) -> None:
    """down() makes /metrics answer 503 until up()."""
    exporter.set("g", {}, 1)
    exporter.down()
    assert requests.get(exporter.url, timeout=5).status_code == 503
    exporter.up()
    assert requests.get(exporter.url, timeout=5).text == "# TYPE g gauge\ng 1.0\n"


# -- prometheus -----------------------------------------------------------------


@pytest.mark.prometheus
def test_prometheus_scrapes_the_exporter_and_notices_it_going_down(
    exporter: Exporter, prometheus_factory: PrometheusFactory
) -> None:
    """Set gauges become queryable; a down exporter turns up{job} to 0 and the target down."""
    exporter.set("my_gauge", {"team": "core"}, 3)
    exporter.set_many("many", [({"i": str(i)}, i) for i in range(60)])
    prom = prometheus_factory({"harness": [exporter.address]})

    # Prometheus 2.42 runs its first scrape ~5 s after start (discovery/scrape reload ticks).
    wait_until(lambda: prom.query("my_gauge"), 15, 0.1, "my_gauge never became queryable")
    assert scalar(prom.query('my_gauge{job="harness",team="core"}')) == 3
    assert scalar(prom.query("count(many)")) == 60
    assert scalar(prom.query('up{job="harness"}')) == 1

    exporter.down()
    wait_until(lambda: scalar(prom.query('up{job="harness"}')) == 0, 5, 0.1,
               "up{job=harness} did not drop to 0")
    targets = prom.wait_for_target_health("harness", "down", timeout=5)
    assert "503" in targets[0]["lastError"]
    assert prom.query("my_gauge") == []  # the failed scrape wrote staleness markers

    exporter.up()
    prom.wait_for_target_health("harness", "up", timeout=5)


@pytest.mark.prometheus
def test_alert_goes_pending_then_firing_with_active_at_on_an_evaluation_tick(
    exporter: Exporter, prometheus_factory: PrometheusFactory, tmp_path: Path
) -> None:
    """A `for: 2s` rule is pending first, then firing, keeping one tick-aligned activeAt."""
    rules = tmp_path / "alert.rules.yml"
    rules.write_text(ALERT_RULE)
    exporter.set("my_gauge", {"team": "core"}, 10)
    prom = prometheus_factory({"harness": [exporter.address]}, [rules])

    pending = wait_until(
        lambda: [a for a in prom.alerts() if a["state"] == "pending"], 15, 0.05,
        "alert Test never went pending",
    )[0]
    firing = wait_until(
        lambda: [a for a in prom.alerts() if a["state"] == "firing"], 6, 0.05,
        "alert Test never fired",
    )[0]

    assert pending["labels"] == {
        "alertname": "Test", "team": "core", "job": "harness", "instance": exporter.address,
    }
    assert pending["value"] == 10.0
    active_at = pending["activeAt"]
    assert active_at is not None and active_at.tzinfo == timezone.utc
    assert firing["activeAt"] == active_at
    # Every ALERTS sample is written at an evaluation timestamp; activeAt is one of them.
    last_eval = scalar(prom.query('timestamp(ALERTS{alertname="Test"})'))
    assert last_eval is not None
    ticks = last_eval - active_at.timestamp()
    assert ticks >= 2 - 0.001
    assert abs(ticks - round(ticks)) < 0.002


@pytest.mark.prometheus
def test_reload_loads_new_rules_and_keeps_them_when_a_reload_fails(
    prometheus_factory: PrometheusFactory, tmp_path: Path
) -> None:
    """reload() applies new rule files; an invalid one raises and the old rules stay."""
    prom = prometheus_factory()
    assert prom.alerts() == []
    always = tmp_path / "always.yml"
    always.write_text(ALWAYS_RULE)

    prom.reload(rule_files=[always])
    wait_until(lambda: [a for a in prom.alerts() if a["state"] == "firing"], 5, 0.05,
               "Always did not fire after reload")

    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: (\n")
    with pytest.raises(PrometheusAPIError, match="broken.yml"):
        prom.reload(rule_files=[broken])
    assert [a["labels"]["alertname"] for a in prom.alerts()] == ["Always"]


@pytest.mark.prometheus
def test_paused_prometheus_times_out_queries_and_answers_after_resume(
    prometheus_factory: PrometheusFactory,
) -> None:
    """SIGSTOP makes queries time out; SIGCONT brings answers back; stop() reaps even paused."""
    prom = prometheus_factory()
    assert scalar(prom.query("vector(1)")) == 1

    prom.pause()
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        prom.query("vector(1)", timeout=1)
    assert time.monotonic() - started < 3

    prom.resume()
    assert scalar(prom.query("vector(1)", timeout=5)) == 1

    prom.pause()
    prom.stop()
    assert not prom.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{prom.url}/-/ready", timeout=1)


@pytest.mark.prometheus
def test_startup_failure_reports_the_log_tail(
    prometheus_factory: PrometheusFactory, tmp_path: Path
) -> None:
    """If Prometheus exits during startup, the error carries the tail of its log."""
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: (\n")
    with pytest.raises(PrometheusStartError, match=r"(?s)exited with code \d+.*broken\.yml"):
        prometheus_factory(rule_files=[broken])


def test_missing_binary_fails_under_ci_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the binary a test fails when CI is set and is skipped otherwise."""
    monkeypatch.setenv("PROMETHEUS_BINARY", str(tmp_path / "no-such-prometheus"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install Debian's prometheus"):
        prometheus_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        prometheus_binary()
