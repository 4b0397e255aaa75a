"""The monthly report's figures from a real database (SQLite and PostgreSQL).

October 2026 in Europe/Berlin is built tick by tick through the real code path
(evaluate_group + incidents.reconcile, acknowledge/resolve, the deadline watcher), with
explicit timestamps, and every figure of the report is checked against values worked
out by hand below. The month has the DST change (2026-10-25 03:00 CEST -> 02:00 CET),
so it lasts 31 days + 1 hour.

Times are UTC (Berlin is UTC+2 until 2026-10-25 01:00 UTC, then UTC+1). Policy: P0
responds in 15 min / recovers in 2 h, P1 30 min / 4 h, P2 2 h / 8 h, verification 5 min.

    T1  P0 api  ApiDown a        09-30 21:00 (Sep 30 23:00 local): September; down until 22:30,
                                 i.e. 30 min into October
    T11 P2 web  WebErrors s      09-30 22:00 (Oct 1 00:00 local) ack 22:30, recovered 23:00
    T2  P0 api  ApiDown b        10-05 08:00 ack 08:10 (alice), recovered 09:00
    T3  P0 api  ApiDownRegion r  10-05 08:30 ack 08:50 (bob, late), recovered 10:45 (late);
                                 overlaps T2: api down 08:00-10:45
    T6  P1 db   DbSlow m         10-10 09:00 resolved by hand 09:20 (carol), never acknowledged
    T5  P0 api  ApiDown c        10-14 12:00 ack 12:05 (alice), recovered 13:45
    B   P1 slawatch  SlawatchPrometheusUnreachable  10-14 12:30, cleared 13:30, resolved 13:35:
                                 blind 12:30-13:30, inside T5's outage
    T7  P2 web  WebErrors w      10-20 08:00 ack 09:00 (dave), recovered 17:00 (late)
    T4  P1 db   DbSlow d         10-25 00:30 (02:30 CEST) ack 00:50 (frank), recovered 03:00
                                 (04:00 CET): spans the DST change, 2.5 h
    T8  P1 db   DbSlow o         10-31 19:00, never acknowledged, still open
    T9  P1 db   DbSlow p         10-31 22:59 (23:59 CET, last minute of October), not yet due
    T10 P2 web  WebErrors n      10-31 23:00 (Nov 1 00:00 local): November
    now = 10-31 23:10 (Nov 1 00:10 local)
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from slawatch.incidents import reconcile as incidents
from slawatch.incidents import watcher as deadlines
from slawatch.incidents.actions import acknowledge, resolve
from slawatch.model import FailureKind, Labels, Priority, QueryFailed, Sample
from slawatch.report import month as report
from slawatch.report import percentiles
from slawatch.report.month import ServiceTarget, build_report, last_full_month, month_bounds
from slawatch.rules import blind as runner
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.business_time import BusinessCalendar
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import PriorityPolicy, SlaPolicy, Target
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
MONTH_SECONDS = 31 * 86_400 + 3_600
NOW = datetime(2026, 10, 31, 23, 10, tzinfo=UTC)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def local(instant: datetime) -> str:
    return instant.astimezone(BERLIN).isoformat()


POLICY = SlaPolicy(
    BusinessCalendar(),
    {
        Priority.P0: PriorityPolicy(Target(timedelta(minutes=15)), Target(timedelta(hours=2))),
        Priority.P1: PriorityPolicy(Target(timedelta(minutes=30)), Target(timedelta(hours=4))),
        Priority.P2: PriorityPolicy(Target(timedelta(hours=2)), Target(timedelta(hours=8))),
    },
)
RULES = (
    AlertingRule(name="ApiDown", expr="api_down", labels={"priority": "P0", "service": "api"}),
    AlertingRule(name="ApiDownRegion", expr="api_region", labels={"priority": "P0", "service": "api"}),
    AlertingRule(name="DbSlow", expr="db_slow", labels={"priority": "P1", "service": "db"}),
    AlertingRule(name="WebErrors", expr="web_errors", labels={"priority": "P2", "service": "web"}),
)
GROUP = RuleGroup("services", "rules.yaml", timedelta(seconds=15), RULES)
BLIND = runner.blind_group(timedelta(seconds=15))
API_QUERY = "sum(rate(http_ok_total[5m])) / sum(rate(http_requests_total[5m]))"
TARGETS = {
    "api": ServiceTarget(0.999, API_QUERY),
    "web": ServiceTarget(0.995, "sum(rate(web_ok[5m])) / (sum(rate(web_all[5m]))"),
    "search": ServiceTarget(0.99),
}


class Month:
    """Ticks the services group and the internal blind group, and acts on tickets."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pool = ThreadPoolExecutor(2)
        self.state: dict = {}
        self.blind_state: dict = {}
        self.firing: dict[str, list[str]] = {rule.expr: [] for rule in RULES}
        self.blind = False

    def tick(self, at: datetime, **firing: list[str]) -> None:
        self.firing.update(firing)
        answers = {expr: [Sample(Labels(instance=i), 1) for i in names] for expr, names in self.firing.items()}
        outcome = evaluate_group(GROUP, self.state, at, lambda expr, _at: answers[expr], self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            incidents.reconcile(conn, outcome, POLICY, Classification())

    def blind_tick(self, at: datetime, blind: bool) -> None:
        samples = [Sample(Labels(), 5.0)] if blind else []
        outcome = evaluate_group(BLIND, self.blind_state, at, lambda _expr, _at: samples, self.pool)
        self.blind_state = outcome.state
        with self.engine.begin() as conn:
            incidents.reconcile(conn, outcome, POLICY, Classification())

    def ticket(self, rule: str, instance: str | None = None) -> store.TicketRow:
        with self.engine.connect() as conn:
            found = [t for t in store.listing(conn) if t.rule == rule and t.labels.get("instance") == instance]
        assert len(found) == 1, (rule, instance, found)
        return found[0]

    def ack(self, rule: str, instance: str, by: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            acknowledge(conn, self.ticket(rule, instance).id, by, at)

    def watch(self, at: datetime) -> None:
        with self.engine.begin() as conn:
            deadlines.record_due(conn, at)


@pytest.fixture
def month(db_url: str) -> Iterator[Month]:
    engine = make_engine(db_url)
    upgrade(engine)
    m = Month(engine)
    m.tick(utc(9, 30, 21), api_down=["a"])  # T1, September
    m.tick(utc(9, 30, 22), web_errors=["s"])  # T11, the first instant of October
    m.ack("WebErrors", "s", "erin", utc(9, 30, 22, 30))
    m.tick(utc(9, 30, 22, 30), api_down=[])
    m.tick(utc(9, 30, 22, 35))
    m.tick(utc(9, 30, 23), web_errors=[])
    m.tick(utc(9, 30, 23, 5))
    m.tick(utc(10, 5, 8), api_down=["b"])  # T2
    m.ack("ApiDown", "b", "alice", utc(10, 5, 8, 10))
    m.tick(utc(10, 5, 8, 30), api_region=["r"])  # T3, overlapping T2
    m.ack("ApiDownRegion", "r", "bob", utc(10, 5, 8, 50))
    m.tick(utc(10, 5, 9), api_down=[])
    m.tick(utc(10, 5, 9, 5))
    m.tick(utc(10, 5, 10, 45), api_region=[])
    m.tick(utc(10, 5, 10, 50))
    m.watch(utc(10, 5, 11))
    m.tick(utc(10, 10, 9), db_slow=["m"])  # T6
    with engine.begin() as conn:
        resolve(conn, m.ticket("DbSlow", "m").id, "carol", "restarted the primary", utc(10, 10, 9, 20))
    m.tick(utc(10, 10, 9, 21), db_slow=[])
    m.tick(utc(10, 14, 12), api_down=["c"])  # T5
    m.ack("ApiDown", "c", "alice", utc(10, 14, 12, 5))
    m.blind_tick(utc(10, 14, 12, 30), True)  # B: slawatch cannot see Prometheus
    m.blind_tick(utc(10, 14, 13, 30), False)
    m.blind_tick(utc(10, 14, 13, 35), False)
    m.tick(utc(10, 14, 13, 45), api_down=[])
    m.tick(utc(10, 14, 13, 50))
    m.tick(utc(10, 20, 8), web_errors=["w"])  # T7
    m.ack("WebErrors", "w", "dave", utc(10, 20, 9))
    m.tick(utc(10, 20, 17), web_errors=[])
    m.tick(utc(10, 20, 17, 5))
    m.tick(utc(10, 25, 0, 30), db_slow=["d"])  # T4, across the DST change
    m.ack("DbSlow", "d", "frank", utc(10, 25, 0, 50))
    m.tick(utc(10, 25, 3), db_slow=[])
    m.tick(utc(10, 25, 3, 5))
    m.tick(utc(10, 31, 19), db_slow=["o"])  # T8
    m.tick(utc(10, 31, 22, 59), db_slow=["o", "p"])  # T9
    m.tick(utc(10, 31, 23), web_errors=["n"])  # T10, November
    m.watch(NOW)
    yield m
    m.pool.shutdown()
    engine.dispose()


def api_availability(expr: str, at: datetime) -> list[Sample]:
    """Prometheus' answer to the report's availability query (the QueryFn seam)."""
    if "web_ok" in expr:
        raise QueryFailed(FailureKind.BAD_QUERY, "1:60: parse error: unclosed left parenthesis")
    assert expr == f"avg_over_time(({API_QUERY})[2682000s:1m])"
    assert at == utc(10, 31, 23)  # the end of the month
    return [Sample(Labels(), 0.9987)]


def build(month: Month, **kw) -> dict:  # type: ignore[no-untyped-def]
    with month.engine.connect() as conn:
        return build_report(
            conn, "2026-10", targets=TARGETS, priority_targets={"P1": 0.5}, timezone="Europe/Berlin", now=NOW,
            query=api_availability, **kw,
        )


def test_the_month_and_its_period_in_the_configured_timezone(month: Month) -> None:
    r = build(month)
    assert (r["month"], r["timezone"], r["service"]) == ("2026-10", "Europe/Berlin", None)
    assert r["generated_at"] == "2026-11-01T00:10:00+01:00"
    assert r["period"] == {
        "start": "2026-10-01T00:00:00+02:00", "end": "2026-11-01T00:00:00+01:00", "seconds": 31 * 86_400 + 3_600,
    }


def test_attainment_per_priority(month: Month) -> None:
    r = build(month)
    # P0: T2 (ack 10 min, recovered 60 min), T3 (ack 20 min: late; 135 min: late), T5 (5 min, 105 min)
    assert r["priorities"]["P0"] == {
        "incidents": 3,
        "response_met": 2, "response_breached": 1, "response_pending": 0, "response_attainment": 2 / 3,
        "recovery_met": 2, "recovery_breached": 1, "recovery_pending": 0, "recovery_attainment": 2 / 3,
        "mtta_seconds": (600 + 1_200 + 300) / 3, "mtta_median_seconds": 600.0, "mtta_p90_seconds": 1_200.0,
        "mttr_seconds": (3_600 + 8_100 + 6_300) / 3, "mttr_median_seconds": 6_300.0, "mttr_p90_seconds": 8_100.0,
        "target": 0.95, "target_met": False,
    }
    # P1: B (no ack: responded when resolved 13:35, 35 min, late; recovered in 60 min),
    # T6 (resolved by hand after 20 min: responded and recovered then), T4 (ack 20 min,
    # recovered in 150 min across DST), T8 (open, both deadlines passed), T9 (pending)
    assert r["priorities"]["P1"] == {
        "incidents": 5,
        "response_met": 2, "response_breached": 2, "response_pending": 1, "response_attainment": 0.5,
        "recovery_met": 3, "recovery_breached": 1, "recovery_pending": 1, "recovery_attainment": 0.75,
        "mtta_seconds": 1_200.0, "mtta_median_seconds": 1_200.0, "mtta_p90_seconds": 1_200.0,
        "mttr_seconds": (3_600 + 1_200 + 9_000) / 3, "mttr_median_seconds": 3_600.0, "mttr_p90_seconds": 9_000.0,
        "target": 0.5, "target_met": True,
    }
    # P2: T11 (ack 30 min, recovered 60 min), T7 (ack 60 min, recovered after 9 h: late)
    assert r["priorities"]["P2"] == {
        "incidents": 2,
        "response_met": 2, "response_breached": 0, "response_pending": 0, "response_attainment": 1.0,
        "recovery_met": 1, "recovery_breached": 1, "recovery_pending": 0, "recovery_attainment": 0.5,
        "mtta_seconds": (1_800 + 3_600) / 2, "mtta_median_seconds": 1_800.0, "mtta_p90_seconds": 3_600.0,
        "mttr_seconds": (3_600 + 32_400) / 2, "mttr_median_seconds": 3_600.0, "mttr_p90_seconds": 32_400.0,
        "target": 0.95, "target_met": False,
    }


def test_overall_attainment_pools_every_priority(month: Month) -> None:
    r = build(month)
    # MTTA: 300 600 1200 1200 1800 3600 -> median the 3rd, p90 the 6th (ceil 5.4)
    # MTTR: 1200 3600 3600 3600 6300 8100 9000 32400 -> median the 4th, p90 the 8th (ceil 7.2)
    assert r["overall"] == {
        "incidents": 10,
        "response_met": 6, "response_breached": 3, "response_pending": 1, "response_attainment": 6 / 9,
        "recovery_met": 6, "recovery_breached": 3, "recovery_pending": 1, "recovery_attainment": 6 / 9,
        "mtta_seconds": 8_700 / 6, "mtta_median_seconds": 1_200.0, "mtta_p90_seconds": 3_600.0,
        "mttr_seconds": 67_800 / 8, "mttr_median_seconds": 3_600.0, "mttr_p90_seconds": 32_400.0,
        "target": None, "target_met": None,
    }


def test_every_breach_is_listed_with_how_late_and_who_acknowledged(month: Month) -> None:
    r = build(month)
    t3, b = month.ticket("ApiDownRegion", "r").id, month.ticket(runner.BLIND_RULE).id
    t7, t8 = month.ticket("WebErrors", "w").id, month.ticket("DbSlow", "o").id
    row = {"priority": None, "acknowledged_by": None, "acknowledged_at": None}
    assert r["breaches"] == [
        {**row, "ticket_id": t3, "rule": "ApiDownRegion", "service": "api", "priority": "P0", "deadline": "response",
         "due": local(utc(10, 5, 8, 45)), "done_at": local(utc(10, 5, 8, 50)), "late_seconds": 300.0,
         "acknowledged_by": "bob", "acknowledged_at": local(utc(10, 5, 8, 50))},
        {**row, "ticket_id": t3, "rule": "ApiDownRegion", "service": "api", "priority": "P0", "deadline": "recovery",
         "due": local(utc(10, 5, 10, 30)), "done_at": local(utc(10, 5, 10, 45)), "late_seconds": 900.0,
         "acknowledged_by": "bob", "acknowledged_at": local(utc(10, 5, 8, 50))},
        {**row, "ticket_id": b, "rule": runner.BLIND_RULE, "service": "slawatch", "priority": "P1",
         "deadline": "response", "due": local(utc(10, 14, 13)), "done_at": local(utc(10, 14, 13, 35)),
         "late_seconds": 2_100.0},
        {**row, "ticket_id": t7, "rule": "WebErrors", "service": "web", "priority": "P2", "deadline": "recovery",
         "due": local(utc(10, 20, 16)), "done_at": local(utc(10, 20, 17)), "late_seconds": 3_600.0,
         "acknowledged_by": "dave", "acknowledged_at": local(utc(10, 20, 9))},
        {**row, "ticket_id": t8, "rule": "DbSlow", "service": "db", "priority": "P1", "deadline": "response",
         "due": local(utc(10, 31, 19, 30)), "done_at": None, "late_seconds": 13_200.0},  # still not acknowledged
        {**row, "ticket_id": t8, "rule": "DbSlow", "service": "db", "priority": "P1", "deadline": "recovery",
         "due": local(utc(10, 31, 23)), "done_at": None, "late_seconds": 600.0},
    ]
    assert r["breaches"][0]["due"] == "2026-10-05T10:45:00+02:00"
    assert r["breaches"][-1]["due"] == "2026-11-01T00:00:00+01:00"


def test_pending_deadlines_are_listed_and_the_worst_offenders_ranked(month: Month) -> None:
    r = build(month)
    t9 = month.ticket("DbSlow", "p").id
    assert r["pending"] == [
        {"ticket_id": t9, "rule": "DbSlow", "service": "db", "priority": "P1", "deadline": "response",
         "due": "2026-11-01T00:29:00+01:00"},
        {"ticket_id": t9, "rule": "DbSlow", "service": "db", "priority": "P1", "deadline": "recovery",
         "due": "2026-11-01T03:59:00+01:00"},
    ]
    assert r["worst_rules"] == [
        {"rule": "ApiDownRegion", "breaches": 2}, {"rule": "DbSlow", "breaches": 2},
        {"rule": runner.BLIND_RULE, "breaches": 1}, {"rule": "WebErrors", "breaches": 1},
    ]
    assert r["worst_services"] == [
        {"service": "api", "breaches": 2}, {"service": "db", "breaches": 2},
        {"service": "slawatch", "breaches": 1}, {"service": "web", "breaches": 1},
    ]


def test_availability_per_service_with_unknown_time_and_error_budget(month: Month) -> None:
    r = build(month)
    unknown = 3_600  # blind 10-14 12:30-13:30
    observed = MONTH_SECONDS - unknown
    # api: T1 30 min into October; T2 and T3 together 08:00-10:45 (165 min, not 60 + 135);
    # T5 12:00-13:45 minus the blind hour 12:30-13:30: 45 min
    down = 1_800 + 9_900 + 2_700
    up = {"p0_incidents": 0, "downtime_seconds": 0.0, "unknown_seconds": 3_600.0, "availability": 1.0,
          "target_met": True, "error_budget_used_seconds": 0.0, "error_budget_used_ratio": 0.0,
          "query_availability": None, "query_error": None}
    assert r["services"] == {
        "api": {
            "incidents": 3, "p0_incidents": 3, "downtime_seconds": 14_400.0, "unknown_seconds": 3_600.0,
            "availability": 1 - down / observed, "target": 0.999, "target_met": False,
            "error_budget_seconds": round(0.001 * observed, 3), "error_budget_used_seconds": 14_400.0,
            "error_budget_used_ratio": down / ((1 - 0.999) * observed),
            "query_availability": 0.9987, "query_error": None,
        },
        "db": {**up, "incidents": 4, "target": 0.999, "error_budget_seconds": round(0.001 * observed, 3)},
        "search": {**up, "incidents": 0, "target": 0.99, "error_budget_seconds": round(0.01 * observed, 3)},
        "slawatch": {**up, "incidents": 1, "target": 0.999, "error_budget_seconds": round(0.001 * observed, 3)},
        "web": {**up, "incidents": 2, "target": 0.995, "error_budget_seconds": round(0.005 * observed, 3),
                "query_error": "1:60: parse error: unclosed left parenthesis"},
    }
    assert r["services"]["api"]["availability"] == pytest.approx(0.994624, abs=1e-6)
    assert r["services"]["api"]["error_budget_used_ratio"] == pytest.approx(5.376, abs=1e-3)


def test_daily_counts_by_local_date(month: Month) -> None:
    r = build(month)
    expected = {d: {"P0": 0, "P1": 0, "P2": 0} for d in range(1, 32)}
    expected[1]["P2"] = 1  # T11 at 00:00 local
    expected[5]["P0"] = 2  # T2, T3
    expected[10]["P1"] = 1  # T6
    expected[14].update(P0=1, P1=1)  # T5, B
    expected[20]["P2"] = 1  # T7
    expected[25]["P1"] = 1  # T4 at 02:30 CEST
    expected[31]["P1"] = 2  # T8, T9 at 23:59; T10 (00:00 on Nov 1) is not October's
    assert r["daily"] == [{"date": f"2026-10-{d:02d}", **counts} for d, counts in expected.items()]


def test_a_report_for_one_service_counts_only_its_tickets(month: Month) -> None:
    r = build(month, service="api")
    assert r["service"] == "api"
    assert r["overall"]["incidents"] == 3 and r["priorities"]["P1"]["incidents"] == 0
    assert r["priorities"]["P0"]["response_attainment"] == 2 / 3
    assert list(r["services"]) == ["api"] and r["services"]["api"]["downtime_seconds"] == 14_400.0
    assert {b["ticket_id"] for b in r["breaches"]} == {month.ticket("ApiDownRegion", "r").id}
    assert r["pending"] == [] and r["worst_services"] == [{"service": "api", "breaches": 2}]
    assert sum(d["P0"] for d in r["daily"]) == 3 and sum(d["P1"] + d["P2"] for d in r["daily"]) == 0


def test_percentiles_are_exact_whether_sampled_or_sorted_in_full(month: Month, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A sample of every 4th ticket, and bands that miss (forcing a full sort), give the same figures."""
    expected = build(month)
    monkeypatch.setattr(percentiles, "SAMPLE_SIZE", 3)
    assert build(month) == expected
    monkeypatch.setattr(percentiles, "sample_band", lambda values, q, z=4.0: (1e9, None))
    assert build(month) == expected
    monkeypatch.setattr(percentiles, "sample_band", lambda values, q, z=4.0: (None, 0.0))
    assert build(month) == expected


def test_the_service_column_and_the_label_fallback_give_the_same_report(month: Month) -> None:
    """Rows with tickets.service set (by the writer, or migration 0004's backfill) and rows
    an older daemon left NULL (read from the `service` label) are counted alike."""
    expected = build(month)
    with month.engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET service = 'api' WHERE rule IN ('ApiDown', 'ApiDownRegion')"))
        conn.execute(text("UPDATE tickets SET service = 'db' WHERE rule = 'DbSlow' AND id % 2 = 0"))
    assert build(month) == expected
    db = build(month, service="db")  # some of db's tickets by column, some by label
    assert db["overall"]["incidents"] == 4 and db["services"]["db"]["incidents"] == 4
    assert [b["ticket_id"] for b in db["breaches"]] == [month.ticket("DbSlow", "o").id] * 2


def test_migration_0004_backfills_the_service_column_from_labels(db_url: str) -> None:
    """Rows written by a 0003-era daemon (no service column) get it from their labels."""
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    at = utc(10, 5, 8)
    with engine.begin() as conn:
        for i, (rule, labels) in enumerate(
            [("ApiDown", {"service": "api"}), ("DbSlow", {"service": "db"}), ("NoService", {})]
        ):
            conn.execute(
                text(
                    "INSERT INTO tickets (identity, group_key, rule_key, rule, priority, status, labels, annotations,"
                    " series_count, opened_at, response_due, recovery_due, response_warn_at, recovery_warn_at,"
                    " verification_seconds) VALUES (:i, 'g', :r, :r, 'P1', 'open', :l, '{}', 1, :t, :t, :t, :t, :t, 300)"
                ),
                {"i": f"id{i}", "r": rule, "l": json.dumps(labels), "t": at.replace(tzinfo=None)},
            )
    upgrade(engine)
    with engine.connect() as conn:
        services = conn.execute(text("SELECT rule, service FROM tickets ORDER BY rule")).all()
    engine.dispose()
    assert [tuple(r) for r in services] == [("ApiDown", "api"), ("DbSlow", "db"), ("NoService", None)]


def test_without_a_query_function_the_measured_availability_is_null(month: Month) -> None:
    with month.engine.connect() as conn:
        r = build_report(conn, "2026-10", targets=TARGETS, priority_targets={}, timezone="Europe/Berlin", now=NOW)
    assert r["services"]["api"]["query_availability"] is None and r["services"]["api"]["query_error"] is None
    assert r["priorities"]["P1"]["target"] == 0.95


def test_an_empty_month_has_zero_counts_and_null_ratios(month: Month) -> None:
    with month.engine.connect() as conn:
        r = build_report(conn, "2026-07", targets={}, priority_targets={}, timezone="Europe/Berlin", now=NOW)
    assert r["overall"]["incidents"] == 0 and r["overall"]["response_attainment"] is None
    assert r["priorities"]["P0"]["mtta_median_seconds"] is None and r["priorities"]["P0"]["target_met"] is None
    assert r["breaches"] == [] and r["services"] == {} and len(r["daily"]) == 31


def test_month_bounds_follow_the_timezone_and_its_dst() -> None:
    start, end = month_bounds("2026-10", "Europe/Berlin")
    assert (start, end) == (utc(9, 30, 22), utc(10, 31, 23))
    assert (end - start).total_seconds() == 31 * 86_400 + 3_600
    start, end = month_bounds("2026-03", "Europe/Berlin")
    assert (end - start).total_seconds() == 31 * 86_400 - 3_600
    assert month_bounds("2026-12", "UTC") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2026-13", "UTC")


def test_last_full_month_is_the_previous_local_month() -> None:
    assert last_full_month(utc(10, 31, 23, 10), "Europe/Berlin") == "2026-10"  # already November in Berlin
    assert last_full_month(utc(10, 31, 22, 59), "Europe/Berlin") == "2026-09"
    assert last_full_month(datetime(2027, 1, 5, tzinfo=UTC), "UTC") == "2026-12"


def test_the_blind_rule_and_group_are_the_runners() -> None:
    assert report.BLIND_RULE == runner.BLIND_RULE
    assert report.BLIND_GROUP_KEY == BLIND.key


def test_availability_query_is_evaluated_by_a_real_prometheus(tmp_path, prometheus_factory, exporter) -> None:  # type: ignore[no-untyped-def]
    """The service's PromQL ratio, averaged over the month by Prometheus itself."""
    from slawatch.source import PrometheusSource
    from tests.support.waiting import wait_until

    exporter.set("api_good_ratio", {}, 0.995)
    prom = prometheus_factory({"api": [exporter.address]})
    wait_until(lambda: prom.query("api_good_ratio"), 20, 0.2, "gauge never scraped")
    # The month is averaged on a one-minute grid: wait until one grid point has data.
    first = datetime.now(UTC)
    time.sleep(60 - first.second - first.microsecond / 1e6 + 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    month = now.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    source = PrometheusSource(prom.url, timedelta(seconds=10))
    targets = {"api": ServiceTarget(0.999, "api_good_ratio"), "db": ServiceTarget(0.999, "sum(rate(x[")}
    try:
        with engine.connect() as conn:
            r = build_report(conn, month, targets=targets, priority_targets={}, timezone="Europe/Berlin", now=now,
                             query=source.query)
    finally:
        source.close()
        engine.dispose()
    assert r["services"]["api"]["query_error"] is None and r["services"]["api"]["query_availability"] == pytest.approx(0.995)
    assert r["services"]["db"]["query_availability"] is None and r["services"]["db"]["query_error"]
