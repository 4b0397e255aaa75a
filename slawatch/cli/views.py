"""How a ticket is judged and shown: SLA outcomes, JSON, and the table of `tickets list`.

Outcome rules (the monthly report uses the same function):
- response is met when the first acknowledgement came by `response_due`; a ticket
  resolved before anyone acknowledged it counts as responded at its resolution;
- recovery is met when the verified recovery (first clear time) came by
  `recovery_due`; a manual resolution without a recorded clear counts at its time.
Both are None while undecided.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slawatch.sla.deadlines import recovery_met, response_met
from slawatch.store.tickets import EventRow, TicketRow


def outcomes(t: TicketRow, now: datetime) -> tuple[bool | None, bool | None]:
    """(response_met, recovery_met) at `now`."""
    resolved = t.resolved_at is not None
    responded = t.acknowledged_at or (t.resolved_at if resolved else None)
    recovered = t.recovered_at or (t.resolved_at if t.resolution == "manual" else None)
    return (
        response_met(t.deadlines(), responded, now),
        recovery_met(t.deadlines(), recovered, resolved, now),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_dict(t: TicketRow, now: datetime) -> dict[str, Any]:
    response, recovery = outcomes(t, now)
    return {
        "id": t.id,
        "priority": t.priority,
        "status": t.status,
        "rule": t.rule,
        "labels": t.labels,
        "annotations": t.annotations,
        "series_count": t.series_count,
        "opened_at": _iso(t.opened_at),
        "acknowledged_at": _iso(t.acknowledged_at),
        "acknowledged_by": t.acknowledged_by,
        "recovered_at": _iso(t.recovered_at),
        "resolved_at": _iso(t.resolved_at),
        "resolved_by": t.resolved_by,
        "resolution": t.resolution,
        "response_due": _iso(t.response_due),
        "recovery_due": _iso(t.recovery_due),
        "response_met": response,
        "recovery_met": recovery,
    }


def detail_dict(t: TicketRow, series: list[dict[str, str]], events: list[EventRow], now: datetime) -> dict[str, Any]:
    out = to_dict(t, now)
    out["series"] = series
    out["timeline"] = [
        {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, **({"detail": e.detail} if e.detail else {})}
        for e in events
    ]
    return out


def render_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def render_table(rows: list[TicketRow], now: datetime) -> str:
    header = ("ID", "PRI", "STATUS", "RULE", "OPENED (UTC)", "RESPONSE DUE", "RECOVERY DUE", "SUMMARY")
    body = [
        (str(t.id), t.priority, t.status, t.rule, _fmt(t.opened_at), _fmt(t.response_due), _fmt(t.recovery_due),
         t.annotations.get("summary", ""))
        for t in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body])


def render_detail(d: dict[str, Any]) -> str:
    lines = [
        f"Ticket {d['id']}  {d['priority']}  {d['status']}  {d['rule']}",
        f"  summary:      {d['annotations'].get('summary', '')}",
        "  labels:       " + ", ".join(f'{k}="{v}"' for k, v in d["labels"].items()),
        f"  opened:       {d['opened_at']}",
        f"  response due: {d['response_due']}  met: {d['response_met']}",
        f"  recovery due: {d['recovery_due']}  met: {d['recovery_met']}",
        f"  acknowledged: {d['acknowledged_at'] or '-'} by {d['acknowledged_by'] or '-'}",
        f"  recovered:    {d['recovered_at'] or '-'}",
        f"  resolved:     {d['resolved_at'] or '-'} ({d['resolution'] or '-'})",
        f"  series:       {len(d['series'])}",
        "  timeline:",
    ]
    for e in d["timeline"]:
        extra = " ".join(f"{k}={v}" for k, v in e.get("detail", {}).items())
        lines.append(f"    {e['at']}  {e['kind']:<20} {e['actor'] or ''} {extra}".rstrip())
    return "\n".join(lines)
