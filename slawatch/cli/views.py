"""How tickets are shown: JSON, the table of `tickets list`, the text of `tickets show`.

Outcomes (met / breached / pending) come from `sla.outcomes`, the rule the monthly
report counts by, so a ticket reads the same in both. Text output is terminal-safe
(`terminal.safe`) and aligned by display width; JSON is ASCII with every other
character escaped, so it is safe too, and exact.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Iterator

from slawatch.cli.terminal import safe, table
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
        "service": t.service if t.service is not None else t.labels.get("service"),
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
        "response": judged_now.response.value,
        "recovery": judged_now.recovery.value,
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


def json_array(items: Iterable[Any]) -> Iterator[str]:
    """A JSON array written element by element (as `render_json` would indent it), so a
    list of any length is never held in memory."""
    first = True
    for item in items:
        yield ("[\n" if first else ",\n") + "  " + json.dumps(item, indent=2).replace("\n", "\n  ")
        first = False
    yield "[]" if first else "\n]"


def json_lines(items: Iterable[Any]) -> Iterator[str]:
    """One compact JSON object per line."""
    return (json.dumps(item, separators=(",", ":")) for item in items)


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


HEADER = ("ID", "PRI", "STATUS", "RULE", "SERVICE", "OPENED (UTC)", "RESPONSE", "RECOVERY", "SUMMARY")


def render_table(rows: Iterable[TicketRow], now: datetime) -> str:
    body = []
    for t in rows:
        judged_now = judged(t, now)
        service = t.service if t.service is not None else t.labels.get("service", "")
        body.append((
            str(t.id), t.priority, t.status, t.rule, service or "-", _fmt(t.opened_at),
            judged_now.response.value, judged_now.recovery.value, t.annotations.get("summary", ""),
        ))
    return table(HEADER, body)


def footer(shown: int, total: int) -> str:
    """What a truncated listing says below itself."""
    return f"showing {shown:,} of {total:,} (--limit to see more)"


def _labels(labels: dict[str, str]) -> str:
    return ", ".join(f'{safe(k)}="{safe(v)}"' for k, v in labels.items())


def render_detail(d: dict[str, Any]) -> str:
    def at(key: str) -> str:
        return d[key] or "-"

    annotations = d["annotations"]
    lines = [
        f"Ticket {d['id']}  {d['priority']}  {d['status']}  {safe(d['rule'])}",
        f"  summary:      {safe(annotations.get('summary', ''))}",
        "  labels:       " + _labels(d["labels"]),
        f"  service:      {safe(d['service'] or '-')}",
        f"  opened:       {d['opened_at']}",
        f"  response:     {d['response']}, due {d['response_due']}",
        f"  recovery:     {d['recovery']}, due {d['recovery_due']}",
        f"  acknowledged: {at('acknowledged_at')} by {safe(d['acknowledged_by'] or '-')}",
        f"  recovered:    {at('recovered_at')}",
        f"  resolved:     {at('resolved_at')} ({d['resolution'] or '-'})"
        + (f" by {safe(d['resolved_by'])}" if d["resolved_by"] else ""),
        f"  series:       {len(d['series'])}",
    ]
    lines += [f"    {_labels(series)}" for series in d["series"][:20] if len(d["series"]) > 1]
    if len(d["series"]) > 20:
        lines.append(f"    ... and {len(d['series']) - 20:,} more (--format json shows all)")
    others = {k: v for k, v in annotations.items() if k != "summary"}
    if others:
        lines.append("  annotations:")
        lines += [f"    {safe(k)}: {safe(v)}" for k, v in others.items()]
    lines.append("  timeline:")
    for e in d["timeline"]:
        extra = " ".join(f"{safe(k)}={safe(str(v))}" for k, v in e.get("detail", {}).items())
        lines.append(f"    {e['at']}  {e['kind']:<20} {safe(e['actor'] or '')} {extra}".rstrip())
    return "\n".join(lines)
