"""Incident identity against real databases (SQLite and PostgreSQL), tick by tick with
explicit time: tickets survive new group keys, the open-identity index never fails a
tick, a removed rule resolves its tickets, and pending timers survive a redeploy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Iterator, Mapping

import pytest
from sqlalchemy import Connection, Engine, insert, select

from slawatch.cli import views as ticket_view
from slawatch.incidents import alignment
from slawatch.incidents import reconcile as incidents
from slawatch.incidents.lifecycle import identity_of
from slawatch.incidents.ownership import RuleIndex
from slawatch.incidents.ports import Routing
from slawatch.metrics import Metrics
from slawatch.model import Alert, AlertState, Labels, Sample
from slawatch.report.month import build_report
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import GroupOutcome, GroupState, evaluate_group
from slawatch.rules.runner import GroupRunner, TicketPolicy
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import tickets

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=5)  # the default P0 verification
DOWN_A = Sample(Labels(job="api", instance="a:80"), 0)
DOWN_B = Sample(Labels(job="api", instance="b:80"), 0)
SERVICE_DOWN = AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0", "service": "api"})
DISK = AlertingRule(name="DiskFull", expr="disk", labels={"priority": "P2"})
SLOW = AlertingRule(name="SlowBurn", expr="slow", for_=timedelta(hours=1), labels={"priority": "P1"})


def group(origin: str, *rules: AlertingRule, name: str = "api") -> RuleGroup:
    return RuleGroup(name, f"/abs/{origin}", timedelta(seconds=15), rules, origin=origin)


OLD = group("/srv/release-1/rules/api.yaml", SERVICE_DOWN, DISK)  # a key as older daemons wrote it
NEW = group("rules/api.yaml", SERVICE_DOWN, DISK)


class World:
    """Ticks a group exactly as the runner does (evaluation, then reconcile), with a
    plain function for the queries so each step's samples and instant are exact."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.answers: dict[str, list[Sample]] = {"down": [], "disk": [], "slow": []}
        self.state: dict = {}
        self.pool = ThreadPoolExecutor(2)

    def query(self, expr: str, at: datetime) -> list[Sample]:
        return self.answers[expr]

    def tick(self, g: RuleGroup, at: datetime, announcer=None) -> incidents.Applied:  # type: ignore[no-untyped-def]
        outcome = evaluate_group(g, self.state, at, self.query, self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            return incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification(), announcer)

    def align(self, groups: list[RuleGroup], at: datetime) -> alignment.Aligned:
        with self.engine.begin() as conn:
            return alignment.align_tickets(conn, RuleIndex(groups), at)

    def tickets(self) -> list[store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted(store.listing(conn), key=lambda t: t.id)

    def group_key(self, ticket_id: int) -> str:
        with self.engine.connect() as conn:
            return conn.execute(select(tickets.c.group_key).where(tickets.c.id == ticket_id)).scalar_one()

    def events(self, ticket_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return [e.kind for e in store.events(conn, ticket_id)]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield World(engine)
    engine.dispose()


def test_a_ticket_opened_under_another_group_key_is_adopted_not_duplicated(world: World) -> None:
    world.answers["down"] = [DOWN_A]
    world.tick(OLD, T0)
    (opened,) = world.tickets()
    applied = world.tick(NEW, T0 + timedelta(seconds=15))  # the same rules, deployed elsewhere
    assert [(a.ticket_id, a.from_group_key, a.group_key) for a in applied.adopted] == [
        (opened.id, OLD.key, NEW.key)
    ]
    assert applied.conflicts == [] and applied.opened == []
    assert [t.id for t in world.tickets()] == [opened.id]
    assert world.group_key(opened.id) == NEW.key
    # and it is this group's ticket now: it clears and verifies here
    world.answers["down"] = []
    world.tick(NEW, T0 + timedelta(minutes=1))
    world.tick(NEW, T0 + timedelta(minutes=1) + WINDOW)
    (t,) = world.tickets()
    assert (t.status, t.resolution, t.recovered_at) == ("resolved", "verified", T0 + timedelta(minutes=1))
    assert world.events(t.id) == ["opened", "condition_cleared", "recovery_verified"]


def test_a_rule_moved_to_another_group_keeps_its_ticket_once_aligned(world: World) -> None:
    world.answers["down"] = [DOWN_A]
    world.tick(NEW, T0)
    (opened,) = world.tickets()
    moved = group("rules/platform.yaml", SERVICE_DOWN, name="platform")
    rest = group("rules/api.yaml", DISK)
    aligned = world.align([moved, rest], T0 + timedelta(seconds=20))  # what start and reload do
    assert [(a.ticket_id, a.group_key) for a in aligned.adopted] == [(opened.id, moved.key)]
    world.answers["down"] = []
    world.tick(rest, T0 + timedelta(seconds=30))  # the old group no longer judges it
    assert world.tickets()[0].recovered_at is None
    world.tick(moved, T0 + timedelta(seconds=30))  # the new one does
    assert world.tickets()[0].recovered_at == T0 + timedelta(seconds=30)


class Interloper:
    """An announcer whose routing (asked after reconcile checked for open tickets, just
    before it inserts) lets another writer open a ticket for one identity first."""

    def __init__(self, engine: Engine, row: Mapping[str, object]) -> None:
        self.engine, self.row, self.done = engine, dict(row), False

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        if not self.done and labels.get("instance") == "b:80":
            self.done = True
            with self.engine.begin() as conn:
                conn.execute(insert(tickets), [self.row])
        return Routing()

    def opened(self, conn: Connection, opened, at: datetime) -> None:  # type: ignore[no-untyped-def]
        pass

    def events(self, conn: Connection, events, at: datetime) -> None:  # type: ignore[no-untyped-def]
        pass


def test_a_concurrent_open_of_the_same_identity_is_a_conflict_and_the_rest_commits(world: World) -> None:
    world.answers["disk"] = [Sample(Labels(mount="/"), 99)]
    world.tick(NEW, T0)  # DiskFull opens
    world.answers["disk"] = []
    with world.engine.connect() as conn:
        template = dict(conn.execute(select(tickets)).mappings().one())
    template.pop("id")
    ident = identity_of(SERVICE_DOWN, _firing(SERVICE_DOWN, DOWN_B).labels)
    other = {**template, "identity": ident, "open_identity": ident, "rule": "ServiceDown", "rule_key": "ServiceDown",
             "group_key": "elsewhere.yaml;x", "status": "open"}
    world.answers["down"] = [DOWN_A, DOWN_B]
    at = T0 + timedelta(minutes=1)
    applied = world.tick(NEW, at, Interloper(world.engine, other))
    assert [i.identity for i in applied.conflicts] == [ident]
    by_rule = {(t.rule, t.labels.get("instance")): t for t in world.tickets()}
    # the rest of the tick committed: instance a opened, DiskFull cleared
    assert by_rule[("ServiceDown", "a:80")].opened_at == at
    assert by_rule[("DiskFull", None)].recovered_at == at
    assert len([t for t in world.tickets() if t.status != "resolved"]) == 3
    # the next tick adopts the interloper's ticket by identity: no conflict, no new ticket
    again = world.tick(NEW, at + timedelta(seconds=15))
    assert again.conflicts == [] and again.opened == []
    assert [a.ticket_id for a in again.adopted] == [by_rule[("ServiceDown", None)].id]


def _firing(rule: AlertingRule, sample: Sample) -> Alert:
    labels = sample.labels.merged({**rule.labels, "alertname": rule.name})
    return Alert(rule.name, labels, AlertState.FIRING, T0, fired_at=T0)


def test_a_removed_rule_resolves_its_ticket_as_rule_removed_after_the_window(world: World) -> None:
    world.answers["down"] = [DOWN_A]
    world.tick(NEW, T0)
    (opened,) = world.tickets()
    without = [group("rules/api.yaml", DISK)]
    removed_at = T0 + timedelta(minutes=20)
    aligned = world.align(without, removed_at)
    assert [(e.kind, e.detail["rule"]) for e in aligned.events] == [("rule_removed", "ServiceDown")]
    (t,) = world.tickets()
    assert (t.status, t.recovered_at, t.rule_removed_at) == ("open", removed_at, removed_at)
    assert world.align(without, removed_at + WINDOW - timedelta(seconds=1)).events == []
    resolved = world.align(without, removed_at + WINDOW)
    assert [e.detail for e in resolved.events] == [
        {"recovered_at": removed_at.isoformat(), "resolution": "rule_removed"}
    ]
    (t,) = world.tickets()
    assert (t.status, t.resolution, t.resolved_at) == ("resolved", "rule_removed", removed_at + WINDOW)
    assert world.events(t.id) == ["opened", "rule_removed", "recovery_verified"]
    assert ticket_view.judged(t, T0 + timedelta(days=1)).recovery_met is True
    # the monthly report counts it like a verified recovery: recovered when the rule went
    with world.engine.connect() as conn:
        report = build_report(conn, "2026-06", targets={}, priority_targets={}, timezone="UTC",
                              now=T0 + timedelta(days=40))
    p0 = report["priorities"]["P0"]
    assert (p0["recovery_met"], p0["mttr_seconds"]) == (1, 20 * 60)
    assert world.align(without, removed_at + 2 * WINDOW).events == []  # resolved once


def test_a_rule_back_inside_the_window_keeps_the_ticket_going(world: World) -> None:
    world.answers["down"] = [DOWN_A]
    world.tick(NEW, T0)
    (opened,) = world.tickets()
    world.align([group("rules/api.yaml", DISK)], T0 + timedelta(minutes=1))
    back = world.align([NEW], T0 + timedelta(minutes=3))
    assert back.restored == [opened.id] and back.events == []
    world.tick(NEW, T0 + timedelta(minutes=3, seconds=15))  # still firing: the same ticket returns
    (t,) = world.tickets()
    assert (t.status, t.recovered_at, t.rule_removed_at) == ("open", None, None)
    assert world.events(t.id) == ["opened", "rule_removed", "condition_returned"]
    assert world.align([NEW], T0 + timedelta(hours=1)).events == []


def test_no_rule_files_at_all_removes_nothing(world: World) -> None:
    world.answers["down"] = [DOWN_A]
    world.tick(NEW, T0)
    with world.engine.begin() as conn:
        done = alignment.align_tickets(conn, RuleIndex([]), T0 + timedelta(hours=1), removals=False)
    assert done.events == [] and world.tickets()[0].rule_removed_at is None


def test_a_pending_for_timer_survives_a_new_group_key(world: World) -> None:
    """State persisted under an old absolute key resumes under the new key: `for` is not reset."""
    old, new = group("/srv/release-1/rules/slow.yaml", SLOW), group("rules/slow.yaml", SLOW)
    world.answers["slow"] = [Sample(Labels(job="batch"), 1)]

    def evaluate(g: RuleGroup, previous: GroupState, at: datetime) -> GroupOutcome:
        return evaluate_group(g, previous, at, world.query, world.pool)

    policy = TicketPolicy(SlaPolicy.default(), Classification())
    first = GroupRunner(old, world.engine, evaluate, Metrics(), policy)
    first.tick(T0)
    first.tick(T0 + timedelta(minutes=30))
    with world.engine.begin() as conn:
        assert alignment.align_states(conn, RuleIndex([new])) == (1, 0)
    second = GroupRunner(new, world.engine, evaluate, Metrics(), policy)
    assert second.restore(T0 + timedelta(minutes=31), timedelta(hours=1)) == 1
    (alert,) = second.tick(T0 + timedelta(minutes=45)).state[SLOW.key].values()
    assert (alert.state, alert.active_at) == (AlertState.PENDING, T0)
    (alert,) = second.tick(T0 + timedelta(hours=1)).state[SLOW.key].values()
    assert (alert.state, alert.fired_at) == (AlertState.FIRING, T0 + timedelta(hours=1))
    (t,) = world.tickets()
    assert (t.rule, t.opened_at) == ("SlowBurn", T0 + timedelta(hours=1))


def test_states_of_a_removed_rule_are_dropped(world: World) -> None:
    def evaluate(g: RuleGroup, previous: GroupState, at: datetime) -> GroupOutcome:
        return evaluate_group(g, previous, at, world.query, world.pool)

    world.answers["slow"] = [Sample(Labels(job="batch"), 1)]
    runner = GroupRunner(group("rules/slow.yaml", SLOW), world.engine, evaluate, Metrics(),
                         TicketPolicy(SlaPolicy.default(), Classification()))
    runner.tick(T0)
    with world.engine.begin() as conn:
        assert alignment.align_states(conn, RuleIndex([NEW])) == (0, 1)


def test_a_rule_moved_between_running_groups_resumes_its_for_timer(world: World) -> None:
    """A reload moves SlowBurn from one running group to another: the receiving runner
    picks up the persisted state, so the `for` timer goes on from its first active instant."""
    def evaluate(g: RuleGroup, previous: GroupState, at: datetime) -> GroupOutcome:
        return evaluate_group(g, previous, at, world.query, world.pool)

    policy = TicketPolicy(SlaPolicy.default(), Classification())
    world.answers["slow"] = [Sample(Labels(job="batch"), 1)]
    batch = GroupRunner(group("rules/batch.yaml", SLOW, name="batch"), world.engine, evaluate, Metrics(), policy)
    api = GroupRunner(NEW, world.engine, evaluate, Metrics(), policy)
    batch.tick(T0)
    api.tick(T0)
    reloaded_batch, reloaded_api = group("rules/batch.yaml", name="batch"), group("rules/api.yaml", SERVICE_DOWN, DISK, SLOW)
    with world.engine.begin() as conn:
        assert alignment.align_states(conn, RuleIndex([reloaded_batch, reloaded_api])) == (1, 0)
    batch.adopt(reloaded_batch, T0 + timedelta(minutes=10), timedelta(hours=1))
    api.adopt(reloaded_api, T0 + timedelta(minutes=10), timedelta(hours=1))
    batch.tick(T0 + timedelta(minutes=20))
    (alert,) = api.tick(T0 + timedelta(minutes=20)).state[SLOW.key].values()
    assert (alert.state, alert.active_at) == (AlertState.PENDING, T0)
    (alert,) = api.tick(T0 + timedelta(hours=1)).state[SLOW.key].values()
    assert alert.state is AlertState.FIRING
