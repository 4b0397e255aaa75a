"""The monthly SLA report as one JSON-ready dict: `build_report`.

Counting happens in SQL (`queries`), maths in `attainment` and `percentiles`; this
module decides the month, asks, and shapes the answer. The clock is a parameter (`now`).

A month is "YYYY-MM" in the configured timezone: [local midnight of the 1st, local
midnight of the next 1st), so October 2026 in Europe/Berlin has 31 days + 1 hour. A
ticket belongs to the month it was opened in, even if it is still open or recovered in
the next one. Instants in the report are ISO 8601 in that timezone.

Shape (stable; the text, markdown, html and csv renderers read it):

    {"month": "2026-10", "timezone": "Europe/Berlin", "generated_at": iso, "service": null | "name",
     "period": {"start": iso, "end": iso, "seconds": int},
     "overall": {<the keys of a priority; target and target_met are null>},
     "priorities": {"P0": {"incidents", "response_met", "response_breached", "response_pending",
                           "response_attainment", "recovery_met", "recovery_breached", "recovery_pending",
                           "recovery_attainment", "mtta_seconds", "mtta_median_seconds", "mtta_p90_seconds",
                           "mttr_seconds", "mttr_median_seconds", "mttr_p90_seconds", "target", "target_met"},
                    "P1": {...}, "P2": {...}},
     "pending": [{"ticket_id", "rule", "service", "priority", "deadline", "due"}],
     "breaches": [{"ticket_id", "rule", "service", "priority", "deadline", "due", "done_at", "late_seconds",
                   "acknowledged_by", "acknowledged_at"}],
     "worst_rules": [{"rule", "breaches"}], "worst_services": [{"service", "breaches"}],
     "services": {"api": {"incidents", "p0_incidents", "downtime_seconds", "unknown_seconds", "availability",
                          "target", "target_met", "error_budget_seconds", "error_budget_used_seconds",
                          "error_budget_used_ratio", "query_availability", "query_error"}},
     "daily": [{"date": "2026-10-01", "P0": 0, "P1": 2, "P2": 5}]}

Meaning of the figures:
- `*_met` / `*_breached` / `*_pending`: deadlines of the month's tickets, judged at
  `now` as `sla.outcomes` judges one ticket; an open ticket past its deadline
  is breached; pending ones (not yet due) are left out of the attainment and listed.
- `*_attainment` = met / (met + breached), a ratio in 0..1, null when both are 0.
  `target` is the priority's attainment target (default 0.95); `target_met` is true
  when every attainment that is not null (response, recovery) reaches it, null when
  both are null.
- `mtta_*` over acknowledged tickets (ack - open); `mttr_*` over resolved tickets with a
  recovery instant (recovery - open). Mean, and median and p90 by nearest rank (the
  ceil(q*n)-th smallest duration: an observed value, never interpolated). Seconds,
  rounded to the millisecond; null when there is no duration.
- `pending` and `breaches`: one row per pending or breached deadline (a ticket can
  have both), by ticket id. `done_at` is when a breached deadline was met late (the
  response; the recovery once the ticket is resolved), null while it is not;
  `late_seconds` is done_at - due, or now - due while not done. `worst_*`: the top 10
  rules / services (a ticket without a service is left out) by breached deadlines.
  Tickets of the monitoring-blind rule are P1 tickets of service "slawatch" and count
  like any other.
- `services`: every service (the `service` label) with a ticket in the month, a P0
  outage overlapping it, or a configured target. Downtime is the union of its P0
  tickets' [opened, recovered or now) intervals clipped to the month, minus the time
  slawatch could not reach Prometheus (tickets of the SlawatchPrometheusUnreachable
  rule), which is `unknown_seconds`: neither up nor down. availability = 1 - downtime /
  (month - unknown); the error budget is (1 - target) of that observed time, and
  `error_budget_used_ratio` may exceed 1. `query_availability` is the service's
  `availability_query` averaged over the month by Prometheus, when one is configured
  and a query function is given; if the query fails, it is null and `query_error` says why.
- `daily`: tickets opened per local day and priority.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from slawatch.model import BLIND_GROUP_KEY, BLIND_RULE, Sample
from slawatch.report import attainment, percentiles
from slawatch.report import queries as rq
from slawatch.report.percentiles import Target
from slawatch.report.queries import BREACHED, PENDING, PRIORITIES, Window

UTC = dt_timezone.utc
DEFAULT_PRIORITY_TARGET = 0.95

QueryFn = Callable[[str, datetime], Sequence[Sample]]
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ServiceTarget:
    """A service's availability objective (config: sla.services.NAME)."""

    availability_target: float = 0.999
    availability_query: str | None = None  # PromQL ratio of good to total, optional


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of "YYYY-MM" in `timezone`, as aware UTC datetimes."""
    match = _MONTH.match(month)
    if not match:
        raise ValueError(f"month: expected YYYY-MM, got {month!r}")
    year, number = int(match.group(1)), int(match.group(2))
    zone = ZoneInfo(timezone)
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    start = datetime(year, number, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(*following, 1, tzinfo=zone).astimezone(UTC)
    return start, end


def last_full_month(now: datetime, timezone: str) -> str:
    """The month before the one `now` falls in, in `timezone`: what `--month` reports by default."""
    local = now.astimezone(ZoneInfo(timezone))
    year, number = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year:04d}-{number:02d}"


def build_report(
    conn: Connection,
    month: str,
    *,
    targets: Mapping[str, ServiceTarget],
    priority_targets: Mapping[str, float],
    timezone: str,
    now: datetime,
    service: str | None = None,
    query: QueryFn | None = None,
) -> dict[str, Any]:
    """The report for `month`, judged at `now`, optionally for one service only."""
    start, end = month_bounds(month, timezone)
    zone = ZoneInfo(timezone)
    w = Window(start, end, now.astimezone(UTC), service)
    iso = _iso(zone)
    rq.prepare(conn)
    counts = rq.priority_counts(conn, w)
    wanted = percentiles.targets(rq.METRICS, (*PRIORITIES, None))
    sampled = rq.sample(conn, w, percentiles.sample_step(sum(counts.values())))
    scanned = rq.scan(conn, w, percentiles.bands(sampled, rq.METRICS, wanted))
    sums = scanned.durations
    ranks = percentiles.ranks({x: _count(sums, x.metric, x.group) for x in wanted})
    issues = rq.issues(conn, w, scanned, percentiles.offsets(ranks, scanned.below))
    found = percentiles.settle(ranks, issues.picks, lambda x, rank: rq.exact_percentile(conn, w, x, rank))
    priorities = {
        p: _attainment(p, counts.get(p, 0), sums[p], issues, found, priority_targets.get(p, DEFAULT_PRIORITY_TARGET))
        for p in PRIORITIES
    }
    return {
        "month": month,
        "timezone": timezone,
        "generated_at": iso(w.now),
        "service": service,
        "period": {"start": iso(start), "end": iso(end), "seconds": int((end - start).total_seconds())},
        "overall": _overall(counts, sums, issues, found),
        "priorities": priorities,
        "pending": [_pending(i, iso) for i in issues.items if i.state == PENDING],
        "breaches": [_breach(i, iso) for i in issues.items if i.state == BREACHED],
        "worst_rules": [{"rule": r, "breaches": n} for r, n in issues.worst_rules],
        "worst_services": [{"service": s, "breaches": n} for s, n in issues.worst_services],
        "services": _services(conn, w, targets, query),
        "daily": _daily(conn, w, zone),
    }


def _iso(zone: ZoneInfo) -> Callable[[datetime | None], str | None]:
    return lambda value: None if value is None else value.astimezone(zone).isoformat()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _count(sums: Mapping[str, rq.Durations], metric: str, group: str | None) -> int:
    """How many `metric` durations `group` (a priority, None = all) has."""
    return sum(getattr(d, f"{metric}_n") for p, d in sums.items() if group in (None, p))


def _figures(
    incidents: int, issues: rq.Issues, group: str | None, sums: Mapping[str, rq.Durations],
    values: Mapping[Target, float | None],
) -> dict[str, Any]:
    out: dict[str, Any] = {"incidents": incidents}
    for deadline in ("response", "recovery"):
        breached = sum(n for (p, d, s), n in issues.counts.items() if d == deadline and s == BREACHED and group in (None, p))
        pending = sum(n for (p, d, s), n in issues.counts.items() if d == deadline and s == PENDING and group in (None, p))
        met = incidents - breached - pending
        out.update({
            f"{deadline}_met": met, f"{deadline}_breached": breached, f"{deadline}_pending": pending,
            f"{deadline}_attainment": attainment.ratio(met, breached),
        })
    for metric in rq.METRICS:
        total = sum(getattr(d, f"{metric}_sum") for p, d in sums.items() if group in (None, p))
        out[f"{metric}_seconds"] = _ms(attainment.mean(total, _count(sums, metric, group)))
        for quantile in percentiles.QUANTILES:
            out[f"{metric}_{quantile}_seconds"] = _ms(values.get(Target(metric, group, quantile)))
    return out


def _attainment(
    priority: str, incidents: int, durations: rq.Durations, issues: rq.Issues,
    values: Mapping[Target, float | None], target: float,
) -> dict[str, Any]:
    out = _figures(incidents, issues, priority, {priority: durations}, values)
    judged = [attainment.target_met(out[k], target) for k in ("response_attainment", "recovery_attainment")]
    decided = [j for j in judged if j is not None]
    return {**out, "target": target, "target_met": all(decided) if decided else None}


def _overall(
    counts: Mapping[str, int], sums: Mapping[str, rq.Durations], issues: rq.Issues,
    values: Mapping[Target, float | None],
) -> dict[str, Any]:
    out = _figures(sum(counts.get(p, 0) for p in PRIORITIES), issues, None, sums, values)
    return {**out, "target": None, "target_met": None}


def _pending(item: rq.Item, iso: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    return {
        "ticket_id": item.ticket_id, "rule": item.rule, "service": item.service, "priority": item.priority,
        "deadline": item.deadline, "due": iso(item.due),
    }


def _breach(item: rq.Item, iso: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    return {
        **_pending(item, iso), "done_at": iso(item.done_at), "late_seconds": _ms(item.late_seconds),
        "acknowledged_by": item.acknowledged_by, "acknowledged_at": iso(item.acknowledged_at),
    }


def _services(
    conn: Connection, w: Window, targets: Mapping[str, ServiceTarget], query: QueryFn | None
) -> dict[str, dict[str, Any]]:
    """Availability per service. P0 outages of a month are few (one row each), so they are
    fetched and merged per service here; every ticket count comes from SQL."""
    counts = rq.service_counts(conn, w)
    outages: dict[str, list[attainment.Interval]] = {}
    for name, opened, recovered in rq.p0_intervals(conn, w):
        if name is not None:
            outages.setdefault(name, []).append((opened, recovered))
    blind = attainment.clip(rq.blind_intervals(conn, w, BLIND_RULE, BLIND_GROUP_KEY), w.start, w.end)
    names = {w.service} if w.service is not None else set(counts) | set(outages) | set(targets)
    period, unknown = (w.end - w.start).total_seconds(), attainment.seconds(blind)
    out = {}
    for name in sorted(names):
        target = targets.get(name, ServiceTarget())
        down = attainment.seconds(attainment.subtract(attainment.clip(outages.get(name, []), w.start, w.end), blind))
        value = attainment.availability(down, period, unknown)
        budget = attainment.error_budget(target.availability_target, period, unknown, down)
        measured, error = _query_availability(target.availability_query, w, query)
        incidents, p0 = counts.get(name, (0, 0))
        out[name] = {
            "incidents": incidents, "p0_incidents": p0, "downtime_seconds": _ms(down), "unknown_seconds": _ms(unknown),
            "availability": value, "target": target.availability_target,
            "target_met": attainment.target_met(value, target.availability_target),
            "error_budget_seconds": _ms(budget.budget_seconds), "error_budget_used_seconds": _ms(budget.used_seconds),
            "error_budget_used_ratio": budget.used_ratio, "query_availability": measured, "query_error": error,
        }
    return out


def _query_availability(expr: str | None, w: Window, query: QueryFn | None) -> tuple[float | None, str | None]:
    """The configured ratio averaged by Prometheus over the month (up to `now` for the
    current month), as a subquery at one-minute resolution evaluated at its end."""
    if expr is None or query is None:
        return None, None
    at = min(w.end, w.now)
    span = int((at - w.start).total_seconds())
    if span <= 0:
        return None, "the month has not started"
    try:
        samples = query(f"avg_over_time(({expr})[{span}s:1m])", at)
    except Exception as exc:  # noqa: BLE001 - any failure of the query is reported, not raised
        return None, str(exc) or type(exc).__name__
    if len(samples) != 1:
        return None, f"expected one series, got {len(samples)}"
    value = samples[0].value
    return (None, "not a number") if math.isnan(value) else (value, None)


def _daily(conn: Connection, w: Window, zone: ZoneInfo) -> list[dict[str, Any]]:
    first = w.start.astimezone(zone).date()
    days: list[date] = []
    while (day := first + timedelta(days=len(days))) < w.end.astimezone(zone).date():
        days.append(day)
    starts = [datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC) for d in days]
    out = [{"date": d.isoformat(), **{p: 0 for p in PRIORITIES}} for d in days]
    for index, priority, n in rq.daily_counts(conn, w, starts):
        out[index][priority] = n
    return out
