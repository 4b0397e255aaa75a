"""Alerting rules: the rule files, the pure state machine, group evaluation and its runner.

    definitions  what a rule and a group are (plain data)
    files        rule files in Prometheus' format -> RuleSet (file:line errors, all-or-nothing)
    alerting     the pure per-rule state machine (inactive -> pending -> firing -> resolved)
    group        one tick of one group: queries on a bounded pool, then `alerting.evaluate`
    runner       owns a group's state between ticks, persists it, hands it to `incidents`
    blind        the internal rule that fires while Prometheus cannot be reached

Only the pure surface is exported here, so importing the state machine reads no files.
"""

from slawatch.rules.alerting import EvalResult, Transition, evaluate, restore
from slawatch.rules.definitions import AlertingRule, RuleGroup

__all__ = ["AlertingRule", "EvalResult", "RuleGroup", "Transition", "evaluate", "restore"]
