"""slawatch's own metrics, named after Prometheus' rule-manager metrics where they match.

One registry per daemon, built by the composition root and passed down; nothing here
is global, so tests can build as many daemons as they like.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
