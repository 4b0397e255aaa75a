"""The deadline watcher: records due warnings, breaches and escalation steps, once each.

The decisions are pure: `sla.deadlines.due_deadline_events` (warnings and breaches) and
`escalation.due_steps` (which steps of the ticket's frozen policy are due, and whom they
reach then); this module reads the unresolved tickets that may have something due (a
warning instant passed, or `escalation_due_at` reached) and writes the events they
return. Each event carries the instant it became due, not the watcher's `now`, so a late
or restarted watcher still records when the breach really happened. A unique dedup key
per (ticket, deadline, event) and per (ticket, escalation step) keeps them exactly-once
even if two watchers race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from slawatch.escalation import Progress, deadline_trigger, due_steps, stored_policy
from slawatch.incidents.ports import Announcer
from slawatch.model import EventKind, TimelineEvent
from slawatch.sla.deadlines import DeadlineEventKind, DeadlineKind, due_deadline_events
from slawatch.store import tickets as store
from slawatch.store.tickets import TicketRow

__all__ = ["due_events", "escalation_events", "record_due"]


def due_events(ticket: TicketRow, already: set[tuple[str, str]], now: datetime) -> list[TimelineEvent]:
    """Timeline events for the warnings and breaches of `ticket` due at `now`.

    While a recovery is in verification its first clear time counts as the recovery
    (it is final unless the condition returns, which clears `recovered_at` again).
    """
    recorded = {(DeadlineKind(d), DeadlineEventKind(k)) for d, k in already}
    out = []
    for deadline, kind, instant in due_deadline_events(
        ticket.deadlines(), ticket.acknowledged_at, ticket.recovered_at, recorded, now
    ):
        event = EventKind.DEADLINE_WARNING if kind is DeadlineEventKind.WARNING else EventKind.DEADLINE_BREACHED
        due = ticket.deadlines().due_for(deadline)
        out.append(
            TimelineEvent(
                ticket.id, event, instant,
                detail={"deadline": deadline.value, "due": due.isoformat()},
                dedup_key=f"{ticket.id}:{deadline.value}:{event.value}",
            )
        )
    return out


def escalation_events(
    ticket: TicketRow, deadline_events: list[TimelineEvent], progress: Progress, now: datetime
) -> tuple[list[TimelineEvent], datetime | None]:
    """`escalated` events for the steps due at `now` (the deadline events being recorded
    now move the walk too), and when the next `after` step is due."""
    policy = stored_policy(ticket.escalation)
    if policy is None:
        return [], None
    sla = [
        (deadline_trigger(DeadlineKind(e.detail["deadline"]), DeadlineEventKind(e.kind.value)), e.at)
        for e in deadline_events
    ]
    walk = due_steps(policy, ticket.opened_at, ticket.acknowledged_at, sla, progress, now)
    events = [
        TimelineEvent(ticket.id, EventKind.ESCALATED, step.at, detail=step.detail(policy),
                      dedup_key=f"{ticket.id}:escalated:{step.key}")
        for step in walk.steps
    ]
    return events, walk.next_at


def record_due(conn: Connection, now: datetime, announcer: Announcer | None = None) -> list[TimelineEvent]:
    """Find and insert every due deadline event and escalation step (and their
    notifications); returns them, each ticket's in order."""
    candidates = store.to_watch(conn, now)
    if not candidates:
        return []
    ids = [t.id for t in candidates]
    recorded = store.deadline_events_of(conn, ids)
    progress = store.escalation_progress(conn, ids)
    events: list[TimelineEvent] = []
    next_due: dict[int, datetime | None] = {}
    for ticket in candidates:
        deadline = due_events(ticket, recorded.get(ticket.id, set()), now)
        steps, next_at = escalation_events(ticket, deadline, progress.get(ticket.id, Progress()), now)
        events.extend(sorted(deadline + steps, key=lambda e: e.at))  # stable: a breach before its step
        if next_at != ticket.escalation_due_at:
            next_due[ticket.id] = next_at
    store.insert_events(conn, events)
    store.set_escalation_due(conn, next_due)
    if announcer is not None:
        announcer.events(conn, events, now)
    return events
