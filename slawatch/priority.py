"""Incident priorities: the three classes every SLA target and report is keyed by."""

from __future__ import annotations

import enum


class Priority(str, enum.Enum):
    """How urgent an incident is; a `str` enum so it stores and serialises as `P0`/`P1`/`P2`.

    P0: core service down. P1: major function degraded. P2: non-critical anomaly.
    """

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
