"""`slawatch check`: validate config and rule files, optionally with Prometheus' parser.

Collects every problem rather than stopping at the first, so one run of `check` in
CI shows everything wrong with a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from slawatch.config import Settings, load_settings
from slawatch.rules import RuleSet, load_rules
from slawatch.source import PrometheusSource, QueryFailed
from slawatch.yamlfile import InputError, Problem


@dataclass
class CheckReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rules: int = 0

    def lines(self) -> list[str]:
        out = [str(p) for p in self.errors + self.warnings]
        if not self.errors:
            out.append(f"OK: {len(self.files)} rule file(s), {self.rules} alerting rule(s)")
        else:
            out.append(f"FAILED: {len(self.errors)} problem(s)")
        return out


def check_all(config_file: str | None, ask_prometheus: bool = False) -> CheckReport:
    report = CheckReport()
    try:
        settings = load_settings(config_file)
    except InputError as exc:
        report.errors.extend(exc.problems)
        return report
    try:
        rules = load_rules(settings.rule_globs(), settings.rules.evaluation_interval)
    except InputError as exc:
        report.errors.extend(exc.problems)
        return report
    report.files = list(rules.files)
    report.rules = rules.rule_count()
    report.warnings.extend(rules.warnings)
    if ask_prometheus:
        report.errors.extend(check_promql(settings, rules))
    return report


def check_promql(settings: Settings, rules: RuleSet) -> list[Problem]:
    """Have the configured Prometheus parse every rule's expr; one problem per bad rule."""
    source = PrometheusSource(settings.prometheus.url, max(settings.prometheus.timeout, timedelta(seconds=5)))
    problems = []
    try:
        for group in rules.groups:
            for rule in group.rules:
                error = source.check_expr(rule.expr)
                if error:
                    problems.append(Problem(rule.file, rule.line, f"{group.name}/{rule.name}: expr", error))
    except QueryFailed as exc:
        problems.append(Problem(settings.source, None, "prometheus.url", f"cannot ask Prometheus: {exc}"))
    finally:
        source.close()
    return problems
