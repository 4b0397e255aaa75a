"""Monthly SLA maths, pure: ratios, targets, intervals, availability, budgets.

The report counts in SQL; what is left for Python is the arithmetic on those counts and
on the few intervals availability needs, all here, all without I/O or a clock.
(Percentiles have their own module, `percentiles`.)

Availability counts only time that was observed: downtime and the month both exclude
the periods in which slawatch could not reach Prometheus ("unknown"), so
availability = 1 - downtime / (month - unknown), and the error budget is the share
(1 - target) of that observed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

Interval = tuple[datetime, datetime]


def ratio(met: int, breached: int) -> float | None:
    """met / (met + breached); None when nothing was decided yet."""
    decided = met + breached
    return met / decided if decided else None


def target_met(value: float | None, target: float) -> bool | None:
    """Whether `value` reaches `target`; None when there is no value to judge."""
    return None if value is None else value >= target


def mean(total: float | None, count: int) -> float | None:
    """total / count; None when there is nothing to average."""
    return total / count if count and total is not None else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering exactly the union of the given ones.

    Intervals are half-open [start, end); empty ones are dropped, and two that touch
    (one ends where the next starts) become one.
    """
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of `intervals` inside [start, end), merged."""
    return merge((max(s, start), min(e, end)) for s, e in intervals)


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """The parts of `intervals` not covered by any of `holes`, merged."""
    out: list[Interval] = []
    cuts = merge(holes)
    for start, end in merge(intervals):
        for h_start, h_end in cuts:
            if h_end <= start or h_start >= end:
                continue
            if h_start > start:
                out.append((start, h_start))
            start = max(start, h_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return out


def seconds(intervals: Iterable[Interval]) -> float:
    """Total length of (already disjoint) intervals, in seconds."""
    return sum((end - start).total_seconds() for start, end in intervals)


def availability(down_seconds: float, period_seconds: float, unknown_seconds: float) -> float | None:
    """1 - downtime / observed time, where observed = period - unknown; None if nothing was observed."""
    observed = period_seconds - unknown_seconds
    if observed <= 0:
        return None
    return min(1.0, max(0.0, 1.0 - down_seconds / observed))


@dataclass(frozen=True)
class ErrorBudget:
    """The downtime a target allows over the observed time, and how much of it was used."""

    budget_seconds: float
    used_seconds: float
    used_ratio: float | None  # may exceed 1 when the budget is overspent; None for a zero budget


def error_budget(target: float, period_seconds: float, unknown_seconds: float, down_seconds: float) -> ErrorBudget:
    budget = max(0.0, (1.0 - target) * max(0.0, period_seconds - unknown_seconds))
    return ErrorBudget(budget, down_seconds, down_seconds / budget if budget > 0 else None)
