"""incidents.reconcile against a real database, with a recording Announcer (incidents/ports.py).

Each tick's outcome comes from the real `evaluate_group` over scripted samples, so the
tickets, the timeline and what the announcer is handed are checked at explicit instants.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator, Mapping, Sequence

import pytest
from sqlalchemy import Connection, Engine

from slawatch.incidents import reconcile as incidents
from slawatch.incidents.actions import resolve
from slawatch.incidents.ports import Announcer, OpenedTicket, Routing
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
API = Sample(Labels(__name__="up", service="api", instance="a:80"), 0)
DB = Sample(Labels(__name__="up", service="db", instance="d:5432"), 0)


@dataclass
class RecordingAnnouncer:
    """An `incidents.ports.Announcer` that routes by the `service` label and records every call."""

    routed: list[tuple[dict[str, str], datetime]] = field(default_factory=list)
    opened_calls: list[tuple[list[OpenedTicket], datetime]] = field(default_factory=list)
    event_calls: list[tuple[list[TimelineEvent], datetime]] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        self.routed.append((dict(labels), at))
        service = labels["service"]
        return Routing(channel=f"#{service}", escalation=json.dumps({"team": service}))

    def opened(self, conn: Connection, opened: Sequence[OpenedTicket], at: datetime) -> None:
        self.connections.append(conn)
        self.opened_calls.append((list(opened), at))

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        self.connections.append(conn)
        self.event_calls.append((list(events), at))

    def handed_events(self) -> list[TimelineEvent]:
        return [e for events, _ in self.event_calls for e in events]


class Ticker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state: dict = {}
        self.samples: list[Sample] = []
        self.pool = ThreadPoolExecutor(1)

    def tick(self, at: datetime, announcer: Announcer | None = None) -> incidents.Applied:
        outcome = evaluate_group(GROUP, self.state, at, lambda expr, _at: self.samples, self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            applied = incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification(), announcer)
            if isinstance(announcer, RecordingAnnouncer):
                assert all(c is conn for c in announcer.connections), "the announcer writes in the tick's transaction"
                announcer.connections.clear()
            return applied

    def tickets(self) -> list[store.TicketRow]:
        with self.engine.connect() as conn:
            return sorted(store.listing(conn), key=lambda t: t.id)

    def timeline(self, ticket_id: int) -> list[TimelineEvent]:
        with self.engine.connect() as conn:
            return store.events(conn, ticket_id)


@pytest.fixture
def ticker(db_url: str) -> Iterator[Ticker]:
    engine = make_engine(db_url)
    upgrade(engine)
    t = Ticker(engine)
    yield t
    t.pool.shutdown()
    engine.dispose()


def test_opened_tickets_get_the_routing_decided_for_their_labels(ticker: Ticker) -> None:
    """Each new ticket stores the channel and on-call snapshot the announcer's routing gave for its
    labels at the opening instant, and `opened` is handed those tickets with their channels."""
    announcer = RecordingAnnouncer()
    ticker.samples = [API, DB]
    applied = ticker.tick(T0, announcer)
    api, db = sorted(ticker.tickets(), key=lambda t: t.labels["service"])
    assert (api.channel, api.escalation) == ("#api", '{"team": "api"}')
    assert (db.channel, db.escalation) == ("#db", '{"team": "db"}')
    assert sorted((labels["instance"], at) for labels, at in announcer.routed) == [("a:80", T0), ("d:5432", T0)]
    ((opened, at),) = announcer.opened_calls
    assert at == T0
    assert sorted(opened, key=lambda o: o.ticket_id) == sorted(
        [OpenedTicket(api.id, "#api"), OpenedTicket(db.id, "#db")], key=lambda o: o.ticket_id
    )
    assert {o.ticket_id for o, _ in applied.opened} == {api.id, db.id}


def test_an_existing_ticket_is_not_routed_or_announced_as_opened_again(ticker: Ticker) -> None:
    """Routing is decided once, at open: later ticks of a firing incident open nothing."""
    announcer = RecordingAnnouncer()
    ticker.samples = [API]
    for seconds in (0, 15, 30):
        ticker.tick(T0 + timedelta(seconds=seconds), announcer)
    assert len(announcer.routed) == 1
    assert [len(opened) for opened, _ in announcer.opened_calls] == [1, 0, 0]


# minute after T0, is the series firing, the timeline events that tick adds (and hands over)
LIFECYCLE = [
    (0, True, [EventKind.OPENED]),
    (5, True, []),
    (10, False, [EventKind.CONDITION_CLEARED]),
    (12, True, [EventKind.CONDITION_RETURNED]),
    (20, False, [EventKind.CONDITION_CLEARED]),
    (24, False, []),
    (25, False, [EventKind.RECOVERY_VERIFIED]),
    (30, False, []),
]


def test_the_events_handed_to_the_announcer_are_the_timeline_as_written(ticker: Ticker) -> None:
    """Tick by tick the announcer gets exactly the TimelineEvents reconcile wrote (kinds, instants,
    details), at the tick's instant; over the incident they are its whole timeline, in order."""
    announcer = RecordingAnnouncer()
    for minute, firing, kinds in LIFECYCLE:
        at = T0 + timedelta(minutes=minute)
        ticker.samples = [API] if firing else []
        before = len(announcer.handed_events())
        applied = ticker.tick(at, announcer)
        handed, handed_at = announcer.event_calls[-1]
        assert handed_at == at
        assert [e.kind for e in handed] == kinds, minute
        assert all(e.at == at for e in handed), minute
        assert handed == applied.events == announcer.handed_events()[before:]
    (ticket,) = ticker.tickets()
    timeline = ticker.timeline(ticket.id)
    assert timeline == announcer.handed_events()
    assert [e.kind for e in timeline] == [k for _, _, kinds in LIFECYCLE for k in kinds]
    opened, verified = timeline[0], timeline[-1]
    assert opened.detail == {"priority": "P0", "classified_by": "priority_label", "series": 1}
    assert verified.detail == {"recovered_at": (T0 + timedelta(minutes=20)).isoformat()}


def test_a_reopened_ticket_hands_over_its_reopened_event(ticker: Ticker) -> None:
    """A ticket resolved by hand while its alert kept firing is reopened; the announcer gets that
    `reopened` event exactly as the timeline stores it, and no second opening."""
    announcer = RecordingAnnouncer()
    ticker.samples = [API]
    ticker.tick(T0, announcer)
    (ticket,) = ticker.tickets()
    with ticker.engine.begin() as conn:
        resolve(conn, ticket.id, "alice", "looked fine", T0 + timedelta(minutes=3))
    ticker.tick(T0 + timedelta(minutes=4), announcer)
    (reopened,) = ticker.tickets()
    assert (reopened.id, reopened.status) == (ticket.id, "open")
    handed, _ = announcer.event_calls[-1]
    assert [e.kind for e in handed] == [EventKind.REOPENED]
    assert handed == [e for e in ticker.timeline(ticket.id) if e.kind is EventKind.REOPENED]
    assert [len(opened) for opened, _ in announcer.opened_calls] == [1, 0]


def test_tickets_opened_without_an_announcer_have_no_channel(ticker: Ticker) -> None:
    """With notifications off a ticket opens with no channel and no on-call snapshot, and its
    timeline is written all the same."""
    ticker.samples = [API, DB]
    applied = ticker.tick(T0)
    tickets = ticker.tickets()
    assert [(t.channel, t.escalation) for t in tickets] == [(None, None), (None, None)]
    assert [o.channel for o, _ in applied.opened] == [None, None]
    assert [[e.kind for e in ticker.timeline(t.id)] for t in tickets] == [[EventKind.OPENED]] * 2
