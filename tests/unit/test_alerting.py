"""The alert state machine, stepped through time with explicit timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slawatch.model import Alert, AlertState, Labels, Sample
from slawatch.rules.alerting import DuplicateLabelsError, evaluate, restore
from slawatch.rules.files import AlertingRule

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
STEP = timedelta(seconds=15)
DOWN = Sample(Labels(__name__="up", job="api", instance="a:80"), 0.0)
DOWN_B = Sample(Labels(__name__="up", job="api", instance="b:80"), 0.0)


def rule(for_s: int = 60, keep_s: int = 0, **labels: str) -> AlertingRule:
    return AlertingRule(
        name="ServiceDown",
        expr='up{job="api"} == 0',
        for_=timedelta(seconds=for_s),
        keep_firing_for=timedelta(seconds=keep_s),
        labels={"priority": "P0", **labels},
        annotations={"summary": "{{ $labels.instance }} down, value {{ $value }}"},
    )


def run(r: AlertingRule, series_per_step: list[list[Sample]]) -> list[dict[str, Alert]]:
    """Evaluate step i at T0 + i*STEP; return the active alerts after each step."""
    state: dict[str, Alert] = {}
    out = []
    for i, samples in enumerate(series_per_step):
        state = evaluate(r, samples, state, T0 + i * STEP).alerts
        out.append(state)
    return out


def states(history: list[dict[str, Alert]]) -> list[str]:
    return [",".join(sorted(a.state.value for a in step.values())) or "-" for step in history]


@pytest.mark.parametrize(
    "name, for_s, keep_s, steps, expected",
    [
        ("for 0s fires at the first matching evaluation", 0, 0, [[DOWN], [DOWN], []], ["firing", "firing", "-"]),
        ("pending until for has elapsed, firing at exactly for", 30, 0, [[DOWN]] * 4, ["pending", "pending", "firing", "firing"]),
        ("a flap shorter than for never fires", 30, 0, [[DOWN], [DOWN], [], [DOWN], [DOWN]], ["pending", "pending", "-", "pending", "pending"]),
        ("a firing alert resolves when its series disappears", 0, 0, [[DOWN], []], ["firing", "-"]),
        ("keep_firing_for holds a vanished series firing", 0, 30, [[DOWN], [], [], []], ["firing", "firing", "firing", "-"]),
        ("keep_firing_for does not apply to pending alerts", 30, 60, [[DOWN], []], ["pending", "-"]),
        ("two series are two alerts", 0, 0, [[DOWN, DOWN_B], [DOWN]], ["firing,firing", "firing"]),
    ],
)
def test_state_sequence(name: str, for_s: int, keep_s: int, steps: list, expected: list[str]) -> None:
    assert states(run(rule(for_s, keep_s), steps)) == expected, name


def test_active_at_is_first_matching_evaluation_and_fired_at_when_for_elapsed() -> None:
    history = run(rule(for_s=30), [[], [DOWN], [DOWN], [DOWN]])
    (alert,) = history[-1].values()
    assert alert.active_at == T0 + STEP
    assert alert.fired_at == T0 + 3 * STEP


def test_identity_drops_metric_name_adds_rule_labels_and_alertname() -> None:
    (alert,) = run(rule(0, team="x"), [[DOWN]])[0].values()
    assert alert.labels == {"alertname": "ServiceDown", "job": "api", "instance": "a:80", "priority": "P0", "team": "x"}


def test_rule_labels_override_series_labels() -> None:
    sample = Sample(Labels(job="api", priority="P2"), 1.0)
    (alert,) = run(rule(0), [[sample]])[0].values()
    assert alert.labels["priority"] == "P0"


def test_annotations_are_rendered_and_refreshed_every_evaluation() -> None:
    r = rule(0)
    first = evaluate(r, [DOWN], {}, T0).alerts
    second = evaluate(r, [Sample(DOWN.labels, 7.0)], first, T0 + STEP).alerts
    (alert,) = second.values()
    assert alert.annotations["summary"] == "a:80 down, value 7"
    assert alert.active_at == T0


def test_series_returning_after_resolution_is_a_new_alert() -> None:
    history = run(rule(0), [[DOWN], [], [DOWN]])
    (alert,) = history[-1].values()
    assert alert.active_at == T0 + 2 * STEP


def test_keep_firing_since_resets_when_series_returns() -> None:
    history = run(rule(0, keep_s=30), [[DOWN], [], [DOWN], [], [], []])
    assert states(history) == ["firing", "firing", "firing", "firing", "firing", "-"]


def test_transitions_report_what_changed() -> None:
    r = rule(for_s=15)
    s1 = evaluate(r, [DOWN], {}, T0)
    s2 = evaluate(r, [DOWN], s1.alerts, T0 + STEP)
    s3 = evaluate(r, [DOWN], s2.alerts, T0 + 2 * STEP)
    s4 = evaluate(r, [], s3.alerts, T0 + 3 * STEP)
    assert [(t.before, t.after) for t in s1.transitions] == [(None, AlertState.PENDING)]
    assert [(t.before, t.after) for t in s2.transitions] == [(AlertState.PENDING, AlertState.FIRING)]
    assert s3.transitions == ()
    assert [t.resolved for t in s4.transitions] == [True]
    assert s4.transitions[0].alert.resolved_at == T0 + 3 * STEP


def test_pending_alert_vanishing_is_not_a_resolution() -> None:
    s1 = evaluate(rule(60), [DOWN], {}, T0)
    s2 = evaluate(rule(60), [], s1.alerts, T0 + STEP)
    assert [t.resolved for t in s2.transitions] == [False]


def test_two_samples_with_the_same_identity_fail_the_evaluation() -> None:
    a = Sample(Labels(__name__="x", job="api"), 1)
    b = Sample(Labels(__name__="y", job="api"), 1)
    with pytest.raises(DuplicateLabelsError):
        evaluate(rule(0), [a, b], {}, T0)


def test_restore_drops_state_older_than_the_outage_tolerance() -> None:
    fresh = evaluate(rule(60), [DOWN], {}, T0).alerts
    assert restore(fresh, T0 + timedelta(minutes=59), timedelta(hours=1)) == fresh
    assert restore(fresh, T0 + timedelta(minutes=61), timedelta(hours=1)) == {}


# -- properties ------------------------------------------------------------------

matching = st.lists(st.booleans(), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(matching, st.integers(min_value=0, max_value=10))
def test_never_fires_before_matching_for_the_whole_for_duration(pattern: list[bool], for_steps: int) -> None:
    """An alert fires at step i only if the series matched in every step of the last `for`."""
    r = rule(for_s=for_steps * 15)
    history = run(r, [[DOWN] if m else [] for m in pattern])
    for i, step in enumerate(history):
        if any(a.state is AlertState.FIRING for a in step.values()):
            assert i >= for_steps and all(pattern[i - for_steps : i + 1])


@settings(max_examples=300, deadline=None)
@given(matching, st.integers(min_value=0, max_value=4), st.integers(min_value=0, max_value=4))
def test_firing_never_repeats_without_resolving(pattern: list[bool], for_steps: int, keep_steps: int) -> None:
    """Each firing transition is followed by a resolution before the next one."""
    r = rule(for_s=for_steps * 15, keep_s=keep_steps * 15)
    state: dict[str, Alert] = {}
    events = []
    for i, m in enumerate(pattern):
        result = evaluate(r, [DOWN] if m else [], state, T0 + i * STEP)
        state = result.alerts
        for t in result.transitions:
            if t.after is AlertState.FIRING:
                events.append("fire")
            elif t.resolved:
                events.append("resolve")
    assert all(a != b for a, b in zip(events, events[1:]))
    assert events[:1] in ([], ["fire"])
