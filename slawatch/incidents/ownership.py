"""Which rule in force owns a ticket or a persisted alert state, pure.

Identity is rule name + labels, never a file path: a ticket (or a pending alert's
persisted state) recorded under a group key that no longer exists, because the rule
files moved, a file or group was renamed, or a rule moved to another group, belongs to
the rule of the same name in the rule set now loaded. When several groups hold a rule
of that name (a warning and a critical tier, say), the one whose fixed labels the ticket
carries wins, then the same rule key, the same group name, the same file name; a rule
set without any rule of that name owns nothing: the rule was removed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable, Mapping

from slawatch.rules.files import AlertingRule, RuleGroup

__all__ = ["Owner", "RuleIndex"]


@dataclass(frozen=True)
class Owner:
    """A rule in force and the group it is in."""

    group_key: str
    group_name: str
    rule: AlertingRule

    @property
    def rule_key(self) -> str:
        return self.rule.key


class RuleIndex:
    """The rules in force (every group, the blind one included), by name."""

    def __init__(self, groups: Iterable[RuleGroup]) -> None:
        self._by_name: dict[str, list[Owner]] = {}
        self._exact: dict[tuple[str, str], Owner] = {}
        for group in groups:
            for rule in group.rules:
                owner = Owner(group.key, group.name, rule)
                self._by_name.setdefault(rule.name, []).append(owner)
                self._exact[(group.key, rule.key)] = owner

    def owner(self, group_key: str, rule_key: str, rule: str, labels: Mapping[str, str]) -> Owner | None:
        """The rule in force that owns what was recorded under (`group_key`, `rule_key`)
        for rule name `rule` with `labels`; None when no rule of that name exists."""
        exact = self._exact.get((group_key, rule_key))
        if exact is not None:
            return exact
        candidates = self._by_name.get(rule)
        if not candidates:
            return None
        old_file, _, old_group = group_key.rpartition(";")

        def score(o: Owner) -> tuple:
            fits = all(labels.get(k) == v for k, v in o.rule.labels.items() if "{{" not in v)
            same_file = posixpath.basename(o.group_key.rpartition(";")[0]) == posixpath.basename(old_file)
            return (not fits, o.rule.key != rule_key, o.group_name != old_group, not same_file, o.group_key, o.rule.key)

        return min(candidates, key=score)
