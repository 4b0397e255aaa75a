"""The alert state machine, pure: evaluate(rule, samples, previous, now) -> what changed.

It mirrors Prometheus' AlertingRule.Eval (rules/alerting.go):

- every sample of the query result is one alert identity: the sample's labels without
  `__name__`, overlaid with the rule's (templated) labels and `alertname`;
- a new identity starts `pending` with `active_at = now`; it turns `firing` at the first
  evaluation where `now - active_at >= for` (so `for: 0s` fires at once);
- an identity missing from the result is dropped if pending; if firing it is resolved,
  unless `keep_firing_for` holds it: then it keeps firing until `keep_firing_for` has
  passed since the first evaluation it was missing;
- a series that comes back after resolution is a new alert with a new `active_at`.

A failed query is not an input here at all: the caller keeps `previous` unchanged, so
nothing resolves because Prometheus did not answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from slawatch.gotemplate import execute as templating
from slawatch.model import ALERTNAME, METRIC_NAME, Alert, AlertState, Labels, Sample
from slawatch.rules.definitions import AlertingRule


class DuplicateLabelsError(ValueError):
    """Two samples map to one alert identity: Prometheus fails the rule's evaluation."""


@dataclass(frozen=True)
class Transition:
    """One alert changing state; `before` is None for a new alert, `after` INACTIVE when it ends."""

    alert: Alert
    before: AlertState | None
    after: AlertState

    @property
    def resolved(self) -> bool:
        """A firing alert that stopped firing (a pending one that vanishes is not a resolution)."""
        return self.before is AlertState.FIRING and self.after is AlertState.INACTIVE


@dataclass(frozen=True)
class EvalResult:
    """Active (pending or firing) alerts after the evaluation, by fingerprint, and the changes."""

    alerts: dict[str, Alert]
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class TemplateContext:
    external_labels: Mapping[str, str]
    external_url: str = ""


NO_CONTEXT = TemplateContext({})


def alert_labels(rule: AlertingRule, sample: Sample, context: TemplateContext = NO_CONTEXT) -> Labels:
    """The identity of the alert a sample raises: series labels + rule labels + alertname."""
    overrides = {
        name: templating.expand(value, sample.labels, sample.value, context.external_labels, context.external_url)
        for name, value in rule.labels.items()
    }
    overrides[ALERTNAME] = rule.name
    return sample.labels.without(METRIC_NAME).merged(overrides)


def evaluate(
    rule: AlertingRule,
    samples: Sequence[Sample],
    previous: Mapping[str, Alert],
    now: datetime,
    context: TemplateContext = NO_CONTEXT,
) -> EvalResult:
    """Advance the rule's alerts to `now` given the query result `samples`."""
    current: dict[str, Alert] = {}
    for sample in samples:
        labels = alert_labels(rule, sample, context)
        fp = labels.fingerprint()
        if fp in current:
            raise DuplicateLabelsError(
                f"rule {rule.name}: vector contains metrics with the same labelset after applying alert labels: {labels!r}"
            )
        annotations = {
            name: templating.expand(text, sample.labels, sample.value, context.external_labels, context.external_url)
            for name, text in rule.annotations.items()
        }
        current[fp] = Alert(
            rule=rule.name,
            labels=labels,
            state=AlertState.PENDING,
            active_at=now,
            value=sample.value,
            annotations=annotations,
            last_seen_at=now,
        )

    alerts: dict[str, Alert] = {}
    transitions: list[Transition] = []
    for fp, old in previous.items():
        if fp in current:
            continue
        kept = _keep_firing(rule, old, now)
        if kept is not None:
            alerts[fp] = kept
        else:
            gone = replace(old, state=AlertState.INACTIVE, resolved_at=now)
            transitions.append(Transition(gone, old.state, AlertState.INACTIVE))
    for fp, new in current.items():
        old = previous.get(fp)
        if old is None:
            alert, before = new, None
        else:
            alert = replace(old, value=new.value, annotations=new.annotations, keep_firing_since=None, last_seen_at=now)
            before = old.state
        if alert.state is AlertState.PENDING and now - alert.active_at >= rule.for_:
            alert = replace(alert, state=AlertState.FIRING, fired_at=now)
        alerts[fp] = alert
        if before is not alert.state:
            transitions.append(Transition(alert, before, alert.state))
    return EvalResult(alerts, tuple(transitions))


def _keep_firing(rule: AlertingRule, alert: Alert, now: datetime) -> Alert | None:
    """A firing alert whose series vanished stays firing for keep_firing_for; else None."""
    if alert.state is not AlertState.FIRING or not rule.keep_firing_for:
        return None
    since = alert.keep_firing_since or now
    if now - since < rule.keep_firing_for:
        return replace(alert, keep_firing_since=since)
    return None


def restore(alerts: Mapping[str, Alert], now: datetime, tolerance: timedelta) -> dict[str, Alert]:
    """Alerts persisted before a restart that may resume their `for` timers.

    Like Prometheus' `rules.alert.for-outage-tolerance`: state last seen longer ago than
    `tolerance` is stale and dropped, so a long outage does not fire on old evidence.
    """
    return {
        fp: a for fp, a in alerts.items() if a.last_seen_at is None or now - a.last_seen_at <= tolerance
    }
