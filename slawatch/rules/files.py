"""Prometheus rule files: schema, loading and file:line validation.

The format is Prometheus' own (`groups:` of `rules:` with `alert`, `expr`, `for`,
`keep_firing_for`, `labels`, `annotations`); recording rules are accepted and skipped,
so an unchanged Prometheus rule file loads. slawatch's extensions live in annotations
named `slawatch_*`, which `promtool check rules` tolerates. Label and annotation values
are the file's text, as Prometheus reads them (`yes` and `010` stay so; `~` is empty).

Loading is all-or-nothing: every file is validated and all problems are reported,
and a caller swaps in the new RuleSet only when there were none (a reload keeps the
last good rules, as Prometheus' Manager.Update does).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slawatch.config.durations import Duration
from slawatch.config.located import InputError, Located, Problem, load_located
from slawatch.gotemplate import execute as templating
from slawatch.rules.definitions import AlertingRule, RuleGroup

GROUP_BY_ANNOTATION = "slawatch_group_by"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_WILDCARD = re.compile(r"[*?[]")


class _RuleNode(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    record: str | None = None
    alert: str | None = None
    expr: str | None
    for_: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    labels: dict[str, str | None] = Field(default_factory=dict)
    annotations: dict[str, str | None] = Field(default_factory=dict)


class _GroupNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    interval: Duration | None = None
    limit: int = Field(default=0, ge=0)
    query_offset: Duration | None = None
    rules: list[Any] = Field(default_factory=list)


class _FileNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class RuleSet:
    groups: tuple[RuleGroup, ...] = ()
    warnings: tuple[Problem, ...] = ()
    files: tuple[str, ...] = ()

    def rule_count(self) -> int:
        return sum(len(g.rules) for g in self.groups)


def expand_globs(patterns: Iterable[str]) -> list[str]:
    """Files matching the patterns, sorted and de-duplicated (Prometheus sorts too)."""
    files: set[str] = set()
    for pattern in patterns:
        files.update(glob.glob(pattern))
    return sorted(files)


def origins(patterns: Iterable[str], files: Iterable[str], base_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """Each file's name for group keys: relative to `base_dir` (the config file's folder)
    when the file is inside it, else relative to the fixed folder of the first pattern
    that matches it (`/srv/rules` for `/srv/rules/*.yml`). Two files that would share a
    name keep their absolute paths, so keys stay unique."""
    matches = [(_fixed_folder(p), set(glob.glob(p))) for p in patterns]
    names: dict[str, str] = {}
    for file in files:
        rel = os.path.relpath(file, base_dir) if base_dir is not None else os.pardir
        if rel.split(os.sep)[0] == os.pardir:
            folder = next((f for f, matched in matches if file in matched), os.path.dirname(file))
            rel = os.path.relpath(file, folder)
        names[file] = rel.replace(os.sep, "/")
    taken: dict[str, int] = {}
    for name in names.values():
        taken[name] = taken.get(name, 0) + 1
    return {file: name if taken[name] == 1 else file for file, name in names.items()}


def _fixed_folder(pattern: str) -> str:
    """The leading folders of a glob pattern that contain no wildcard."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if _WILDCARD.search(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or os.sep


def load_rules(
    patterns: Iterable[str], default_interval: timedelta, base_dir: str | os.PathLike[str] | None = None
) -> RuleSet:
    """Load and validate every rule file; raise InputError listing all problems.

    `base_dir` (the config file's folder) anchors the files' names in group keys.
    """
    patterns = list(patterns)
    files = expand_globs(patterns)
    named = origins(patterns, files, base_dir)
    groups: list[RuleGroup] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not files:
        where = ", ".join(patterns) or "rules.paths"
        warnings.append(Problem(where, None, "", "no rule file matches these paths", True))
    for file in files:
        try:
            located = load_located(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        file_groups, file_problems = parse_rule_file(located, default_interval)
        groups.extend(replace(g, origin=named[file]) for g in file_groups)
        problems.extend(p for p in file_problems if not p.warning)
        warnings.extend(p for p in file_problems if p.warning)
    if problems:
        raise InputError(problems)
    return RuleSet(tuple(groups), tuple(warnings), tuple(files))


def parse_rule_file(located: Located, default_interval: timedelta) -> tuple[list[RuleGroup], list[Problem]]:
    """Validate one parsed file; returns its groups and every problem found in it."""
    data = located.data if located.data is not None else {}
    try:
        top = _FileNode.model_validate(data)
    except ValidationError as exc:
        return [], located.problems_from(exc)
    groups: list[RuleGroup] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for gi, raw_group in enumerate(top.groups):
        path = ("groups", gi)
        try:
            node = _GroupNode.model_validate(raw_group)
        except ValidationError as exc:
            problems.extend(located.problems_from(exc, path))
            continue
        if not node.name.strip():
            problems.append(located.problem(path + ("name",), "group name must not be empty"))
        if node.name in seen:
            problems.append(located.problem(path + ("name",), f"duplicate group name {node.name!r}"))
        seen.add(node.name)
        interval = node.interval or default_interval
        if interval <= timedelta(0):
            problems.append(located.problem(path + ("interval",), "must be greater than 0s"))
        rules: list[AlertingRule] = []
        named: dict[str, int] = {}  # rules of each name so far (linear, for 10,000-rule files)
        for ri, raw_rule in enumerate(node.rules):
            rule, rule_problems = _parse_rule(located, path + ("rules", ri), raw_rule)
            problems.extend(rule_problems)
            if rule is not None:
                ordinal = named.get(rule.name, 0)
                named[rule.name] = ordinal + 1
                rules.append(replace(rule, ordinal=ordinal))
        groups.append(RuleGroup(node.name, located.file, interval, tuple(rules), node.limit))
    return groups, problems


def _parse_rule(located: Located, path: tuple, raw: Any) -> tuple[AlertingRule | None, list[Problem]]:
    try:
        node = _RuleNode.model_validate(raw)
    except ValidationError as exc:
        return None, located.problems_from(exc, path)
    problems: list[Problem] = []
    expr = (node.expr or "").strip()
    if not expr:
        problems.append(located.problem(path + ("expr",), "field 'expr' must be set in rule"))
    if node.record is not None:
        if node.alert is not None:
            problems.append(located.problem(path, "only one of 'record' and 'alert' must be set"))
        for name in ("for_", "keep_firing_for"):
            if getattr(node, name) is not None:
                key = "for" if name == "for_" else name
                problems.append(located.problem(path + (key,), f"invalid field '{key}' in recording rule"))
        if node.annotations:
            problems.append(located.problem(path + ("annotations",), "invalid field 'annotations' in recording rule"))
        if not _METRIC_NAME.match(node.record):
            problems.append(located.problem(path + ("record",), f"invalid recording rule name: {node.record}"))
        return None, problems  # recording rules are accepted and skipped
    if node.alert is None:
        problems.append(located.problem(path, "one of 'record' or 'alert' must be set"))
        return None, problems
    if not node.alert.strip():
        problems.append(located.problem(path + ("alert",), "invalid alert name: must not be empty"))
    # Values are the file's text (`yes`, `010` stay so); a null is "", as in Prometheus.
    labels = {k: v or "" for k, v in node.labels.items()}
    annotations = {k: v or "" for k, v in node.annotations.items()}
    for kind, mapping in (("labels", labels), ("annotations", annotations)):
        for key, value in mapping.items():
            where = path + (kind, key)
            if not _LABEL_NAME.match(key) or key.startswith("__"):
                problems.append(located.problem(where, f"invalid {kind[:-1]} name: {key}"))
            try:
                template = templating.parse(value)
            except templating.TemplateError as exc:
                problems.append(located.problem(where, f"template error: {exc}"))
                continue
            problems.extend(located.problem(where, f"template error: {exc}") for exc in template.check())
    group_by = None
    if GROUP_BY_ANNOTATION in annotations:
        group_by = tuple(sorted({n.strip() for n in annotations.pop(GROUP_BY_ANNOTATION).split(",") if n.strip()}))
        for name in group_by:
            if not _LABEL_NAME.match(name):
                problems.append(located.problem(path + ("annotations", GROUP_BY_ANNOTATION), f"invalid label name: {name}"))
    if problems:
        return None, problems
    rule = AlertingRule(
        name=node.alert,
        expr=expr,
        for_=node.for_ or timedelta(0),
        keep_firing_for=node.keep_firing_for or timedelta(0),
        labels=labels,
        annotations=annotations,
        group_by=group_by,
        file=located.file,
        line=located.line_of(path) or 0,
    )
    return rule, []

