"""How tickets are shown: JSON, the table of `tickets list`, the text of `tickets show`.

Outcomes (met / breached / pending) come from `sla.outcomes`, as in the monthly report.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slawatch.model import TimelineEvent
from slawatch.sla.outcomes import Outcomes, outcomes
from slawatch.store.tickets import TicketRow


def judged(t: TicketRow, now: datetime) -> Outcomes:
    """The ticket's outcomes at `now`."""
    return outcomes(t.deadlines(), t.acknowledged_at, t.recovered_at, t.resolved_at, t.resolution, now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_dict(t: TicketRow, now: datetime) -> dict[str, Any]:
    judged_now = judged(t, now)
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
        "response_met": judged_now.response_met,
        "recovery_met": judged_now.recovery_met,
    }


def detail_dict(t: TicketRow, series: list[dict[str, str]], events: list[TimelineEvent], now: datetime) -> dict[str, Any]:
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
