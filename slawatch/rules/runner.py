"""Runs ticks of one rule group: evaluate, persist, log, count.

The runner owns the group's in-memory alert state and the last state known to be in
the database. A failed database write keeps both, so the next tick writes the whole
difference: a brief database outage loses nothing and needs no restart. Evaluation is
a callable handed in (`group.GroupEvaluator` in the daemon, a plain function in tests),
so the runner is testable with a real database and no Prometheus.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from slawatch.incidents import reconcile as incidents
from slawatch.incidents.ports import Announcer
from slawatch.metrics import Metrics
from slawatch.model import Alert, EventKind
from slawatch.rules import alerting
from slawatch.rules.definitions import RuleGroup
from slawatch.rules.group import GroupOutcome, GroupState
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import alert_states


@dataclass(frozen=True)
class TicketPolicy:
    """The policies new tickets are opened under; swapped as a whole on reload."""

    sla: SlaPolicy
    classification: Classification
    announcer: Announcer | None = None


Evaluate = Callable[[RuleGroup, GroupState, datetime], GroupOutcome]
"""One tick's evaluation: the group, its previous state, the evaluation instant."""


class GroupRunner:
    """Owns one group's state between ticks; `tick(at)` is what the scheduler calls."""

    def __init__(
        self,
        group: RuleGroup,
        engine: Engine,
        evaluate: Evaluate,
        metrics: Metrics,
        policy: TicketPolicy,
        on_outcome: Callable[[GroupOutcome], None] | None = None,
    ) -> None:
        self.group = group
        self.policy = policy
        self._engine = engine
        self._evaluate = evaluate
        self._metrics = metrics
        self._on_outcome = on_outcome
        self._state: dict[str, dict[str, Alert]] = {}
        self._persisted: dict[str, dict[str, Alert]] = {}
        self._lock = threading.Lock()  # reload may swap the group while a tick runs
        self.last_tick_at: float | None = None  # monotonic end of the last tick, for /readyz
        self.log = structlog.get_logger().bind(group=group.name, file=group.file)

    def restore(self, now: datetime, tolerance: timedelta) -> int:
        """Load persisted state (after a restart); stale state past `tolerance` is dropped."""
        with self._engine.connect() as conn:
            loaded = alert_states.load_group(conn, self.group.key)
        keys = {r.key for r in self.group.rules}
        self._persisted = loaded
        self._state = {k: alerting.restore(v, now, tolerance) for k, v in loaded.items() if k in keys}
        return sum(len(v) for v in self._state.values())

    def adopt(self, group: RuleGroup, now: datetime | None = None, tolerance: timedelta | None = None) -> None:
        """Take a reloaded definition of this group, keeping state of rules that remain.

        With `now` and `tolerance`, a rule new to this group (one moved here from another
        group) resumes the state persisted for it, as `restore` does after a restart.
        """
        with self._lock:
            keys = {r.key for r in group.rules}
            added = keys - {r.key for r in self.group.rules}
            self.group = group
            self._state = {k: v for k, v in self._state.items() if k in keys}
            if not added or now is None or tolerance is None:
                return
            try:
                with self._engine.connect() as conn:
                    loaded = alert_states.load_group(conn, group.key)
            except SQLAlchemyError as exc:
                self.log.error("alert_state_restore_failed", error=str(exc.__cause__ or exc).splitlines()[0])
                return
            for key in added & loaded.keys():
                self._persisted[key] = loaded[key]
                self._state[key] = alerting.restore(loaded[key], now, tolerance)

    def tick(self, at: datetime) -> GroupOutcome:
        with self._lock:
            started = time.monotonic()
            outcome = self._evaluate(self.group, self._state, at)
            self._state = outcome.state
            if self._on_outcome is not None:
                self._on_outcome(outcome)
            written = self._persist(outcome)
            self._observe(outcome, time.monotonic() - started, written)
            self.last_tick_at = time.monotonic()
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
        for adopted in applied.adopted:
            self.log.info(
                "ticket_adopted", ticket_id=adopted.ticket_id, rule=adopted.rule_key,
                from_group_key=adopted.from_group_key, group_key=adopted.group_key,
            )
        for incident in applied.conflicts:
            self.log.warning(
                "ticket_open_conflict", rule=incident.rule.name, identity=incident.identity,
                fingerprint=incident.series[0].fingerprint,
            )
        for event in applied.events:
            if event.kind is not EventKind.OPENED:
                self.log.info("ticket_" + event.kind.value, ticket_id=event.ticket_id)
        return written

    def forget(self) -> None:
        """The group was removed by a reload: drop its metric series, as Prometheus' manager does."""
        self._metrics.forget_group(self.group.name)

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
