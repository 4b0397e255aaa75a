"""GroupRunner (rules/runner.py) against a real database (SQLite and PostgreSQL), tick by tick.

The evaluation is the daemon's own `GroupEvaluator`, bound to a plain query function whose
answers each test scripts, so every tick's samples and instant are exact and no Prometheus
is needed. A database outage is a real one: the alert_state table is renamed away.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence

import pytest
from sqlalchemy import Engine, text

from slawatch.metrics import Metrics
from slawatch.model import Alert, AlertState, EventKind, FailureKind, Labels, QueryFailed, Sample
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import GroupEvaluator, GroupOutcome
from slawatch.rules.runner import GroupRunner, TicketPolicy
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import alert_states
from slawatch.store import tickets as tickets_store
from slawatch.store.engine import make_engine, upgrade

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
STEP = timedelta(seconds=15)
RULE = AlertingRule(name="ServiceDown", expr="down", for_=timedelta(minutes=1), labels={"priority": "P0"})
GROUP = RuleGroup("api", "rules.yaml", STEP, (RULE,))
A = Sample(Labels(__name__="up", job="api", instance="a:80"), 0)
B = Sample(Labels(__name__="up", job="api", instance="b:80"), 0)


class Script:
    """The query function: what each expression answers, set by the test (samples or a failure)."""

    def __init__(self) -> None:
        self.answers: dict[str, Sequence[Sample] | QueryFailed] = {}

    def __call__(self, expr: str, at: datetime) -> list[Sample]:
        answer = self.answers.get(expr, [])
        if isinstance(answer, QueryFailed):
            raise answer
        return list(answer)


@dataclass
class World:
    engine: Engine
    script: Script = field(default_factory=Script)
    metrics: Metrics = field(default_factory=Metrics)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2))
    outcomes: list[GroupOutcome] = field(default_factory=list)

    def runner(self, group: RuleGroup = GROUP) -> GroupRunner:
        """A runner as the daemon builds one (a new one is a restarted daemon)."""
        return GroupRunner(
            group, self.engine, GroupEvaluator(query=self.script, pool=self.pool), self.metrics,
            TicketPolicy(SlaPolicy.default(), Classification()), on_outcome=self.outcomes.append,
        )

    def persisted(self) -> dict[str, Alert]:
        """The alert state in the database, by fingerprint."""
        with self.engine.connect() as conn:
            return alert_states.load_group(conn, GROUP.key).get(RULE.key, {})

    def tickets(self) -> list[tickets_store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted(tickets_store.listing(conn), key=lambda t: t.id)

    def events(self, ticket_id: int) -> list[EventKind]:
        with self.engine.connect() as conn:
            return [e.kind for e in tickets_store.events(conn, ticket_id)]

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    upgrade(engine)
    w = World(engine)
    yield w
    w.pool.shutdown()
    engine.dispose()


def states(alerts: dict[str, Alert]) -> dict[str, AlertState]:
    return {a.labels["instance"]: a.state for a in alerts.values()}


def test_a_new_series_goes_pending_then_fires_after_for_and_opens_its_ticket_once(world: World) -> None:
    """A series that appears is pending until `for` (1m) has passed, then firing; its ticket
    opens at that tick, exactly once, and the state in the database follows every tick."""
    runner = world.runner()
    world.script.answers["down"] = [A]
    table = [  # seconds after T0, state in memory and in the database, tickets
        (0, AlertState.PENDING, 0),
        (15, AlertState.PENDING, 0),
        (45, AlertState.PENDING, 0),
        (60, AlertState.FIRING, 1),
        (75, AlertState.FIRING, 1),
        (120, AlertState.FIRING, 1),
    ]
    for seconds, state, tickets in table:
        at = T0 + timedelta(seconds=seconds)
        outcome = runner.tick(at)
        assert states(outcome.state[RULE.key]) == {"a:80": state}, at
        assert states(world.persisted()) == {"a:80": state}, at
        assert len(world.tickets()) == tickets, at
    (alert,) = world.persisted().values()
    assert (alert.active_at, alert.fired_at) == (T0, T0 + timedelta(seconds=60))
    (ticket,) = world.tickets()
    assert (ticket.rule, ticket.priority, ticket.opened_at) == ("ServiceDown", "P0", T0 + timedelta(seconds=60))
    assert world.events(ticket.id) == [EventKind.OPENED]
    assert world.sample("slawatch_alerts", group="api", state="firing") == 1
    assert world.sample("slawatch_rule_group_iterations_total", group="api") == len(table)
    assert [o.at for o in world.outcomes] == [T0 + timedelta(seconds=s) for s, *_ in table]


@pytest.mark.parametrize(
    "restart_at, tolerance, restored, fires_at",
    [
        (T0 + timedelta(seconds=45), timedelta(hours=1), 1, T0 + timedelta(seconds=60)),
        (T0 + timedelta(hours=1), timedelta(hours=1), 1, T0 + timedelta(hours=1)),
        (T0 + timedelta(hours=2), timedelta(hours=1), 0, T0 + timedelta(hours=2, seconds=60)),
    ],
    ids=["fresh: the for timer runs on", "last seen exactly a tolerance ago", "stale: dropped, the timer restarts"],
)
def test_a_restarted_runner_resumes_pending_state_unless_it_is_older_than_the_tolerance(
    world: World, restart_at: datetime, tolerance: timedelta, restored: int, fires_at: datetime
) -> None:
    """State persisted before a restart is restored and its `for` timer is not reset; state last
    seen longer than the tolerance ago is dropped and the series starts pending afresh.

    `last_seen_at` is rewritten at most once a minute (alert_states bounds the writes), so
    after ticks at T0 and T0+30s the database says "last seen at T0".
    """
    world.script.answers["down"] = [A]
    before = world.runner()
    before.tick(T0)
    before.tick(T0 + timedelta(seconds=30))
    assert [a.last_seen_at for a in world.persisted().values()] == [T0]

    after = world.runner()
    assert after.restore(restart_at, tolerance) == restored
    at = restart_at
    while states(after.tick(at).state[RULE.key]) != {"a:80": AlertState.FIRING}:
        at += STEP
        assert at - restart_at < timedelta(minutes=5), "never fired"
    assert at == fires_at
    (alert,) = world.persisted().values()
    assert alert.active_at == (T0 if restored else restart_at)
    (ticket,) = world.tickets()
    assert ticket.opened_at == fires_at


def test_restore_keeps_only_the_state_of_rules_still_in_the_group(world: World) -> None:
    """A rule removed from the group while the daemon was down is not restored."""
    other = AlertingRule(name="DiskFull", expr="disk")
    world.script.answers = {"down": [A], "disk": [B]}
    before = world.runner(RuleGroup("api", "rules.yaml", STEP, (RULE, other)))
    before.tick(T0)
    after = world.runner(GROUP)
    assert after.restore(T0 + STEP, timedelta(hours=1)) == 1
    outcome = after.tick(T0 + STEP)
    assert set(outcome.state) == {RULE.key}


def test_an_unreachable_prometheus_changes_nothing_and_is_handed_to_on_outcome(world: World) -> None:
    """While the query raises QueryFailed(UNREACHABLE) the firing alert keeps firing, its ticket is
    not cleared, each outcome (with the failure) reaches on_outcome and the failure is counted."""
    runner = world.runner()
    world.script.answers["down"] = [A]
    runner.tick(T0)
    runner.tick(T0 + timedelta(minutes=1))
    firing = dict(world.persisted())
    (ticket,) = world.tickets()

    world.script.answers["down"] = QueryFailed(FailureKind.UNREACHABLE, "connection refused")
    failing = [T0 + timedelta(minutes=m) for m in range(2, 12)]
    for at in failing:
        outcome = runner.tick(at)
        assert outcome.state == {RULE.key: firing}, at
        assert outcome.unreachable and [f.kind for f in outcome.failures] == [FailureKind.UNREACHABLE]
    assert world.outcomes[-len(failing):] == [o for o in world.outcomes if o.failures]
    assert [o.at for o in world.outcomes if o.failures] == failing
    assert world.persisted() == firing
    (still,) = world.tickets()
    assert (still.id, still.status, still.recovered_at) == (ticket.id, "open", None)
    assert world.events(ticket.id) == [EventKind.OPENED]
    assert world.sample("slawatch_rule_evaluation_failures_total", group="api", kind="unreachable") == len(failing)

    world.script.answers["down"] = []  # it answers again: now the series is really gone
    runner.tick(T0 + timedelta(minutes=12))
    assert world.events(ticket.id) == [EventKind.OPENED, EventKind.CONDITION_CLEARED]


def _rename(engine: Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_a_failed_database_write_keeps_the_state_and_the_next_good_tick_writes_it_all(world: World) -> None:
    """A tick whose transaction fails keeps its state in memory (nothing of it is committed, no
    ticket); the next tick that can write commits the whole difference and opens the ticket."""
    runner = world.runner()
    world.script.answers["down"] = [A]
    runner.tick(T0)
    assert states(world.persisted()) == {"a:80": AlertState.PENDING}

    _rename(world.engine, "alert_state", "alert_state_away")  # the database refuses every write of the tick
    world.script.answers["down"] = [A, B]
    outcome = runner.tick(T0 + timedelta(seconds=60))
    assert states(outcome.state[RULE.key]) == {"a:80": AlertState.FIRING, "b:80": AlertState.PENDING}
    assert world.sample("slawatch_state_write_failures_total") == 1
    assert world.tickets() == []  # the ticket change rolled back with the state
    _rename(world.engine, "alert_state_away", "alert_state")
    assert states(world.persisted()) == {"a:80": AlertState.PENDING}  # as the last good tick left it

    runner.tick(T0 + timedelta(seconds=75))
    persisted = world.persisted()
    assert states(persisted) == {"a:80": AlertState.FIRING, "b:80": AlertState.PENDING}
    by_instance = {a.labels["instance"]: a for a in persisted.values()}
    assert by_instance["a:80"].fired_at == T0 + timedelta(seconds=60)  # when it fired, not when it was written
    assert by_instance["b:80"].active_at == T0 + timedelta(seconds=60)
    (ticket,) = world.tickets()
    assert ticket.labels["instance"] == "a:80"
    assert world.sample("slawatch_state_write_failures_total") == 1


def test_forget_removes_the_groups_metric_series_and_only_those(world: World) -> None:
    """After `forget()` no series labelled with the removed group is left; other groups keep theirs."""
    world.script.answers["down"] = QueryFailed(FailureKind.UNREACHABLE, "connection refused")
    removed = world.runner(GROUP)
    kept = world.runner(RuleGroup("db", "rules.yaml", STEP, (RULE,)))
    removed.tick(T0)
    kept.tick(T0)
    series = [
        ("slawatch_rule_group_iterations_total", {}),
        ("slawatch_alerts", {"state": "pending"}),
        ("slawatch_alerts", {"state": "firing"}),
        ("slawatch_rule_evaluation_failures_total", {"kind": "unreachable"}),
    ]
    for name, labels in series:
        assert world.sample(name, group="api", **labels) is not None, name

    removed.forget()
    for name, labels in series:
        assert world.sample(name, group="api", **labels) is None, name
        assert world.sample(name, group="db", **labels) is not None, name
