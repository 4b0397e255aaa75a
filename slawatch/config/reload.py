"""What a reload may change while the daemon runs, and what needs a restart. Pure.

SIGHUP re-reads the config file. Sections are compared field by field: a change the
daemon can apply live is applied (rules, SLA, classification, routing, templates, rate,
on-call, log level); a change it cannot (the database, the listen address, the Prometheus
connection, the log format, the Slack signing secret that the HTTP server verifies with)
is named in `needs_restart`, and the daemon keeps running with the old value.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

__all__ = ["NEEDS_RESTART", "ReloadPlan", "plan_reload"]

# section -> the fields that only take effect at start ("*": the whole section)
NEEDS_RESTART: dict[str, frozenset[str]] = {
    "database": frozenset({"*"}),
    "server": frozenset({"*"}),
    "prometheus": frozenset({"*"}),
    "log": frozenset({"format"}),
    "slack": frozenset({"signing_secret", "signing_secret_file"}),
}


@dataclass(frozen=True)
class ReloadPlan:
    changed: tuple[str, ...]  # `section` or `section.field` that will be applied
    needs_restart: tuple[str, ...]  # `section` or `section.field` kept as it was


def plan_reload(old: BaseModel, new: BaseModel) -> ReloadPlan:
    """Every section (or field, where only some fields need a restart) that differs.

    `old` and `new` are `config.settings.Settings`; typed as their base so this module
    stays pure (Settings resolves paths on disk).
    """
    changed: list[str] = []
    restart: list[str] = []
    for section in type(old).model_fields:
        before, after = getattr(old, section), getattr(new, section)
        if before == after or not isinstance(before, BaseModel):
            continue  # base_dir and source describe the file, not a setting
        fixed = NEEDS_RESTART.get(section, frozenset())
        if "*" in fixed:
            restart.append(section)
            continue
        for name in type(before).model_fields:
            if getattr(before, name) != getattr(after, name):
                (restart if name in fixed else changed).append(f"{section}.{name}")
    return ReloadPlan(tuple(changed), tuple(restart))
