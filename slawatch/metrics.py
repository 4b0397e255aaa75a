"""slawatch's own metrics, named after Prometheus' rule-manager metrics where they match.

One registry per daemon, built by the composition root and passed down; nothing here
is global, so tests can build as many daemons as they like.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slawatch.model import AlertState, FailureKind

MISSED_REASONS = ("misfire", "previous_tick_running")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.iterations = Counter(
            "slawatch_rule_group_iterations", "Rule group evaluations run.", ["group"], registry=r
        )
        self.iterations_missed = Counter(
            "slawatch_rule_group_iterations_missed",
            "Rule group ticks skipped: too late (misfire) or the previous tick still running.",
            ["group", "reason"],
            registry=r,
        )
        self.tick_lag = Histogram(
            "slawatch_rule_group_tick_lag_seconds",
            "Delay between a tick's scheduled time and its start.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60),
            registry=r,
        )
        self.tick_duration = Histogram(
            "slawatch_rule_group_duration_seconds", "Duration of a rule group evaluation.", registry=r
        )
        self.query_failures = Counter(
            "slawatch_rule_evaluation_failures", "Rule queries that failed.", ["group", "kind"], registry=r
        )
        self.alerts = Gauge("slawatch_alerts", "Active alerts by state.", ["group", "state"], registry=r)
        self.state_write_failures = Counter(
            "slawatch_state_write_failures", "Ticks whose alert state could not be persisted.", registry=r
        )
        self.config_reloads = Counter(
            "slawatch_config_reloads", "Reloads by outcome.", ["outcome"], registry=r
        )
        self.notifications_sent = Counter(
            "slawatch_notifications_sent", "Notifications delivered to Slack.", ["channel", "kind"], registry=r
        )
        self.notification_failures = Counter(
            "slawatch_notification_failures", "Failed delivery attempts by reason and Slack error.",
            ["channel", "reason", "error"], registry=r,
        )
        self.dead_letters = Counter(
            "slawatch_notification_dead_letters", "Notifications given up on (dead-lettered).", ["channel"], registry=r
        )
        self.send_seconds = Histogram(
            "slawatch_notification_send_seconds", "Duration of one delivery attempt that succeeded (the Slack calls).",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r,
        )
        self.delivery_seconds = Histogram(
            "slawatch_notification_delivery_seconds", "Time from queuing a notification to its delivery.",
            buckets=(0.1, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600), registry=r,
        )

    def watch_outbox(self, figures: Callable[[], Sequence[Any]], clock: Callable[[], datetime]) -> None:
        """Outbox rows by status and channel, and the oldest undelivered age, read at scrape time."""
        self.registry.register(_OutboxCollector(figures, clock))

    def forget_group(self, group: str) -> None:
        """Remove every series labelled with a group that no longer exists."""
        series = [
            (self.iterations, (group,)),
            *((self.alerts, (group, s.value)) for s in (AlertState.PENDING, AlertState.FIRING)),
            *((self.iterations_missed, (group, reason)) for reason in MISSED_REASONS),
            *((self.query_failures, (group, kind.value)) for kind in FailureKind),
        ]
        for metric, labels in series:
            try:
                metric.remove(*labels)
            except KeyError:
                pass  # never observed


class _OutboxCollector(Collector):
    """One GROUP BY over the outbox per scrape; a database error yields no outbox series."""

    def __init__(self, figures: Callable[[], Sequence[Any]], clock: Callable[[], datetime]) -> None:
        self._figures, self._clock = figures, clock

    def collect(self) -> Iterable[GaugeMetricFamily]:
        rows = GaugeMetricFamily("slawatch_outbox_rows", "Outbox rows by status and channel.", labels=["status", "channel"])
        oldest = GaugeMetricFamily(
            "slawatch_outbox_oldest_undelivered_seconds", "Age of the oldest pending or sending row, per channel.",
            labels=["channel"],
        )
        try:
            figures = self._figures()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            figures = []
        now = self._clock()
        ages: dict[str, float] = {}
        for f in figures:
            rows.add_metric([str(f.status), f.channel], f.rows)
            if str(f.status) in ("pending", "sending") and f.oldest is not None:
                ages[f.channel] = max(ages.get(f.channel, 0.0), (now - f.oldest).total_seconds())
        for channel, age in ages.items():
            oldest.add_metric([channel], age)
        yield rows
        yield oldest
