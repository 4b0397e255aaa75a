"""incidents.watcher.record_due against a real database, with a recording Announcer.

A P0 ticket opened at T0 (default policy) warns at 80 % of each window: response warning at
T0+12m, breach at T0+15m; recovery warning at T0+96m, breach at T0+2h. The watcher is
called at explicit instants, repeatedly, as its scheduled job would be.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator, Mapping, Sequence

import pytest
from sqlalchemy import Connection, Engine

from slawatch.incidents import reconcile as incidents
from slawatch.incidents import watcher
from slawatch.incidents.actions import acknowledge
from slawatch.incidents.ports import OpenedTicket, Routing
from slawatch.model import EventKind, Labels, Sample, TimelineEvent
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULE = AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0"})
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
WARNING, BREACH = EventKind.DEADLINE_WARNING, EventKind.DEADLINE_BREACHED


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


@dataclass
class RecordingAnnouncer:
    """An `incidents.ports.Announcer` that records the events it is handed."""

    event_calls: list[tuple[list[TimelineEvent], datetime]] = field(default_factory=list)

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        return Routing(channel="#alerts")

    def opened(self, conn: Connection, opened: Sequence[OpenedTicket], at: datetime) -> None:
        pass

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        self.event_calls.append((list(events), at))

    def handed_events(self) -> list[TimelineEvent]:
        return [e for events, _ in self.event_calls for e in events]


@dataclass
class World:
    engine: Engine

    def open_tickets(self, *instances: str) -> list[int]:
        """One firing P0 ticket per instance, opened at T0 by a real tick."""
        samples = [Sample(Labels(__name__="up", instance=i), 0) for i in instances]
        with ThreadPoolExecutor(1) as pool:
            outcome = evaluate_group(GROUP, {}, T0, lambda expr, at: samples, pool)
        with self.engine.begin() as conn:
            applied = incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())
        return sorted(o.ticket_id for o, _ in applied.opened)

    def watch(self, at: datetime, announcer: RecordingAnnouncer | None = None) -> list[TimelineEvent]:
        with self.engine.begin() as conn:
            return watcher.record_due(conn, at, announcer)

    def deadline_events(self, ticket_id: int) -> list[TimelineEvent]:
        with self.engine.connect() as conn:
            return [e for e in store.events(conn, ticket_id) if e.kind in (WARNING, BREACH)]


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield World(engine)
    engine.dispose()


# when the watcher runs, and what it records then: (event, deadline, the instant it became due)
SCHEDULE = [
    (minutes(11), []),
    (minutes(12), [(WARNING, "response", minutes(12))]),
    (minutes(12), []),
    (minutes(13), []),
    (minutes(40), [(BREACH, "response", minutes(15))]),
    (minutes(41), []),
    (minutes(95), []),
    (minutes(96), [(WARNING, "recovery", minutes(96))]),
    (minutes(180), [(BREACH, "recovery", minutes(120))]),
    (minutes(181), []),
    (minutes(600), []),
]


def _described(events: Sequence[TimelineEvent]) -> list[tuple[EventKind, str, datetime]]:
    return [(e.kind, e.detail["deadline"], e.at) for e in events]


def test_each_warning_and_breach_is_recorded_once_at_the_instant_it_became_due(world: World) -> None:
    """Repeated calls record each deadline event exactly once, stamped with its own due instant
    (a breach found late is still recorded at the deadline), with a dedup key per event."""
    (ticket,) = world.open_tickets("a:80")
    for at, expected in SCHEDULE:
        assert _described(world.watch(at)) == expected, at
    recorded = world.deadline_events(ticket)
    assert _described(recorded) == [e for _, events in SCHEDULE for e in events]
    assert [e.dedup_key for e in recorded] == [
        f"{ticket}:response:deadline_warning", f"{ticket}:response:deadline_breached",
        f"{ticket}:recovery:deadline_warning", f"{ticket}:recovery:deadline_breached",
    ]
    assert recorded[1].detail == {"deadline": "response", "due": minutes(15).isoformat()}


def test_the_announcer_is_handed_each_recorded_event_once(world: World) -> None:
    """Whatever a call records it hands to the announcer in that call (at the watcher's now), the
    same TimelineEvents the timeline holds, so each warning and breach is announced exactly once."""
    (ticket,) = world.open_tickets("a:80")
    announcer = RecordingAnnouncer()
    for at, _ in SCHEDULE:
        recorded = world.watch(at, announcer)
        if recorded:
            assert announcer.event_calls[-1] == (recorded, at)
    handed = announcer.handed_events()
    assert handed == world.deadline_events(ticket)
    assert len({(e.kind, e.detail["deadline"]) for e in handed}) == len(handed) == 4


def test_an_acknowledged_ticket_gets_only_its_recovery_events(world: World) -> None:
    """An acknowledgement before the response warning suppresses both response events; the
    recovery deadline is watched all the same, for that ticket only."""
    acked, other = world.open_tickets("a:80", "b:80")
    with world.engine.begin() as conn:
        acknowledge(conn, acked, "alice", minutes(5))
    announcer = RecordingAnnouncer()
    for at, _ in SCHEDULE:
        world.watch(at, announcer)
    assert [(e.kind, e.detail["deadline"]) for e in world.deadline_events(acked)] == [
        (WARNING, "recovery"), (BREACH, "recovery"),
    ]
    assert len(world.deadline_events(other)) == 4
    handed = announcer.handed_events()
    assert sorted((e.ticket_id, e.kind, e.at) for e in handed) == sorted(
        (e.ticket_id, e.kind, e.at) for t in (acked, other) for e in world.deadline_events(t)
    )


def test_without_an_announcer_the_same_events_are_recorded(world: World) -> None:
    """Notifications off: the watcher still records every warning and breach once."""
    (ticket,) = world.open_tickets("a:80")
    for at, _ in SCHEDULE:
        world.watch(at)
    assert _described(world.deadline_events(ticket)) == [e for _, events in SCHEDULE for e in events]
