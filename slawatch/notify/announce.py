"""What to announce, decided inside the transaction that changed the ticket.

`Announcer` turns ticket changes into outbox rows: an opening message per new ticket
(or one digest when more than `digest_threshold` open in one tick for one channel), a
thread reply for every later event, and a chat.update of the opening message so it
shows the current status. Deadline events carry who to mention, from the escalation
chain frozen on the ticket at open. Nothing here talks to Slack: the dispatcher sends.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, select

from slawatch import oncall
from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.store import outbox as store
from slawatch.store.schema import tickets

# (deadline, event kind) -> the escalation event of the on-call chain
_ESCALATION_EVENTS: dict[tuple[str, str], oncall.EscalationEvent] = {
    ("response", "deadline_warning"): "response_warning",
    ("response", "deadline_breached"): "response_breach",
    ("recovery", "deadline_warning"): "recovery_warning",
    ("recovery", "deadline_breached"): "recovery_breach",
}


@dataclass(frozen=True)
class Announcer:
    slack: SlackSettings
    oncall: OncallSettings

    def ticket_fields(self, labels: Mapping[str, str], at: datetime) -> dict[str, Any]:
        """Routing and the on-call snapshot, stored on a ticket when it opens."""
        chain = self.oncall.chain(labels.get(self.oncall.team_label))
        snapshot = oncall.snapshot_chain(chain, self.oncall.rotations(), at).to_json() if chain else None
        return {"channel": self.slack.channel_for(labels), "escalation": json.dumps(snapshot) if snapshot else None}

    def opened(self, conn: Connection, opened: Sequence[tuple[int, str]], at: datetime) -> None:
        """One opening message per ticket, or one digest per channel in a storm."""
        by_channel: dict[str, list[int]] = defaultdict(list)
        for ticket_id, channel in opened:
            by_channel[channel].append(ticket_id)
        rows = []
        for channel, ids in by_channel.items():
            if len(ids) > self.slack.digest_threshold:
                rows.append(
                    {"ticket_id": None, "kind": "digest", "channel": channel, "payload": {"ticket_ids": ids},
                     "dedup_key": f"digest:{ids[0]}:{len(ids)}"}
                )
            else:
                rows.extend(
                    {"ticket_id": t, "kind": "opening", "channel": channel, "payload": {}, "dedup_key": f"open:{t}"}
                    for t in ids
                )
        store.add(conn, rows, at)

    def events(self, conn: Connection, events: Sequence[Mapping[str, Any]], at: datetime) -> None:
        """A thread reply (with escalation mentions) and a status update per event."""
        events = [e for e in events if e["kind"] != "opened"]
        if not events:
            return
        ids = sorted({e["ticket_id"] for e in events})
        info = {
            r.id: r
            for r in conn.execute(
                select(tickets.c.id, tickets.c.channel, tickets.c.escalation, tickets.c.acknowledged_at)
                .where(tickets.c.id.in_(ids))
            )
        }
        rows = []
        for e in events:
            ticket = info[e["ticket_id"]]
            if ticket.channel is None:
                continue  # opened before notifications existed
            detail = json.loads(e["detail"]) if isinstance(e["detail"], str) else dict(e["detail"])
            stamp = e["at"].isoformat()
            payload = {
                "kind": e["kind"], "at": stamp, "actor": e.get("actor"), "detail": detail,
                **_escalation(ticket.escalation, e["kind"], detail, ticket.acknowledged_at is not None),
            }
            key = f"{e['ticket_id']}:{e['kind']}:{detail.get('deadline', '')}:{stamp}"
            rows.append({"ticket_id": e["ticket_id"], "kind": "event", "channel": ticket.channel,
                         "payload": payload, "dedup_key": f"event:{key}"})
            rows.append({"ticket_id": e["ticket_id"], "kind": "update", "channel": ticket.channel,
                         "payload": {}, "dedup_key": f"update:{key}"})
        store.add(conn, rows, at)


def _escalation(snapshot_json: str | None, kind: str, detail: Mapping[str, Any], acknowledged: bool) -> dict[str, Any]:
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


def opening_mentions(snapshot_json: str | None) -> list[str]:
    """Who the opening message pages: the primary of the frozen chain."""
    if not snapshot_json:
        return []
    snapshot = oncall.ChainSnapshot.from_json(json.loads(snapshot_json))
    step = oncall.escalation_for("opened", snapshot, False)
    return [snapshot.levels[step.level].mention] if step else []
