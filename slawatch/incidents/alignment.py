"""Tickets and persisted alert state follow the rule set in force, in the caller's transaction.

Run at start, after every reload and by the periodic deadline watcher:

- a ticket recorded under a group key that no longer holds its rule (the files moved,
  a file or group was renamed, the rule moved to another group) is re-filed under the
  rule that owns it now (`ownership`), so that group's ticks judge it;
- a ticket whose rule exists nowhere goes through `lifecycle.rule_removal`: its
  condition counts as cleared when the rule is found missing (a `rule_removed` event),
  and after its verification window it resolves as `rule_removed`; if the rule comes back
  first, the ticket goes on;
- at start and reload, persisted alert states (pending `for` timers) are re-filed the
  same way, so a redeploy does not reset them; states of removed rules are dropped.

When no rule file matched at all (a missing mount, a typo in `rules.paths`) nothing is
declared removed: that is more likely a broken deployment than every rule deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from slawatch.incidents import lifecycle
from slawatch.incidents.ownership import RuleIndex
from slawatch.incidents.ports import Announcer
from slawatch.model import ALERTNAME, EventKind, Resolution, TimelineEvent
from slawatch.store import alert_states
from slawatch.store import tickets as store

__all__ = ["Aligned", "align_states", "align_tickets"]


@dataclass
class Aligned:
    """What one pass changed: re-filed tickets, restored rules, timeline events written."""

    adopted: list[lifecycle.Adopt] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)


def align_tickets(
    conn: Connection, index: RuleIndex, now: datetime, announcer: Announcer | None = None, removals: bool = True
) -> Aligned:
    """Re-file, mark, restore and resolve unresolved tickets against the rules in `index`."""
    out = Aligned()
    held = store.unresolved(conn)
    missing: set[int] = set()
    for ticket, labels in held:
        owner = index.owner(ticket.group_key or "", ticket.rule_key, ticket.rule, labels)
        if owner is None:
            missing.add(ticket.id)
        elif (owner.group_key, owner.rule_key) != (ticket.group_key, ticket.rule_key):
            store.adopt(conn, ticket.id, owner.group_key, owner.rule_key)
            out.adopted.append(lifecycle.Adopt(ticket.id, owner.group_key, owner.rule_key, ticket.group_key))
    judged = [t for t, _ in held if removals or t.id not in missing]
    for action in lifecycle.rule_removal(judged, missing, now):
        if isinstance(action, lifecycle.RuleRemoved):
            if store.mark_rule_removed(conn, action.ticket_id, now, action.clears):
                detail = {"rule": action.rule, "cleared": action.clears}
                out.events.append(TimelineEvent(action.ticket_id, EventKind.RULE_REMOVED, now, detail=detail))
        elif isinstance(action, lifecycle.RuleRestored):
            if store.unmark_rule_removed(conn, action.ticket_id):
                out.restored.append(action.ticket_id)
        elif store.resolve_rule_removed(conn, action.ticket_id, now, action.recovered_at, action.removed_at):
            detail = {"recovered_at": action.recovered_at.isoformat(), "resolution": Resolution.RULE_REMOVED.value}
            out.events.append(TimelineEvent(action.ticket_id, EventKind.RECOVERY_VERIFIED, now, detail=detail))
    store.insert_events(conn, out.events)
    if announcer is not None:
        announcer.events(conn, out.events, now)
    return out


def align_states(conn: Connection, index: RuleIndex, removals: bool = True) -> tuple[int, int]:
    """Re-file persisted alert states under the rules that own them now; returns
    (moved, dropped). A state whose rule is gone, or whose new place is taken, is dropped."""
    rows = alert_states.keys(conn)
    present = {key for key, _ in rows}
    moves, drops = [], []
    for key, labels in rows:
        group_key, rule_key, fp = key
        owner = index.owner(group_key, rule_key, labels.get(ALERTNAME, rule_key.partition("#")[0]), labels)
        if owner is None:
            if removals:
                drops.append(key)
        elif (owner.group_key, owner.rule_key) != (group_key, rule_key):
            target = (owner.group_key, owner.rule_key, fp)
            if target in present:
                drops.append(key)
            else:
                moves.append((key, (owner.group_key, owner.rule_key)))
                present.add(target)
    alert_states.drop(conn, drops)
    alert_states.move(conn, moves)
    return len(moves), len(drops)
