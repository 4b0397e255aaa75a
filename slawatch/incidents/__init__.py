"""Incidents: alerts become tickets, tickets meet deadlines, humans act on them.

    lifecycle  the pure plan: firing incidents + open tickets + now -> actions
    reconcile  applies one tick's plan in the caller's transaction
    ownership  which rule in force owns a ticket or a persisted alert state (pure)
    alignment  tickets and alert states follow the rule set: re-filed, or `rule_removed`
    watcher    records due deadline warnings and breaches, once each
    actions    acknowledge / resolve by hand (CLI, Slack buttons)
    ports      the small interfaces this package needs from others (announcing)
"""

__all__ = ["actions", "alignment", "lifecycle", "ownership", "ports", "reconcile", "watcher"]
