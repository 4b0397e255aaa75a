"""Value types shared by every package: labels, samples, alerts, priorities, tickets' events.

Everything here is immutable plain data, like an alert in Prometheus' rules/alerting.go:
labels and timestamps, no behaviour that touches the outside world. Enums are `StrEnum`,
so they store, serialise and print as their values (`P0`, `opened`).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping

ALERTNAME = "alertname"
METRIC_NAME = "__name__"
BLIND_RULE = "SlawatchPrometheusUnreachable"
"""The internal rule that fires while Prometheus cannot be reached (`rules.blind`)."""
BLIND_GROUP_KEY = "<slawatch>;slawatch-internal"
"""Its group's key; the report reads its tickets as time that was not observed."""


class Labels(Mapping[str, str]):
    """An immutable, hashable label set kept sorted by name (Prometheus' labels.Labels)."""

    __slots__ = ("_items", "_hash", "_fingerprint")

    def __init__(self, items: Mapping[str, str] | None = None, **kw: str) -> None:
        merged = dict(items or {})
        merged.update(kw)
        self._items: tuple[tuple[str, str], ...] = tuple(
            sorted((str(k), str(v)) for k, v in merged.items() if v != "")
        )
        self._hash = hash(self._items)
        self._fingerprint: str | None = None

    def __getitem__(self, key: str) -> str:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in self._items)
        return "{" + inner + "}"

    def without(self, *names: str) -> "Labels":
        """A copy without the named labels."""
        return Labels({k: v for k, v in self._items if k not in names})

    def merged(self, overrides: Mapping[str, str]) -> "Labels":
        """A copy with `overrides` applied; an empty override value removes the label."""
        out = dict(self._items)
        out.update(overrides)
        return Labels(out)

    def fingerprint(self) -> str:
        """A stable 16-hex-digit identity, the same across processes and restarts.

        Python's hash() is salted per process, so persisted identities use SHA-256
        over the sorted `name=value` pairs with separators that cannot occur in names.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for k, v in self._items:
                digest.update(k.encode())
                digest.update(b"\xff")
                digest.update(v.encode())
                digest.update(b"\xfe")
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector returned by a query."""

    labels: Labels
    value: float


class AlertState(enum.StrEnum):
    """Prometheus' alert states; `inactive` alerts are not kept, `resolved` is a transition."""

    PENDING = "pending"
    FIRING = "firing"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class Alert:
    """One alert identity (rule name + label set) and the instants that drive it.

    `active_at` is when the series first matched (the `for` timer starts there);
    `fired_at` when it turned firing; `keep_firing_since` when its series vanished
    while `keep_firing_for` holds it firing; `resolved_at` when it went inactive.
    `last_seen_at` is the last evaluation at which the alert was active; it lets a
    restarted daemon tell a fresh state from a stale one.
    """

    rule: str
    labels: Labels
    state: AlertState
    active_at: datetime
    value: float = 0.0
    annotations: Mapping[str, str] = field(default_factory=dict)
    fired_at: datetime | None = None
    keep_firing_since: datetime | None = None
    resolved_at: datetime | None = None
    last_seen_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        return self.labels.fingerprint()


class Priority(enum.StrEnum):
    """How urgent an incident is; a `str` enum so it stores and serialises as `P0`/`P1`/`P2`.

    P0: core service down. P1: major function degraded. P2: non-critical anomaly.
    """

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(enum.StrEnum):
    VERIFIED = "verified"  # the condition stayed clear for the verification window
    MANUAL = "manual"  # a human resolved it
    RULE_REMOVED = "rule_removed"  # its rule left the rule files and stayed away for the window


class EventKind(enum.StrEnum):
    """Everything that can happen to a ticket; the timeline is made of these."""

    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    CONDITION_CLEARED = "condition_cleared"
    CONDITION_RETURNED = "condition_returned"
    RECOVERY_VERIFIED = "recovery_verified"
    RESOLVED_MANUALLY = "resolved_manually"
    DEADLINE_WARNING = "deadline_warning"
    DEADLINE_BREACHED = "deadline_breached"
    ESCALATED = "escalated"  # a step of the escalation policy notified someone (detail: level, target, reason)
    REOPENED = "reopened"
    RULE_REMOVED = "rule_removed"  # the rule left the rule files: the condition counts as cleared


class NotificationKind(enum.StrEnum):
    """What an outbox row posts: a ticket's opening message, a thread reply, a chat.update
    of the opening message, one digest listing many tickets opened in a storm, or a post in
    the channel an escalation step notifies."""

    OPENING = "opening"
    EVENT = "event"
    UPDATE = "update"
    DIGEST = "digest"
    ESCALATION = "escalation"  # an escalation step that notifies another channel: a post there
    DEAD_LETTER = "dead_letter"  # a row that could not be delivered, reported to the fallback channel


class OutboxStatus(enum.StrEnum):
    """pending -> sending (committed before the Slack call) -> sent (after Slack said ok);
    failed: dead-lettered (a permanent error, or too many failed attempts), never retried
    unless a human says so (`slawatch notifications retry`)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of a ticket's append-only timeline, the one shape every writer builds.

    `detail` is plain JSON-ready data; `dedup_key` makes once-only events (deadline
    warnings and breaches, escalation steps) idempotent even when two writers race.
    """

    ticket_id: int
    kind: EventKind
    at: datetime
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None


class FailureKind(enum.StrEnum):
    UNREACHABLE = "unreachable"  # connection refused, DNS, timeout, 5xx
    BAD_QUERY = "bad_query"  # 4xx: PromQL error, wrong result type


class QueryFailed(Exception):
    """A query produced no result; the caller must not treat that as 'no alerts'.

    Declared here rather than by the Prometheus edge, so the rules core can handle a
    failed query without importing the edge that raises it.
    """

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
