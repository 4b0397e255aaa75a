"""Runs ticks of one rule group: evaluate, persist, log, count.

The runner owns the group's in-memory alert state and the last state known to be in
the database. A failed database write keeps both, so the next tick writes the whole
difference: a brief database outage loses nothing and needs no restart.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from slawatch.incidents import reconcile as incidents
from slawatch.incidents.ports import Announcer
from slawatch.metrics import Metrics
from slawatch.model import Alert, EventKind, Labels, Sample
from slawatch.rules import alerting
from slawatch.rules.alerting import TemplateContext
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import GroupOutcome, QueryFn, evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import alert_states

BLIND_RULE = "SlawatchPrometheusUnreachable"
BLIND_GROUP_FILE = "<slawatch>"


@dataclass
class ReachabilityTracker:
    """Counts consecutive ticks that could not reach Prometheus, across all groups."""

    threshold: int
    consecutive_failures: int = 0
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: GroupOutcome) -> None:
        with self._lock:
            if outcome.unreachable:
                self.consecutive_failures += 1
                self.last_error = next(f.message for f in outcome.failures if f.kind.value == "unreachable")
            elif outcome.group.file != BLIND_GROUP_FILE:
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
        file=BLIND_GROUP_FILE,
    )
    return RuleGroup("slawatch-internal", BLIND_GROUP_FILE, interval, (rule,))


@dataclass(frozen=True)
class TicketPolicy:
    """The policies new tickets are opened under; swapped as a whole on reload."""

    sla: SlaPolicy
    classification: Classification
    announcer: Announcer | None = None


class GroupRunner:
    """Owns one group's state between ticks; `tick(at)` is what the scheduler calls."""

    def __init__(
        self,
        group: RuleGroup,
        engine: Engine,
        query: QueryFn,
        pool: Executor,
        metrics: Metrics,
        tracker: ReachabilityTracker,
        policy: TicketPolicy,
        context: TemplateContext = alerting.NO_CONTEXT,
    ) -> None:
        self.group = group
        self.policy = policy
        self._engine = engine
        self._query = query
        self._pool = pool
        self._metrics = metrics
        self._tracker = tracker
        self._context = context
        self._state: dict[str, dict[str, Alert]] = {}
        self._persisted: dict[str, dict[str, Alert]] = {}
        self._lock = threading.Lock()  # reload may swap the group while a tick runs
        self.log = structlog.get_logger().bind(group=group.name, file=group.file)

    def restore(self, now: datetime, tolerance: timedelta) -> int:
        """Load persisted state (after a restart); stale state past `tolerance` is dropped."""
        with self._engine.connect() as conn:
            loaded = alert_states.load_group(conn, self.group.key)
        keys = {r.key for r in self.group.rules}
        self._persisted = loaded
        self._state = {k: alerting.restore(v, now, tolerance) for k, v in loaded.items() if k in keys}
        return sum(len(v) for v in self._state.values())

    def adopt(self, group: RuleGroup) -> None:
        """Take a reloaded definition of this group, keeping state of rules that remain."""
        with self._lock:
            keys = {r.key for r in group.rules}
            self.group = group
            self._state = {k: v for k, v in self._state.items() if k in keys}

    def tick(self, at: datetime) -> GroupOutcome:
        with self._lock:
            started = time.monotonic()
            outcome = evaluate_group(self.group, self._state, at, self._query, self._pool, self._context)
            self._state = outcome.state
            self._tracker.record(outcome)
            written = self._persist(outcome)
            self._observe(outcome, time.monotonic() - started, written)
            return outcome

    def _persist(self, outcome: GroupOutcome) -> int | None:
        """Alert state and ticket changes of this tick, in one transaction."""
        try:
            with self._engine.begin() as conn:
                written = alert_states.save_group(conn, self.group.key, self._persisted, self._state)
                applied = incidents.reconcile(
                    conn, outcome, self.policy.sla, self.policy.classification, self.policy.announcer
                )
        except SQLAlchemyError as exc:
            self._metrics.state_write_failures.inc()
            self.log.error("tick_write_failed", error=str(exc.__cause__ or exc).splitlines()[0])
            return None
        self._persisted = {k: dict(v) for k, v in self._state.items()}
        for opened, action in applied.opened:
            self.log.info(
                "ticket_opened", ticket_id=opened.ticket_id, rule=action.incident.rule.name,
                fingerprint=action.incident.series[0].fingerprint, priority=action.priority.value,
                series=len(action.incident.series),
            )
        for event in applied.events:
            if event.kind is not EventKind.OPENED:
                self.log.info("ticket_" + event.kind.value, ticket_id=event.ticket_id)
        return written

    def _observe(self, outcome: GroupOutcome, seconds: float, written: int | None) -> None:
        name = self.group.name
        self._metrics.iterations.labels(name).inc()
        self._metrics.tick_duration.observe(seconds)
        for failure in outcome.failures:
            self._metrics.query_failures.labels(name, failure.kind.value).inc()
            self.log.warning("rule_query_failed", rule=failure.rule, kind=failure.kind.value, error=failure.message)
        for rule, t in outcome.transitions:
            self.log.info(
                "alert_" + ("resolved" if t.resolved else t.after.value),
                rule=rule.name,
                fingerprint=t.alert.fingerprint,
                labels=dict(t.alert.labels),
                active_at=t.alert.active_at.isoformat(),
            )
        pending, firing = outcome.count("pending"), outcome.count("firing")
        self._metrics.alerts.labels(name, "pending").set(pending)
        self._metrics.alerts.labels(name, "firing").set(firing)
        self.log.info(
            "group_evaluated",
            at=outcome.at.isoformat(),
            duration_ms=round(seconds * 1000, 1),
            rules=len(self.group.rules),
            pending=pending,
            firing=firing,
            failed_queries=len(outcome.failures),
            state_rows_written=written,
        )
