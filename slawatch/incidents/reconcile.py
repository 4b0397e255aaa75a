"""Turns one tick's alert outcome into ticket changes, inside the caller's transaction.

The pure `lifecycle.plan` decides; this module reads what the plan needs, computes the
SLA snapshot of new tickets (deadlines from `sla`, stored once at open), and writes
tickets, series and timeline events.

Open tickets are found by identity, not only by group key: a firing or pending identity
whose ticket was opened under another group key (the files moved, a file or group was
renamed, the rule moved to another group) continues that ticket, and a firing one
adopts it. The database's unique index on `open_identity` is the last word on "one
unresolved ticket per identity": the plan only opens identities found without one, and
a ticket another writer opened meanwhile is a conflict rolled back to a savepoint and
reported in `Applied.conflicts`; the rest of the tick commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from slawatch.incidents import lifecycle
from slawatch.incidents.ports import Announcer, OpenedTicket, Routing
from slawatch.model import Alert, AlertState, EventKind, Resolution, TicketStatus, TimelineEvent
from slawatch.rules.group import GroupOutcome
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy, compute_deadlines
from slawatch.store import tickets as store


@dataclass
class Applied:
    """What one tick changed: the tickets it opened and the timeline events it wrote."""

    opened: list[tuple[OpenedTicket, lifecycle.Open]] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)
    adopted: list[lifecycle.Adopt] = field(default_factory=list)
    conflicts: list[lifecycle.Incident] = field(default_factory=list)  # another writer opened them first


def firing_incidents(outcome: GroupOutcome) -> tuple[dict[str, lifecycle.Incident], set[str]]:
    """Firing incidents of the rules evaluated this tick, and those rules' keys."""
    failed = {f.rule for f in outcome.failures}
    evaluated = {r.key for r in outcome.group.rules} - failed
    firing: dict[str, lifecycle.Incident] = {}
    for rule in outcome.group.rules:
        if rule.key in evaluated:
            alerts = [a for a in outcome.state.get(rule.key, {}).values() if a.state is AlertState.FIRING]
            firing.update(lifecycle.incidents(rule, alerts))
    return firing, evaluated


def pending_identities(outcome: GroupOutcome, evaluated: set[str]) -> set[str]:
    """Identities of the pending alerts of the rules evaluated this tick."""
    return {
        lifecycle.identity_of(rule, a.labels)
        for rule in outcome.group.rules
        if rule.key in evaluated
        for a in outcome.state.get(rule.key, {}).values()
        if a.state is AlertState.PENDING
    }


def reconcile(
    conn: Connection,
    outcome: GroupOutcome,
    policy: SlaPolicy,
    classification: Classification,
    announcer: Announcer | None = None,
) -> Applied:
    """Apply one tick to the tickets of its group (and queue its notifications)."""
    at = outcome.at
    group_key = outcome.group.key
    firing, evaluated = firing_incidents(outcome)
    pending = pending_identities(outcome, evaluated) - firing.keys()
    open_tickets = store.open_for_group(conn, group_key)
    known = {t.identity for t in open_tickets}
    elsewhere = [i for i in [*firing, *pending] if i not in known]
    if elsewhere:
        open_tickets += store.open_by_identity(conn, elsewhere)
        known = {t.identity for t in open_tickets}
    candidates = [i for i in firing if i not in known]
    resolved = store.manually_resolved(conn, candidates) if candidates else {}
    plan = lifecycle.plan(
        firing, evaluated, open_tickets, resolved, classification, at, pending=pending, group_key=group_key
    )
    applied = Applied()
    _open(conn, group_key, plan.of(lifecycle.Open), policy, at, applied, announcer)
    for action in plan.actions:
        if isinstance(action, lifecycle.Adopt):
            store.adopt(conn, action.ticket_id, action.group_key, action.rule_key)
            applied.adopted.append(action)
        elif isinstance(action, lifecycle.Reopen):
            ticket = store.get(conn, action.ticket_id)
            assert ticket is not None
            status = TicketStatus.ACKNOWLEDGED if ticket.acknowledged_at else TicketStatus.OPEN
            if not store.reopen(conn, action.ticket_id, ticket.identity, status):
                applied.conflicts.append(action.incident)
                continue
            store.adopt(conn, action.ticket_id, group_key, action.incident.rule.key)
            applied.events.append(TimelineEvent(action.ticket_id, EventKind.REOPENED, at, detail={"reason": "condition still firing"}))
        elif isinstance(action, lifecycle.AddSeries):
            store.insert_series(conn, [_series(action.ticket_id, a, at) for a in action.series])
            store.add_series_count(conn, action.ticket_id, len(action.series))
        elif isinstance(action, lifecycle.Cleared):
            store.update_ticket(conn, action.ticket_id, recovered_at=at)
            applied.events.append(TimelineEvent(action.ticket_id, EventKind.CONDITION_CLEARED, at))
        elif isinstance(action, lifecycle.Returned):
            store.update_ticket(conn, action.ticket_id, recovered_at=None)
            applied.events.append(TimelineEvent(action.ticket_id, EventKind.CONDITION_RETURNED, at))
        elif isinstance(action, lifecycle.Verified):
            store.update_ticket(
                conn, action.ticket_id, status=TicketStatus.RESOLVED.value, resolved_at=at,
                resolution=Resolution.VERIFIED.value, open_identity=None,
            )
            detail = {"recovered_at": action.recovered_at.isoformat()}
            applied.events.append(TimelineEvent(action.ticket_id, EventKind.RECOVERY_VERIFIED, at, detail=detail))
    store.insert_events(conn, applied.events)
    if announcer is not None:
        announcer.opened(conn, [opened for opened, _ in applied.opened], at)
        announcer.events(conn, applied.events, at)
    return applied


def _open(
    conn: Connection,
    group_key: str,
    actions: list[lifecycle.Open],
    policy: SlaPolicy,
    at: datetime,
    applied: Applied,
    announcer: Announcer | None,
) -> None:
    rows = []
    for action in actions:
        incident = action.incident
        deadlines = compute_deadlines(policy, action.priority, at)
        routing = announcer.routing(incident.labels, at) if announcer else Routing()
        rows.append(
            {
                "identity": incident.identity,
                "open_identity": incident.identity,
                "group_key": group_key,
                "rule_key": incident.rule.key,
                "rule": incident.rule.name,
                "priority": action.priority.value,
                "status": TicketStatus.OPEN.value,
                "labels": json.dumps(dict(incident.labels), sort_keys=True),
                "annotations": json.dumps(dict(incident.series[0].annotations), sort_keys=True),
                "series_count": len(incident.series),
                "service": incident.labels.get("service"),
                "opened_at": at,
                "response_due": deadlines.response_due,
                "recovery_due": deadlines.recovery_due,
                "response_warn_at": deadlines.response_warn_at,
                "recovery_warn_at": deadlines.recovery_warn_at,
                "verification_seconds": policy.priorities[action.priority].verification.total_seconds(),
                "channel": routing.channel,
                "escalation": routing.escalation,
                # A policy's first step is due at the opening: the watcher records it.
                "escalation_due_at": at if routing.escalation else None,
            }
        )
    inserted = []
    for tid, action, row in zip(store.insert_open_tickets(conn, rows), actions, rows):
        if tid is None:
            applied.conflicts.append(action.incident)
        else:
            inserted.append((tid, action, row))
    # Series rows only for group_by tickets: otherwise the ticket's labels are its series.
    store.insert_series(
        conn,
        [_series(tid, a, at) for tid, act, _ in inserted if act.incident.rule.group_by for a in act.incident.series],
    )
    for tid, action, row in inserted:
        applied.opened.append((OpenedTicket(tid, row["channel"]), action))
        detail = {"priority": action.priority.value, "classified_by": action.reason, "series": len(action.incident.series)}
        applied.events.append(TimelineEvent(tid, EventKind.OPENED, at, detail=detail))


def _series(ticket_id: int, alert: Alert, at: datetime) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "fingerprint": alert.fingerprint,
        "labels": json.dumps(dict(alert.labels), sort_keys=True),
        "first_seen_at": at,
    }
