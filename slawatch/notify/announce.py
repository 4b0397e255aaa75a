"""What to announce, decided inside the transaction that changed the ticket.

`Announcer` turns ticket changes into outbox rows: an opening message per new ticket
(or one digest when more than `digest_threshold` open in one tick for one channel), a
thread reply for every later event, and a chat.update of the opening message so it
shows the current status. Every row carries whom it mentions, decided here, so the
sending side only renders and sends. Nothing here talks to Slack: the dispatcher does.

Whom: the escalation policy frozen on the ticket at open (`slawatch.escalation`). The
opening message names who the first step reached at the opening. Each later step is an
`escalated` timeline event, recorded with who it reached when it fired; it is announced
once: a step the SLA moved rides on its deadline warning's or breach's reply, an `after`
step gets its own reply, the first step is the opening message itself. A step that
notifies a channel also posts in that channel (with the ticket's buttons).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection

from slawatch import escalation
from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.escalation import Trigger, deadline_trigger, stored_policy
from slawatch.incidents.ports import OpenedTicket, Routing
from slawatch.model import EventKind, NotificationKind, TimelineEvent
from slawatch.sla.deadlines import DeadlineEventKind, DeadlineKind
from slawatch.store import outbox as store
from slawatch.store import tickets as tickets_store
from slawatch.store.outbox import NewNotification
from slawatch.store.tickets import Announced

__all__ = ["Announcer", "sla_trigger"]

_DEADLINES = frozenset(kind.value for kind in DeadlineKind)
# What a thread reply says about the step it announces (from the `escalated` detail).
_SHOWN = ("level", "steps", "cycle", "reason", "target", "notified", "skipped", "trigger")


def sla_trigger(event: TimelineEvent) -> Trigger | None:
    """The escalation trigger a deadline warning or breach is, else None."""
    deadline = event.detail.get("deadline")
    if event.kind not in (EventKind.DEADLINE_WARNING, EventKind.DEADLINE_BREACHED) or deadline not in _DEADLINES:
        return None
    return deadline_trigger(DeadlineKind(deadline), DeadlineEventKind(event.kind.value))


@dataclass(frozen=True)
class Announcer:
    """The `incidents.ports.Announcer` that writes Slack notifications to the outbox."""

    slack: SlackSettings
    oncall: OncallSettings

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        """The channel, and the team's policy frozen with its rotations (not its people)."""
        policy = self.oncall.policy(labels.get(self.oncall.team_label))
        return Routing(self.slack.channel_for(labels), json.dumps(policy.to_json()) if policy else None)

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
                payload = {"ticket_ids": ids, "mentions": _opening_mentions(info[ids[0]])}
                urgent = min((info[t].priority for t in ids), key=lambda p: p.value)
                key = f"digest:{ids[0]}:{len(ids)}"
                rows.append(NewNotification(None, NotificationKind.DIGEST, channel, payload, key, urgent))
            else:
                rows.extend(
                    NewNotification(
                        t, NotificationKind.OPENING, channel, {"mentions": _opening_mentions(info[t])},
                        f"open:{t}", info[t].priority,
                    )
                    for t in ids
                )
        store.add(conn, rows, at)

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        """A thread reply (naming whom a step reached) and a status update per event."""
        events = [e for e in events if e.kind is not EventKind.OPENED]
        if not events:
            return
        info = tickets_store.announced(conn, [e.ticket_id for e in events])
        deadline_replies = {(e.ticket_id, sla_trigger(e)) for e in events if sla_trigger(e) is not None}
        steps = {
            (e.ticket_id, Trigger(e.detail["trigger"])): e for e in events
            if e.kind is EventKind.ESCALATED and (e.ticket_id, Trigger(e.detail["trigger"])) in deadline_replies
        }
        rows = []
        for e in events:
            ticket = info[e.ticket_id]
            if ticket.channel is None:
                continue  # opened before notifications existed
            if e.kind is EventKind.ESCALATED:
                rows.extend(_channel_post(e, ticket))
                if not _own_reply(e, ticket, steps):
                    continue
                step: TimelineEvent | None = e
            else:
                trigger = sla_trigger(e)
                step = steps.get((e.ticket_id, trigger)) if trigger is not None else None
                if step is not None and _moot(step, ticket):
                    step = None
            stamp = e.at.isoformat()
            payload = {
                "kind": e.kind.value, "at": stamp, "actor": e.actor, "detail": dict(e.detail), **_mentions(step),
            }
            key = f"{e.ticket_id}:{e.kind.value}:{e.detail.get('key', e.detail.get('deadline', ''))}:{stamp}"
            rows.append(
                NewNotification(e.ticket_id, NotificationKind.EVENT, ticket.channel, payload, f"event:{key}", ticket.priority)
            )
            update = {"mentions": _opening_mentions(ticket)}
            rows.append(
                NewNotification(e.ticket_id, NotificationKind.UPDATE, ticket.channel, update, f"update:{key}", ticket.priority)
            )
        store.add(conn, rows, at)


def _channel_post(step: TimelineEvent, ticket: Announced) -> list[NewNotification]:
    """A step that notifies a channel (other than the ticket's own) posts there too: a link
    in the thread would notify nobody."""
    notified = step.detail.get("notified")
    if not notified or notified["kind"] != "channel" or notified["target"] == ticket.channel or _moot(step, ticket):
        return []
    payload = {"kind": step.kind.value, "at": step.at.isoformat(), "actor": None, "detail": dict(step.detail),
               **_mentions(step)}
    key = f"escalation:{step.ticket_id}:{step.detail['key']}"
    return [NewNotification(step.ticket_id, NotificationKind.ESCALATION, notified["target"], payload, key, ticket.priority)]


def _own_reply(event: TimelineEvent, ticket: Announced, paired: Mapping[tuple[int, Trigger], TimelineEvent]) -> bool:
    """Whether an `escalated` event gets a reply of its own."""
    trigger = Trigger(event.detail["trigger"])
    if trigger is Trigger.OPENED:
        return False  # the opening message named them
    if paired.get((event.ticket_id, trigger)) is event:
        return False  # rides on its deadline event's reply
    return not _moot(event, ticket)


def _moot(step: TimelineEvent, ticket: Announced) -> bool:
    """A response-track step recorded after the ticket was acknowledged pages nobody."""
    return ticket.acknowledged_at is not None and Trigger(step.detail["trigger"]) in escalation.RESPONSE_TRACK


def _mentions(step: TimelineEvent | None) -> dict[str, Any]:
    """Whom a reply mentions, and what it says about the step, from the recorded step."""
    if step is None:
        return {"mentions": []}
    notified = step.detail.get("notified")
    shown = {k: step.detail[k] for k in _SHOWN if k in step.detail}
    return {"mentions": [notified["mention"]] if notified else [], "escalation": shown}


def _opening_mentions(ticket: Announced) -> list[str]:
    """Who the opening message pages: whom the first step reached when the ticket opened."""
    policy = stored_policy(ticket.escalation)
    if policy is None:
        return []
    _, notified, _ = escalation.reach(policy, 0, ticket.opened_at)
    return [notified.mention] if notified else []
