"""Incident lifecycle decisions with explicit timestamps."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from slawatch.incidents import lifecycle
from slawatch.incidents.lifecycle import ManuallyResolved, OpenTicket, identity_of, incidents, plan
from slawatch.model import Alert, AlertState, Labels, Priority
from slawatch.rules.files import AlertingRule
from slawatch.sla.classify import Classification

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
RULE = AlertingRule(name="ServiceDown", expr="up == 0", labels={"priority": "P0"})
GROUPED = AlertingRule(name="InstanceDown", expr="up == 0", group_by=("service",))
POLICY = Classification()


def alert(rule: AlertingRule, fired: datetime = T0, **labels: str) -> Alert:
    return Alert(rule.name, Labels({"alertname": rule.name, **rule.labels, **labels}), AlertState.FIRING, fired, fired_at=fired)


def ticket(ident: str, recovered: datetime | None = None, verification: int = 300, rule_key: str = "ServiceDown") -> OpenTicket:
    return OpenTicket(1, ident, rule_key, recovered, timedelta(seconds=verification))


def run(firing: list[Alert], open_tickets=(), resolved=None, now=T0, rule=RULE, evaluated=None):  # type: ignore[no-untyped-def]
    return plan(incidents(rule, firing), evaluated or {rule.key}, list(open_tickets), resolved or {}, POLICY, now)


def kinds(p: lifecycle.Plan) -> list[str]:
    return [type(a).__name__ for a in p.actions]


def test_firing_alert_without_ticket_opens_one_with_its_priority() -> None:
    p = run([alert(RULE, instance="a")])
    (action,) = p.of(lifecycle.Open)
    assert action.priority is Priority.P0 and action.reason == "priority_label"


def test_group_by_makes_one_incident_of_many_series() -> None:
    series = [alert(GROUPED, service="api", instance=f"i{i}") for i in range(100)]
    found = incidents(GROUPED, series)
    (incident,) = found.values()
    assert len(incident.series) == 100
    assert incident.labels == {"alertname": "InstanceDown", "service": "api"}


def test_group_by_splits_by_the_named_labels_only() -> None:
    series = [alert(GROUPED, service=s, instance=i) for s in ("api", "db") for i in ("a", "b")]
    assert len(incidents(GROUPED, series)) == 2


def test_identity_is_rule_plus_labels_and_stable() -> None:
    a, b = alert(RULE, instance="a"), alert(RULE, instance="b")
    assert identity_of(RULE, a.labels) == identity_of(RULE, Labels(dict(a.labels)))
    assert identity_of(RULE, a.labels) != identity_of(RULE, b.labels)


def test_still_firing_changes_nothing() -> None:
    a = alert(RULE, instance="a")
    ident = identity_of(RULE, a.labels)
    assert run([a], [OpenTicket(1, ident, RULE.key, None, timedelta(minutes=5), frozenset({a.fingerprint}))]).actions == []


def test_clearing_starts_verification_then_verifies_after_the_window() -> None:
    ident = identity_of(RULE, alert(RULE, instance="a").labels)
    assert kinds(run([], [ticket(ident)])) == ["Cleared"]
    in_window = run([], [ticket(ident, recovered=T0)], now=T0 + timedelta(seconds=299))
    assert in_window.actions == []
    done = run([], [ticket(ident, recovered=T0)], now=T0 + timedelta(seconds=300))
    assert done.actions == [lifecycle.Verified(1, T0)]


def test_condition_returning_inside_the_window_is_the_same_ticket() -> None:
    a = alert(RULE, instance="a")
    p = run([a], [OpenTicket(1, identity_of(RULE, a.labels), RULE.key, T0, timedelta(minutes=5), frozenset({a.fingerprint}))])
    assert p.actions == [lifecycle.Returned(1)]


def test_rule_not_evaluated_this_tick_changes_no_ticket() -> None:
    ident = identity_of(RULE, alert(RULE, instance="a").labels)
    p = run([], [ticket(ident), ticket(ident, recovered=T0 - timedelta(hours=1))], evaluated={"Other"})
    assert p.actions == []


def test_new_series_join_a_grouped_ticket() -> None:
    first = alert(GROUPED, service="api", instance="a")
    second = alert(GROUPED, service="api", instance="b")
    ident = identity_of(GROUPED, first.labels)
    open_ticket = OpenTicket(1, ident, GROUPED.key, None, timedelta(minutes=5), frozenset({first.fingerprint}))
    p = run([first, second], [open_ticket], rule=GROUPED)
    assert p.actions == [lifecycle.AddSeries(1, (second,))]


def test_manual_resolution_while_still_firing_reopens_the_same_ticket() -> None:
    a = alert(RULE, fired=T0, instance="a")
    ident = identity_of(RULE, a.labels)
    p = run([a], resolved={ident: ManuallyResolved(7, ident, T0 + timedelta(minutes=3))}, now=T0 + timedelta(minutes=4))
    assert kinds(p) == ["Reopen"] and p.actions[0].ticket_id == 7


def test_a_new_firing_after_manual_resolution_opens_a_new_ticket() -> None:
    a = alert(RULE, fired=T0 + timedelta(hours=1), instance="a")
    ident = identity_of(RULE, a.labels)
    p = run([a], resolved={ident: ManuallyResolved(7, ident, T0)}, now=T0 + timedelta(hours=1))
    assert kinds(p) == ["Open"]


def test_highest_priority_of_the_series_wins() -> None:
    r = AlertingRule(name="X", expr="x", group_by=("service",))
    series = [alert(r, service="s", severity="warning", i="1"), alert(r, service="s", severity="critical", i="2")]
    (incident,) = incidents(r, series).values()
    assert lifecycle.priority_of(incident, POLICY)[0] is Priority.P0


def test_invalid_priority_label_falls_back_to_the_default() -> None:
    r = AlertingRule(name="X", expr="x", labels={"priority": "urgent"})
    (incident,) = incidents(r, [alert(r)]).values()
    priority, reason = lifecycle.priority_of(incident, POLICY)
    assert priority is Priority.P2 and reason.startswith("invalid")


# -- identity over group keys, pending after a restart -----------------------------------------

GROUP_KEY = "rules/api.yaml;api"
IDENT = identity_of(RULE, alert(RULE, instance="a").labels)


def held(recovered: datetime | None = None, group_key: str = GROUP_KEY, rule_key: str = RULE.key) -> OpenTicket:
    return OpenTicket(1, IDENT, rule_key, recovered, timedelta(minutes=5), group_key=group_key, rule=RULE.name)


@pytest.mark.parametrize(
    "firing, pending, ticket, now, expected",
    [
        # a firing alert restarted as pending (its state was older than the outage tolerance)
        (False, True, held(), T0, []),
        # ... also while the ticket is in verification: no clear, no verification
        (False, True, held(recovered=T0), T0 + timedelta(hours=1), []),
        # the series is absent: cleared, then verified after the window
        (False, False, held(), T0, [lifecycle.Cleared(1)]),
        (False, False, held(recovered=T0), T0 + timedelta(minutes=5), [lifecycle.Verified(1, T0)]),
        # firing again after pending: the same ticket, nothing to do
        (True, False, held(), T0, []),
        # a ticket of a group that no longer exists (old absolute key): adopted
        (True, False, held(group_key="/srv/r1/rules/api.yaml;api"), T0,
         [lifecycle.Adopt(1, GROUP_KEY, RULE.key, "/srv/r1/rules/api.yaml;api")]),
        # adopted while in verification: adopted and returned
        (True, False, held(recovered=T0, group_key="old.yaml;api"), T0 + timedelta(minutes=1),
         [lifecycle.Adopt(1, GROUP_KEY, RULE.key, "old.yaml;api"), lifecycle.Returned(1)]),
        # the rule moved inside the group and got another key
        (True, False, held(rule_key="ServiceDown#1"), T0, [lifecycle.Adopt(1, GROUP_KEY, RULE.key, GROUP_KEY)]),
        # another group's ticket, here because its identity is pending: not ours to clear
        (False, True, held(group_key="other.yaml;x"), T0, []),
    ],
    ids=["pending keeps", "pending holds verification", "absent clears", "absent verifies", "firing again",
         "adopt from old key", "adopt and return", "adopt new rule key", "pending elsewhere"],
)
def test_tickets_are_judged_by_identity_and_pending_keeps_them(
    firing: bool, pending: bool, ticket: OpenTicket, now: datetime, expected: list
) -> None:
    fired = [alert(RULE, instance="a")] if firing else []
    p = plan(incidents(RULE, fired), {RULE.key}, [ticket], {}, POLICY, now,
             pending={IDENT} if pending else set(), group_key=GROUP_KEY)
    assert p.actions == expected


def test_pending_alerts_never_open_tickets() -> None:
    p = plan({}, {RULE.key}, [], {}, POLICY, T0, pending={IDENT}, group_key=GROUP_KEY)
    assert p.actions == []


# -- a rule removed from the rule files --------------------------------------------------------

REMOVED = T0 + timedelta(minutes=10)


@pytest.mark.parametrize(
    "ticket, missing, now, expected",
    [
        # found missing: the condition counts as cleared now
        (held(), True, REMOVED, [lifecycle.RuleRemoved(1, RULE.name, clears=True)]),
        # already in verification: marked, its first clear time stays
        (held(recovered=T0), True, REMOVED, [lifecycle.RuleRemoved(1, RULE.name, clears=False)]),
        # still missing inside the window: nothing yet
        (replace(held(recovered=REMOVED), rule_removed_at=REMOVED), True, REMOVED + timedelta(seconds=299), []),
        # still missing after the window: resolved as rule_removed, recovered when it was removed
        (replace(held(recovered=REMOVED), rule_removed_at=REMOVED), True, REMOVED + timedelta(minutes=5),
         [lifecycle.RemovedResolved(1, REMOVED, REMOVED)]),
        # in verification before the removal: recovered at its first clear
        (replace(held(recovered=T0), rule_removed_at=REMOVED), True, REMOVED + timedelta(minutes=5),
         [lifecycle.RemovedResolved(1, T0, REMOVED)]),
        # the rule is back inside the window: the ticket goes on
        (replace(held(recovered=REMOVED), rule_removed_at=REMOVED), False, REMOVED + timedelta(minutes=2),
         [lifecycle.RuleRestored(1)]),
        # a rule that exists changes nothing
        (held(), False, REMOVED, []),
    ],
    ids=["removed clears", "removed in verification", "inside window", "resolved after window",
         "resolved keeps first clear", "rule back", "rule present"],
)
def test_a_removed_rule_resolves_its_tickets_after_the_window(
    ticket: OpenTicket, missing: bool, now: datetime, expected: list
) -> None:
    assert lifecycle.rule_removal([ticket], {ticket.id} if missing else set(), now) == expected


def test_rule_back_inside_the_window_then_firing_returns_the_same_ticket() -> None:
    marked = replace(held(recovered=REMOVED), rule_removed_at=REMOVED)
    back = REMOVED + timedelta(minutes=2)
    assert lifecycle.rule_removal([marked], set(), back) == [lifecycle.RuleRestored(1)]
    restored = replace(marked, rule_removed_at=None)
    p = plan(incidents(RULE, [alert(RULE, instance="a")]), {RULE.key}, [restored], {}, POLICY, back, group_key=GROUP_KEY)
    assert p.actions == [lifecycle.Returned(1)]
