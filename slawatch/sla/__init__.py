"""The SLA core, pure: classification, business time, deadlines and per-ticket outcomes.

    classify       labels -> P0/P1/P2, and why
    business_time  working days and hours in a time zone, minus holidays
    deadlines      the policy, deadlines computed at open, due warnings and breaches
    outcomes       whether one ticket met its response and recovery deadlines

No I/O, no logging, no clock: every function takes the instants it needs.
"""

from slawatch.sla.business_time import BusinessCalendar
from slawatch.sla.classify import Classification, InvalidPriority, Reason, classify
from slawatch.sla.deadlines import Deadlines, PriorityPolicy, SlaPolicy, Target, compute_deadlines

__all__ = [
    "BusinessCalendar", "Classification", "Deadlines", "InvalidPriority", "PriorityPolicy", "Reason",
    "SlaPolicy", "Target", "classify", "compute_deadlines",
]
