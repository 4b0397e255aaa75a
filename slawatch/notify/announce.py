"""What to announce, decided inside the transaction that changed the ticket.

`Announcer` turns ticket changes into outbox rows: an opening message per new ticket
(or one digest when more than `digest_threshold` open in one tick for one channel), a
thread reply for every later event, and a chat.update of the opening message so it
shows the current status. Every row carries whom it mentions, decided here from the
escalation chain frozen on the ticket at open, so the sending side only renders and
sends. Nothing here talks to Slack: the dispatcher does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection

from slawatch import oncall
from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.incidents.ports import OpenedTicket, Routing
from slawatch.model import EventKind, NotificationKind, TimelineEvent
from slawatch.store import outbox as store
from slawatch.store import tickets as tickets_store
from slawatch.store.outbox import NewNotification

__all__ = ["Announcer"]

# (deadline, event kind) -> the escalation event of the on-call chain
_ESCALATION_EVENTS: dict[tuple[str, EventKind], oncall.EscalationEvent] = {
    ("response", EventKind.DEADLINE_WARNING): "response_warning",
    ("response", EventKind.DEADLINE_BREACHED): "response_breach",
    ("recovery", EventKind.DEADLINE_WARNING): "recovery_warning",
    ("recovery", EventKind.DEADLINE_BREACHED): "recovery_breach",
}


@dataclass(frozen=True)
class Announcer:
    """The `incidents.ports.Announcer` that writes Slack notifications to the outbox."""

    slack: SlackSettings
    oncall: OncallSettings

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        chain = self.oncall.chain(labels.get(self.oncall.team_label))
        snapshot = oncall.snapshot_chain(chain, self.oncall.rotations(), at).to_json() if chain else None
        return Routing(self.slack.channel_for(labels), json.dumps(snapshot) if snapshot else None)

    def opened(self, conn: Connection, opened: Sequence[OpenedTicket], at: datetime) -> None:
        """One opening message per ticket, or one digest per channel in a storm."""
        by_channel: dict[str, list[int]] = defaultdict(list)
        for ticket in opened:
            if ticket.channel is not None:
                by_channel[ticket.channel].append(ticket.ticket_id)
        info = tickets_store.announced(conn, [t.ticket_id for t in opened])
        rows = []
        for channel, ids in by_channel.items():
            if len(ids) > self.slack.digest_threshold:
                mentions = _opening_mentions(info[ids[0]].escalation)
                payload = {"ticket_ids": ids, "mentions": mentions}
                urgent = min((info[t].priority for t in ids), key=lambda p: p.value)
                key = f"digest:{ids[0]}:{len(ids)}"
                rows.append(NewNotification(None, NotificationKind.DIGEST, channel, payload, key, urgent))
            else:
                rows.extend(
                    NewNotification(
                        t, NotificationKind.OPENING, channel, {"mentions": _opening_mentions(info[t].escalation)},
                        f"open:{t}", info[t].priority,
                    )
                    for t in ids
                )
        store.add(conn, rows, at)

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        """A thread reply (with escalation mentions) and a status update per event."""
        events = [e for e in events if e.kind is not EventKind.OPENED]
        if not events:
            return
        info = tickets_store.announced(conn, [e.ticket_id for e in events])
        rows = []
        for e in events:
            ticket = info[e.ticket_id]
            if ticket.channel is None:
                continue  # opened before notifications existed
            stamp = e.at.isoformat()
            payload = {
                "kind": e.kind.value, "at": stamp, "actor": e.actor, "detail": dict(e.detail),
                **_escalation(ticket.escalation, e.kind, e.detail, ticket.acknowledged_at is not None),
            }
            key = f"{e.ticket_id}:{e.kind.value}:{e.detail.get('deadline', '')}:{stamp}"
            rows.append(
                NewNotification(e.ticket_id, NotificationKind.EVENT, ticket.channel, payload, f"event:{key}", ticket.priority)
            )
            update = {"mentions": _opening_mentions(ticket.escalation)}
            rows.append(
                NewNotification(e.ticket_id, NotificationKind.UPDATE, ticket.channel, update, f"update:{key}", ticket.priority)
            )
        store.add(conn, rows, at)


def _escalation(snapshot_json: str | None, kind: EventKind, detail: Mapping[str, Any], acknowledged: bool) -> dict[str, Any]:
    """Mentions for a deadline event, from the chain frozen on the ticket."""
    event = _ESCALATION_EVENTS.get((str(detail.get("deadline", "")), kind))
    if event is None or not snapshot_json:
        return {"mentions": []}
    snapshot = oncall.ChainSnapshot.from_json(json.loads(snapshot_json))
    step = oncall.escalation_for(event, snapshot, acknowledged)
    if step is None:
        return {"mentions": []}
    level = snapshot.levels[step.level]
    return {"mentions": [level.mention], "escalation": {"level": step.level, "reason": step.reason.value}}


def _opening_mentions(snapshot_json: str | None) -> list[str]:
    """Who the opening message pages: the primary of the frozen chain."""
    if not snapshot_json:
        return []
    snapshot = oncall.ChainSnapshot.from_json(json.loads(snapshot_json))
    step = oncall.escalation_for("opened", snapshot, False)
    return [snapshot.levels[step.level].mention] if step else []
