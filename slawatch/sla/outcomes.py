"""Whether one ticket met its deadlines: the rule `tickets list/show` and the report share.

- response is met when the first acknowledgement came by `response_due`; a ticket
  resolved before anyone acknowledged it counts as responded at its resolution;
- recovery is met when the verified recovery (first clear time) came by
  `recovery_due`; a manual resolution without a recorded clear counts at its time.
Both are None while undecided: `Outcome.PENDING`, the word the report uses, as
`met` and `breached` are. Pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from slawatch.model import Resolution
from slawatch.sla.deadlines import Deadlines, recovery_met, response_met

__all__ = ["Outcome", "Outcomes", "outcomes"]


class Outcome(enum.StrEnum):
    """A deadline's outcome as the report counts it (`response_met`, `_breached`, `_pending`)."""

    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"

    @classmethod
    def of(cls, met: bool | None) -> "Outcome":
        return cls.PENDING if met is None else cls.MET if met else cls.BREACHED


@dataclass(frozen=True)
class Outcomes:
    response_met: bool | None
    recovery_met: bool | None

    @property
    def response(self) -> Outcome:
        return Outcome.of(self.response_met)

    @property
    def recovery(self) -> Outcome:
        return Outcome.of(self.recovery_met)


def outcomes(
    deadlines: Deadlines,
    acknowledged_at: datetime | None,
    recovered_at: datetime | None,
    resolved_at: datetime | None,
    resolution: Resolution | None,
    now: datetime,
) -> Outcomes:
    """The ticket's response and recovery outcomes as judged at `now`."""
    resolved = resolved_at is not None
    responded = acknowledged_at or (resolved_at if resolved else None)
    recovered = recovered_at or (resolved_at if resolution is Resolution.MANUAL else None)
    return Outcomes(response_met(deadlines, responded, now), recovery_met(deadlines, recovered, resolved, now))
