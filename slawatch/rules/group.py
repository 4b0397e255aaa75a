"""One tick of one rule group: run its queries concurrently, then the pure state machine.

Queries go out on a bounded pool (one HTTP session behind it); each rule's result,
or its failure, is then fed to `alerting.evaluate` in order. A rule whose query
failed keeps its previous alerts untouched.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping, Sequence

from slawatch.model import Alert, FailureKind, QueryFailed, Sample
from slawatch.rules import alerting
from slawatch.rules.alerting import TemplateContext, Transition
from slawatch.rules.definitions import AlertingRule, RuleGroup

QueryFn = Callable[[str, datetime], Sequence[Sample]]
GroupState = Mapping[str, Mapping[str, Alert]]  # rule key -> fingerprint -> alert


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    kind: FailureKind
    message: str


@dataclass(frozen=True)
class GroupOutcome:
    """Everything one tick produced: new state, transitions and failures."""

    group: RuleGroup
    at: datetime
    state: dict[str, dict[str, Alert]]
    transitions: list[tuple[AlertingRule, Transition]] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """Prometheus could not be reached for at least one query of this tick."""
        return any(f.kind is FailureKind.UNREACHABLE for f in self.failures)

    def count(self, state: str) -> int:
        return sum(1 for alerts in self.state.values() for a in alerts.values() if a.state.value == state)


@dataclass(frozen=True)
class GroupEvaluator:
    """`evaluate_group` bound to one query function, pool and template context."""

    query: QueryFn
    pool: Executor
    context: TemplateContext = alerting.NO_CONTEXT

    def __call__(self, group: RuleGroup, previous: GroupState, at: datetime) -> GroupOutcome:
        return evaluate_group(group, previous, at, self.query, self.pool, self.context)


def evaluate_group(
    group: RuleGroup,
    previous: GroupState,
    at: datetime,
    query: QueryFn,
    pool: Executor,
    context: TemplateContext = alerting.NO_CONTEXT,
) -> GroupOutcome:
    """Evaluate every rule of `group` at instant `at`."""
    futures = [(rule, pool.submit(query, rule.expr, at)) for rule in group.rules]
    outcome = GroupOutcome(group, at, {})
    for rule, future in futures:
        before = dict(previous.get(rule.key, {}))
        try:
            samples = future.result()
            result = alerting.evaluate(rule, samples, before, at, context)
        except QueryFailed as exc:
            outcome.failures.append(RuleFailure(rule.key, exc.kind, str(exc)))
            outcome.state[rule.key] = before
            continue
        except alerting.DuplicateLabelsError as exc:
            outcome.failures.append(RuleFailure(rule.key, FailureKind.BAD_QUERY, str(exc)))
            outcome.state[rule.key] = before
            continue
        outcome.state[rule.key] = result.alerts
        outcome.transitions.extend((rule, t) for t in result.transitions)
    return outcome
