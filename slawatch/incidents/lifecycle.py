"""Incident lifecycle decisions, pure: firing alerts + open tickets + now -> actions.

One incident identity is one ticket: the alert's label set, or with the `group_by`
extension the rule name plus the values of the named labels, so 100 instances of one
outage are one ticket listing its series.

    firing, no open ticket            -> Open   (or Reopen a ticket resolved by hand
                                                 while this very alert kept firing)
    firing, ticket of another group   -> Adopt  (the rule moved, or its file or group
                                                 was renamed: the same ticket goes on)
    firing, ticket in verification    -> Returned (a flap: same ticket)
    pending                           -> nothing: the ticket stays as it is (after a
                                                 restart longer than the outage tolerance
                                                 a firing alert starts pending again)
    neither, ticket not recovered     -> Cleared  (recovered_at = now, verification starts)
    neither, verification elapsed     -> Verified (resolved)

Only rules whose query succeeded this tick are considered: a rule that could not be
evaluated changes no ticket, so nothing resolves or enters verification because
Prometheus did not answer. Pending alerts never open tickets.

A ticket whose rule is no longer in the rule files is decided by `rule_removal`: the
condition counts as cleared when the rule is found missing, and the ticket resolves as
`rule_removed` after its verification window unless the rule comes back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Collection, Iterable, Mapping, Sequence

from slawatch.model import ALERTNAME, Alert, Labels, Priority
from slawatch.rules.definitions import AlertingRule
from slawatch.sla.classify import Classification, InvalidPriority, Reason, classify, highest


@dataclass(frozen=True)
class Incident:
    """The firing series of one identity at one tick."""

    identity: str
    rule: AlertingRule
    series: tuple[Alert, ...]

    @property
    def labels(self) -> Labels:
        """Labels shared by every series (Alertmanager's CommonLabels)."""
        first = dict(self.series[0].labels)
        for alert in self.series[1:]:
            first = {k: v for k, v in first.items() if alert.labels.get(k) == v}
        return Labels(first)

    @property
    def fired_at(self) -> datetime:
        return min(a.fired_at or a.active_at for a in self.series)


@dataclass(frozen=True)
class OpenTicket:
    """What the lifecycle needs to know about an unresolved ticket."""

    id: int
    identity: str
    rule_key: str
    recovered_at: datetime | None
    verification: timedelta
    fingerprints: frozenset[str] = frozenset()
    group_key: str | None = None
    rule: str = ""
    rule_removed_at: datetime | None = None  # when its rule was found missing from the files


@dataclass(frozen=True)
class ManuallyResolved:
    """The latest ticket of an identity, resolved by hand while its alert still fired."""

    id: int
    identity: str
    resolved_at: datetime


@dataclass(frozen=True)
class Open:
    incident: Incident
    priority: Priority
    reason: str


@dataclass(frozen=True)
class Adopt:
    """The ticket now belongs to this group and rule (they moved or were renamed)."""

    ticket_id: int
    group_key: str
    rule_key: str
    from_group_key: str | None


@dataclass(frozen=True)
class Reopen:
    ticket_id: int
    incident: Incident


@dataclass(frozen=True)
class AddSeries:
    ticket_id: int
    series: tuple[Alert, ...]


@dataclass(frozen=True)
class Cleared:
    ticket_id: int


@dataclass(frozen=True)
class Returned:
    ticket_id: int


@dataclass(frozen=True)
class Verified:
    ticket_id: int
    recovered_at: datetime


@dataclass(frozen=True)
class RuleRemoved:
    """The ticket's rule is gone: the condition counts as cleared now (unless it already was)."""

    ticket_id: int
    rule: str
    clears: bool


@dataclass(frozen=True)
class RuleRestored:
    """The rule is back inside the window: the ticket goes on under the normal lifecycle."""

    ticket_id: int


@dataclass(frozen=True)
class RemovedResolved:
    """The rule stayed missing for the verification window: resolved as `rule_removed`."""

    ticket_id: int
    recovered_at: datetime
    removed_at: datetime


Action = Open | Adopt | Reopen | AddSeries | Cleared | Returned | Verified
RemovalAction = RuleRemoved | RuleRestored | RemovedResolved


@dataclass(frozen=True)
class Plan:
    actions: list[Action] = field(default_factory=list)

    def of(self, kind: type) -> list:
        return [a for a in self.actions if isinstance(a, kind)]


def identity_labels(rule: AlertingRule, labels: Labels) -> Labels:
    """The labels that make an incident: all of them, or alertname + group_by labels."""
    if rule.group_by is None:
        return labels
    return Labels({ALERTNAME: rule.name, **{k: labels.get(k, "") for k in rule.group_by}})


def identity_of(rule: AlertingRule, labels: Labels) -> str:
    """A 64-hex-digit identity, stable across restarts and hosts."""
    ident = identity_labels(rule, labels)
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in ident.items())
    return hashlib.sha256(f"{rule.name}\x1d{text}".encode()).hexdigest()


def incidents(rule: AlertingRule, alerts: Iterable[Alert]) -> dict[str, Incident]:
    """Group a rule's firing alerts into incidents by identity."""
    grouped: dict[str, list[Alert]] = {}
    for alert in alerts:
        grouped.setdefault(identity_of(rule, alert.labels), []).append(alert)
    return {
        ident: Incident(ident, rule, tuple(sorted(series, key=lambda a: a.fingerprint)))
        for ident, series in grouped.items()
    }


def priority_of(incident: Incident, policy: Classification) -> tuple[Priority, str]:
    """The most urgent priority among the series; a bad `priority` label falls back."""
    found = []
    reasons = set()
    for alert in incident.series:
        try:
            priority, reason = classify(alert.labels, policy)
        except InvalidPriority as exc:
            priority, reason = policy.default, f"invalid: {exc}"
        found.append(priority)
        reasons.add(reason.value if isinstance(reason, Reason) else reason)
    return highest(found), ",".join(sorted(reasons))


def plan(
    firing: Mapping[str, Incident],
    evaluated_rules: set[str],
    open_tickets: Sequence[OpenTicket],
    manually_resolved: Mapping[str, ManuallyResolved],
    classification: Classification,
    now: datetime,
    *,
    pending: Collection[str] = frozenset(),
    group_key: str | None = None,
) -> Plan:
    """Decide every ticket change of one tick of group `group_key`.

    `firing` and `pending` (identities) cover the evaluated rules only; `open_tickets`
    are this group's unresolved tickets plus those of any group whose identity is firing
    or pending here. Only this group's tickets are judged for clearing.
    """
    out = Plan()
    by_identity = {t.identity: t for t in open_tickets}
    for ident, incident in firing.items():
        ticket = by_identity.get(ident)
        if ticket is None:
            resolved = manually_resolved.get(ident)
            if resolved is not None and incident.fired_at <= resolved.resolved_at:
                out.actions.append(Reopen(resolved.id, incident))
            else:
                priority, reason = priority_of(incident, classification)
                out.actions.append(Open(incident, priority, reason))
            continue
        if group_key is not None and (ticket.group_key, ticket.rule_key) != (group_key, incident.rule.key):
            out.actions.append(Adopt(ticket.id, group_key, incident.rule.key, ticket.group_key))
        if ticket.recovered_at is not None:
            out.actions.append(Returned(ticket.id))
        if incident.rule.group_by is not None:
            new = tuple(a for a in incident.series if a.fingerprint not in ticket.fingerprints)
            if new:
                out.actions.append(AddSeries(ticket.id, new))
    for ticket in open_tickets:
        if ticket.rule_key not in evaluated_rules or ticket.identity in firing or ticket.identity in pending:
            continue
        if group_key is not None and ticket.group_key is not None and ticket.group_key != group_key:
            continue  # another group's ticket, here only because its identity is pending
        if ticket.recovered_at is None:
            out.actions.append(Cleared(ticket.id))
        elif now - ticket.recovered_at >= ticket.verification:
            out.actions.append(Verified(ticket.id, ticket.recovered_at))
    return out


def rule_removal(tickets: Sequence[OpenTicket], missing: Collection[int], now: datetime) -> list[RemovalAction]:
    """What happens to unresolved tickets when the rule files change; `missing` holds the
    ids of those whose rule no longer exists in any rule file."""
    out: list[RemovalAction] = []
    for ticket in tickets:
        if ticket.id not in missing:
            if ticket.rule_removed_at is not None:
                out.append(RuleRestored(ticket.id))
        elif ticket.rule_removed_at is None:
            out.append(RuleRemoved(ticket.id, ticket.rule, clears=ticket.recovered_at is None))
        elif now - ticket.rule_removed_at >= ticket.verification:
            recovered = ticket.recovered_at or ticket.rule_removed_at
            out.append(RemovedResolved(ticket.id, recovered, ticket.rule_removed_at))
    return out
