"""Tickets in a real database (SQLite and PostgreSQL), driven tick by tick with explicit time.

Queries are answered by a plain function (the evaluator's QueryFn seam) so each step's
samples and timestamp are exact; the real-Prometheus path is covered end to end in
tests/e2e/test_tickets.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from slawatch.cli import views as ticket_view
from slawatch.incidents import reconcile as incidents
from slawatch.incidents import watcher as deadlines
from slawatch.incidents.actions import ActionRefused, acknowledge, resolve
from slawatch.model import FailureKind, Labels, QueryFailed, Sample
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import tickets

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
DOWN = Sample(Labels(__name__="up", job="api", instance="a:80"), 0)
RULES = (
    AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0", "service": "api"}),
    AlertingRule(name="InstanceDown", expr="instances", labels={"severity": "error"}, group_by=("service",)),
)
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), RULES)


class Ticker:
    """Runs the evaluator and the incident reconciliation exactly as a tick does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state: dict = {}
        self.answers: dict[str, list[Sample] | QueryFailed] = {"down": [], "instances": []}
        self.pool = ThreadPoolExecutor(2)

    def query(self, expr: str, at: datetime) -> list[Sample]:
        answer = self.answers[expr]
        if isinstance(answer, QueryFailed):
            raise answer
        return answer

    def tick(self, at: datetime) -> incidents.Applied:
        outcome = evaluate_group(GROUP, self.state, at, self.query, self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            return incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())

    def tickets(self) -> list[store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted(store.listing(conn), key=lambda t: t.id)

    def events(self, ticket_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return [e.kind for e in store.events(conn, ticket_id)]


@pytest.fixture
def ticker(db_url: str) -> Iterator[Ticker]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield Ticker(engine)
    engine.dispose()


def test_firing_alert_opens_one_p0_ticket_with_deadlines(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    ticker.tick(T0 + timedelta(seconds=15))
    (t,) = ticker.tickets()
    assert (t.priority, t.status, t.rule) == ("P0", "open", "ServiceDown")
    assert t.opened_at == T0
    assert t.response_due == T0 + timedelta(minutes=15) and t.recovery_due == T0 + timedelta(hours=2)
    assert t.labels["instance"] == "a:80" and t.series_count == 1
    assert ticker.events(t.id) == ["opened"]


def test_ack_records_response_and_is_refused_twice(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    (t,) = ticker.tickets()
    with ticker.engine.begin() as conn:
        acked = acknowledge(conn, t.id, "alice", T0 + timedelta(minutes=4))
    assert acked.status == "acknowledged" and acked.acknowledged_by == "alice"
    assert ticket_view.judged(acked, T0 + timedelta(minutes=5)).response_met is True
    with pytest.raises(ActionRefused, match="already acknowledged by alice"):
        with ticker.engine.begin() as conn:
            acknowledge(conn, t.id, "bob", T0 + timedelta(minutes=6))
    (after,) = ticker.tickets()
    assert after.acknowledged_by == "alice"


def test_recovery_is_verified_after_the_window_and_a_flap_keeps_the_ticket(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    ticker.answers["down"] = []
    ticker.tick(T0 + timedelta(minutes=10))  # clears
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0 + timedelta(minutes=12))  # flap inside the 5 min window
    ticker.answers["down"] = []
    ticker.tick(T0 + timedelta(minutes=20))  # clears again
    ticker.tick(T0 + timedelta(minutes=24, seconds=59))
    (t,) = ticker.tickets()
    assert t.status == "open" and t.recovered_at == T0 + timedelta(minutes=20)
    ticker.tick(T0 + timedelta(minutes=25))
    (t,) = ticker.tickets()
    assert (t.status, t.resolution, t.resolved_at) == ("resolved", "verified", T0 + timedelta(minutes=25))
    assert t.recovered_at - t.opened_at == timedelta(minutes=20)
    assert ticket_view.judged(t, T0 + timedelta(hours=3)).recovery_met is True
    assert ticker.events(t.id) == ["opened", "condition_cleared", "condition_returned", "condition_cleared", "recovery_verified"]
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0 + timedelta(minutes=40))
    assert [x.status for x in ticker.tickets()] == ["resolved", "open"]  # a new incident, a new ticket


def test_failed_query_neither_resolves_nor_starts_verification(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    ticker.answers["down"] = []
    ticker.tick(T0 + timedelta(minutes=1))
    ticker.answers["down"] = QueryFailed(FailureKind.UNREACHABLE, "connection refused")
    for minute in range(2, 30):
        ticker.tick(T0 + timedelta(minutes=minute))
    (t,) = ticker.tickets()
    assert t.status == "open" and t.recovered_at == T0 + timedelta(minutes=1)  # verification did not complete
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0 + timedelta(minutes=31))
    (t,) = ticker.tickets()
    assert t.recovered_at is None


def test_fifty_series_of_a_group_by_rule_are_one_ticket(ticker: Ticker) -> None:
    ticker.answers["instances"] = [Sample(Labels(service="api", instance=f"i{i}"), 0) for i in range(50)]
    ticker.tick(T0)
    (t,) = ticker.tickets()
    assert (t.priority, t.series_count, t.labels) == ("P1", 50, {"alertname": "InstanceDown", "service": "api", "severity": "error"})
    with ticker.engine.connect() as conn:
        assert len(store.series(conn, t)) == 50


def test_database_refuses_a_second_unresolved_ticket_for_one_identity(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    with ticker.engine.connect() as conn:
        row = dict(conn.execute(select(tickets)).mappings().one())
    row.pop("id")
    with pytest.raises(IntegrityError):
        with ticker.engine.begin() as conn:
            conn.execute(insert(tickets), [row])


def test_deadline_warnings_and_breaches_are_recorded_once(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)

    def watch(at: datetime) -> list[str]:
        with ticker.engine.begin() as conn:
            return [f"{r.kind}@{r.at.isoformat()}" for r in deadlines.record_due(conn, at)]

    assert watch(T0 + timedelta(minutes=11)) == []
    assert watch(T0 + timedelta(minutes=12)) == [f"deadline_warning@{(T0 + timedelta(minutes=12)).isoformat()}"]
    assert watch(T0 + timedelta(minutes=13)) == []
    assert watch(T0 + timedelta(minutes=40)) == [f"deadline_breached@{(T0 + timedelta(minutes=15)).isoformat()}"]
    assert watch(T0 + timedelta(minutes=41)) == []
    (t,) = ticker.tickets()
    assert ticket_view.judged(t, T0 + timedelta(minutes=41)).response_met is False


def test_ack_before_the_warning_prevents_response_warnings(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    (t,) = ticker.tickets()
    with ticker.engine.begin() as conn:
        acknowledge(conn, t.id, "alice", T0 + timedelta(minutes=2))
    with ticker.engine.begin() as conn:
        assert deadlines.record_due(conn, T0 + timedelta(minutes=30)) == []


def test_manual_resolution_is_recorded_and_reopens_if_still_firing(ticker: Ticker) -> None:
    ticker.answers["down"] = [DOWN]
    ticker.tick(T0)
    (t,) = ticker.tickets()
    with ticker.engine.begin() as conn:
        resolved = resolve(conn, t.id, "alice", "restarted pod", T0 + timedelta(minutes=3))
    assert (resolved.status, resolved.resolution, resolved.resolved_by) == ("resolved", "manual", "alice")
    with pytest.raises(ActionRefused, match="resolved"):
        with ticker.engine.begin() as conn:
            acknowledge(conn, t.id, "bob", T0 + timedelta(minutes=4))
    ticker.tick(T0 + timedelta(minutes=4))  # the alert never stopped firing
    (t,) = ticker.tickets()
    assert t.status == "open" and t.resolved_at is None
    assert ticker.events(t.id) == ["opened", "resolved_manually", "reopened"]
