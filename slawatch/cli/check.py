"""`slawatch check`: validate config and rule files, optionally with Prometheus' parser.

Collects every problem rather than stopping at the first, so one run of `check` in
CI shows everything wrong with a change. Problems quote values from rule files (label
values included), so each line is printed terminal-safe.

The library is imported when the command runs, so that `slawatch --help` and shell
completion, which import every command module, start quickly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from slawatch.cli.common import config_option

if TYPE_CHECKING:
    from slawatch.config.located import Problem
    from slawatch.config.settings import Settings
    from slawatch.rules.files import RuleSet
    from slawatch.sla.classify import Classification


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
    from slawatch.config.located import InputError, Problem
    from slawatch.config.settings import load_settings
    from slawatch.notify.messages import MessageRenderer, TemplateFailed
    from slawatch.rules.files import load_rules

    report = CheckReport()
    try:
        settings = load_settings(config_file)
    except InputError as exc:
        report.errors.extend(exc.problems)
        return report
    try:
        rules = load_rules(settings.rule_globs(), settings.rules.evaluation_interval, settings.base_dir)
    except InputError as exc:
        report.errors.extend(exc.problems)
        return report
    report.files = list(rules.files)
    report.rules = rules.rule_count()
    report.warnings.extend(rules.warnings)
    errors, warnings = check_classification(rules, settings.classification.policy())
    report.errors.extend(errors)
    report.warnings.extend(warnings)
    try:
        MessageRenderer(settings.slack.templates_dir, settings.sla.timezone).check()
    except TemplateFailed as exc:
        report.errors.append(Problem(str(exc.template), exc.line, "slack template", exc.reason))
    if ask_prometheus:
        report.errors.extend(check_promql(settings, rules))
    return report


def check_classification(rules: RuleSet, policy: Classification) -> tuple[list[Problem], list[Problem]]:
    """An invalid `priority` label is an error; a rule that falls back to the default a warning.

    Labels with templates are decided per alert at run time and are not judged here.
    """
    from slawatch.config.located import Problem
    from slawatch.sla.classify import InvalidPriority, Reason, classify
    errors, warnings = [], []
    for group in rules.groups:
        for rule in group.rules:
            if any("{{" in v for v in rule.labels.values()):
                continue
            where = f"{group.name}/{rule.name}: labels"
            try:
                priority, reason = classify(rule.labels, policy)
            except InvalidPriority as exc:
                errors.append(Problem(rule.file, rule.line, where, str(exc)))
                continue
            if reason is Reason.DEFAULTED:
                warnings.append(
                    Problem(
                        rule.file, rule.line, where,
                        f"no priority label and no mapped {policy.label!r} label; classified {priority.value} by default",
                        warning=True,
                    )
                )
    return errors, warnings


def check_promql(settings: Settings, rules: RuleSet) -> list[Problem]:
    """Have the configured Prometheus parse every rule's expr; one problem per bad rule."""
    from slawatch.config.located import Problem
    from slawatch.model import QueryFailed
    from slawatch.source import PrometheusSource
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


@click.command("check")
@config_option
@click.option("--prometheus", "ask_prometheus", is_flag=True, help="Also have Prometheus parse every expr.")
def command(config_file: str | None, ask_prometheus: bool) -> None:
    """Validate the config and every rule file; exit 1 on any problem.

    Prints each problem as file:line: field: problem, then OK or FAILED.

    \b
    Examples:
      slawatch check
      slawatch check --config /etc/slawatch/slawatch.yaml --prometheus
    """
    from slawatch.cli.terminal import safe

    report = check_all(config_file, ask_prometheus)
    for line in report.lines():
        click.echo(safe(line), err=not line.startswith("OK"))
    sys.exit(1 if report.errors else 0)
