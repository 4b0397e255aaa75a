"""Monitoring blindness as an alert: a rule that fires while Prometheus cannot be reached.

No data is never a recovery, so while queries fail nothing resolves; but a sustained
outage must not stay silent either. `ReachabilityTracker` counts consecutive ticks of the
user's groups that could not reach Prometheus, and the internal group's one rule "queries"
that count instead of Prometheus, so the same state machine, tickets and notifications
handle it. Its tickets are P1 for service `slawatch`; the report counts their time as
unobserved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slawatch.model import BLIND_GROUP_KEY, BLIND_RULE, Labels, Sample
from slawatch.rules.definitions import AlertingRule, RuleGroup
from slawatch.rules.group import GroupOutcome

__all__ = ["BLIND_RULE", "ReachabilityTracker", "blind_group"]

_FILE, _, _NAME = BLIND_GROUP_KEY.partition(";")


@dataclass
class ReachabilityTracker:
    """Counts consecutive ticks that could not reach Prometheus, across the user's groups."""

    threshold: int
    consecutive_failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: GroupOutcome) -> None:
        """Called after every tick of a user group (never of the blind group itself)."""
        with self._lock:
            if outcome.unreachable:
                self.consecutive_failures += 1
            else:
                self.consecutive_failures = 0

    def samples(self, _expr: str, _at: datetime) -> list[Sample]:
        """The blind rule's 'query': one sample while the outage is sustained."""
        with self._lock:
            if self.consecutive_failures >= self.threshold:
                return [Sample(Labels(), float(self.consecutive_failures))]
            return []


def blind_group(interval: timedelta) -> RuleGroup:
    """The internal group whose one rule fires while Prometheus cannot be reached."""
    rule = AlertingRule(
        name=BLIND_RULE,
        expr="slawatch_consecutive_failed_ticks >= unreachable_after",
        labels={"priority": "P1", "severity": "error", "service": "slawatch"},
        annotations={
            "summary": "slawatch cannot reach Prometheus",
            "description": "{{ $value }} consecutive rule evaluations could not reach Prometheus; "
            "alert states are frozen until it answers again.",
        },
        file=_FILE,
    )
    group = RuleGroup(_NAME, _FILE, interval, (rule,))
    assert group.key == BLIND_GROUP_KEY
    return group
