"""Typed settings: one YAML file plus SLAWATCH_* environment overrides.

Each component gets its own validated slice (PrometheusSettings, DatabaseSettings,
RulesSettings, ...). Unknown keys and wrong types are errors that name the file,
line and key, because a typo in `evaluation_intervall` silently falling back to a
default is how alerts go missing.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from slawatch.config.durations import Duration
from slawatch.config.located import InputError, Located, load_located
from slawatch.config.notify import OncallSettings, ServerSettings, SlackSettings
from slawatch.config.sla import ClassificationSettings, SlaSettings

DEFAULT_CONFIG = "slawatch.yaml"
CONFIG_ENV = "SLAWATCH_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusSettings(_Section):
    """How to reach the Prometheus-compatible query API."""

    url: str = "http://127.0.0.1:9090"
    timeout: Duration = timedelta(seconds=10)
    max_concurrent_queries: int = Field(default=8, ge=1, le=64)
    unreachable_after: int = Field(
        default=3, ge=1, description="consecutive failed ticks before SlawatchPrometheusUnreachable"
    )
    external_labels: dict[str, str] = Field(default_factory=dict)
    external_url: str = ""

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class DatabaseSettings(_Section):
    """SQLAlchemy URL; a SQLite file by default, PostgreSQL in production."""

    url: str = "sqlite:///slawatch.db"


class RulesSettings(_Section):
    """Where rule files live and how often their groups are evaluated."""

    paths: list[str] = Field(default_factory=lambda: ["rules/*.yml", "rules/*.yaml"])
    evaluation_interval: Duration = timedelta(seconds=15)
    for_outage_tolerance: Duration = timedelta(hours=1)

    @field_validator("evaluation_interval")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be greater than 0s")
        return v


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    """The whole configuration; `base_dir` anchors relative paths (the config's folder)."""

    prometheus: PrometheusSettings = PrometheusSettings()
    database: DatabaseSettings = DatabaseSettings()
    rules: RulesSettings = RulesSettings()
    sla: SlaSettings = SlaSettings()
    classification: ClassificationSettings = ClassificationSettings()
    slack: SlackSettings = SlackSettings()
    oncall: OncallSettings = OncallSettings()
    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: str = Field(default="(defaults)", exclude=True)

    def rule_globs(self) -> list[str]:
        """Rule path globs made absolute against the config file's folder."""
        return [str(self.base_dir / p) if not os.path.isabs(p) else p for p in self.rules.paths]


# Environment variables that override a config key: secrets and URLs, as deployments expect.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "SLAWATCH_PROMETHEUS_URL": ("prometheus", "url"),
    "SLAWATCH_DATABASE_URL": ("database", "url"),
    "SLAWATCH_LOG_LEVEL": ("log", "level"),
    "SLAWATCH_LOG_FORMAT": ("log", "format"),
    "SLACK_BASE_URL": ("slack", "base_url"),
    "SLAWATCH_LISTEN": ("server", "listen"),
}


def config_path(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read and whether the user named it (then it must exist)."""
    if explicit:
        return Path(explicit), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    return Path(DEFAULT_CONFIG), False


def load_settings(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment and validate; raises InputError with file:line."""
    env = os.environ if env is None else env
    path, required = config_path(explicit, env)
    if path.exists() or required:
        located = load_located(path)
    else:
        located = Located(str(path), {}, {})
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise InputError([located.problem((), "the config must be a YAML mapping")])
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            section_data = data.setdefault(section, {})
            if isinstance(section_data, dict):
                section_data[key] = env[var]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise InputError(located.problems_from(exc)) from None
    return settings.model_copy(
        update={"base_dir": path.parent.resolve() if path.exists() else Path.cwd(), "source": str(path)}
    )
