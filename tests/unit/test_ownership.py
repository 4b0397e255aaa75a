"""Which rule in force owns a ticket or a persisted state recorded under another group key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slawatch.incidents.ownership import RuleIndex
from slawatch.rules.files import AlertingRule, RuleGroup

WARN = AlertingRule(name="DiskFull", expr="d > 80", labels={"severity": "warning"})
CRIT = AlertingRule(name="DiskFull", expr="d > 95", labels={"severity": "critical"})
DOWN = AlertingRule(name="ServiceDown", expr="up == 0", labels={"priority": "P0"})
TEMPLATED = AlertingRule(name="Templated", expr="x", labels={"team": "{{ $labels.owner }}"})
INDEX = RuleIndex([
    RuleGroup("api", "/abs/rules/api.yaml", timedelta(seconds=15), (DOWN, TEMPLATED), origin="rules/api.yaml"),
    RuleGroup("disk-warning", "/abs/rules/disk.yaml", timedelta(seconds=15), (WARN,), origin="rules/disk.yaml"),
    RuleGroup("disk-critical", "/abs/rules/disk.yaml", timedelta(seconds=15), (CRIT,), origin="rules/disk.yaml"),
])


@pytest.mark.parametrize(
    "group_key, rule_key, rule, labels, expected",
    [
        # recorded under the group in force: that group
        ("rules/api.yaml;api", "ServiceDown", "ServiceDown", {}, "rules/api.yaml;api"),
        # an absolute key of an older database: the group of the same name
        ("/srv/release-7/rules/api.yaml;api", "ServiceDown", "ServiceDown", {"priority": "P0"}, "rules/api.yaml;api"),
        # a renamed group: the one rule of that name
        ("rules/api.yaml;frontend", "ServiceDown", "ServiceDown", {}, "rules/api.yaml;api"),
        # two groups hold DiskFull: the one whose fixed labels the ticket carries
        ("old.yaml;disk", "DiskFull", "DiskFull", {"severity": "critical"}, "rules/disk.yaml;disk-critical"),
        ("old.yaml;disk", "DiskFull", "DiskFull", {"severity": "warning"}, "rules/disk.yaml;disk-warning"),
        # templated labels are not compared
        ("old.yaml;api", "Templated", "Templated", {"team": "db"}, "rules/api.yaml;api"),
        # no rule of that name any more: removed
        ("rules/api.yaml;api", "Gone", "Gone", {}, None),
    ],
    ids=["in force", "old absolute key", "renamed group", "critical tier", "warning tier", "templated", "removed"],
)
def test_owner_is_found_by_rule_name_not_file_path(
    group_key: str, rule_key: str, rule: str, labels: dict, expected: str | None
) -> None:
    owner = INDEX.owner(group_key, rule_key, rule, labels)
    assert (owner.group_key if owner else None) == expected
