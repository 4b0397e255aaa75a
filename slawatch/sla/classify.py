"""Labels -> priority. Pure.

An explicit `priority` label wins; otherwise a configured mapping from another label
(default `severity`: critical -> P0, error/major -> P1, warning/info -> P2); otherwise
the default priority, and the reason says so, so `slawatch check` can warn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping

from slawatch.model import Priority

PRIORITY_LABEL = "priority"
DEFAULT_SEVERITY_MAP = {
    "critical": Priority.P0,
    "error": Priority.P1,
    "major": Priority.P1,
    "warning": Priority.P2,
    "info": Priority.P2,
}


class Reason(enum.StrEnum):
    PRIORITY_LABEL = "priority_label"
    MAPPED = "mapped"
    DEFAULTED = "defaulted"


@dataclass(frozen=True)
class Classification:
    """Which label is mapped, how, and the priority when nothing matches."""

    label: str = "severity"
    mapping: Mapping[str, Priority] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default: Priority = Priority.P2


class InvalidPriority(ValueError):
    """A `priority` label whose value is not P0, P1 or P2."""


def parse_priority(value: str) -> Priority:
    try:
        return Priority(value.strip().upper())
    except ValueError:
        raise InvalidPriority(f"invalid priority {value!r}: must be one of P0, P1, P2") from None


def classify(labels: Mapping[str, str], policy: Classification = Classification()) -> tuple[Priority, Reason]:
    """The priority of an alert with these labels and why; raises InvalidPriority."""
    if PRIORITY_LABEL in labels:
        return parse_priority(labels[PRIORITY_LABEL]), Reason.PRIORITY_LABEL
    mapped = policy.mapping.get(labels.get(policy.label, "").lower())
    if mapped is not None:
        return mapped, Reason.MAPPED
    return policy.default, Reason.DEFAULTED


def highest(priorities: list[Priority]) -> Priority:
    """The most urgent of several priorities (P0 beats P1 beats P2)."""
    return min(priorities, key=lambda p: p.value)
