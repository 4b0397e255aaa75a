"""Config slices for notifications: `slack:`, `oncall:` and `server:`.

Secrets (the bot token, the signing secret) come from the environment
(SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) or a file, and are held as pydantic
SecretStr so they never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from slawatch.config.durations import Duration
from slawatch.oncall import EscalationChain, EscalationLevel, Override, Rotation


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Section):
    """Send tickets whose labels match every `match` pair to `channel` (first match wins)."""

    match: dict[str, str]
    channel: str


class SlackSettings(_Section):
    token: SecretStr | None = None
    token_file: Path | None = None
    signing_secret: SecretStr | None = None
    signing_secret_file: Path | None = None
    base_url: str = "https://slack.com/api/"
    channel: str = "#alerts"
    routes: list[Route] = Field(default_factory=list)
    digest_threshold: int = Field(default=10, ge=1)
    rate_per_channel: float = Field(default=1.0, gt=0, description="messages per second per channel")
    templates_dir: Path | None = None
    timeout: Duration = timedelta(seconds=10)
    fallback_channel: str | None = None  # where undeliverable notifications are reported
    max_attempts: int = Field(default=5, ge=1, description="failed attempts (other than outages) before dead-lettering")

    @field_validator("base_url")
    @classmethod
    def _slash(cls, v: str) -> str:
        return v if v.endswith("/") else v + "/"

    def bot_token(self, env: Mapping[str, str] | None = None) -> str | None:
        """The token from config, a file, or SLACK_BOT_TOKEN; None means console output."""
        return _secret(self.token, self.token_file, "SLACK_BOT_TOKEN", env)

    def secret(self, env: Mapping[str, str] | None = None) -> str | None:
        return _secret(self.signing_secret, self.signing_secret_file, "SLACK_SIGNING_SECRET", env)

    def channel_for(self, labels: Mapping[str, str]) -> str:
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                return route.channel
        return self.channel


def _secret(value: SecretStr | None, file: Path | None, var: str, env: Mapping[str, str] | None) -> str | None:
    env = os.environ if env is None else env
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        return file.read_text().strip()
    return env.get(var) or None


class OverrideSettings(_Section):
    start: datetime
    end: datetime
    person: str


class ScheduleSettings(_Section):
    people: list[str]
    shift: Duration = timedelta(days=7)
    handoff: time = time(9)
    timezone: str = "UTC"
    start_date: date = date(2026, 1, 5)
    overrides: list[OverrideSettings] = Field(default_factory=list)


class LevelSettings(_Section):
    """One step of an escalation chain: exactly one of schedule, user, channel."""

    schedule: str | None = None
    user: str | None = None
    channel: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "LevelSettings":
        if sum(x is not None for x in (self.schedule, self.user, self.channel)) != 1:
            raise ValueError("set exactly one of schedule, user, channel")
        return self

    def level(self) -> EscalationLevel:
        if self.schedule is not None:
            return EscalationLevel("schedule", self.schedule)
        if self.user is not None:
            return EscalationLevel("user", self.user)
        return EscalationLevel("channel", str(self.channel))


class OncallSettings(_Section):
    """Rotations and per-team escalation chains; `team_label` picks the chain."""

    team_label: str = "team"
    schedules: dict[str, ScheduleSettings] = Field(default_factory=dict)
    escalation: dict[str, list[LevelSettings]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> "OncallSettings":
        self.rotations()
        for team, levels in self.escalation.items():
            for i, level in enumerate(levels):
                if level.schedule is not None and level.schedule not in self.schedules:
                    raise ValueError(f"escalation.{team}.{i}.schedule: unknown schedule {level.schedule!r}")
            self.chain(team)
        return self

    def rotations(self) -> dict[str, Rotation]:
        return {
            name: Rotation(
                name, tuple(s.people), s.shift, s.handoff, s.timezone, s.start_date,
                tuple(Override(o.start, o.end, o.person) for o in s.overrides),
            )
            for name, s in self.schedules.items()
        }

    def chain(self, team: str | None) -> EscalationChain | None:
        """The team's chain, else the `default` chain, else None (no on-call configured)."""
        levels = self.escalation.get(team or "") or self.escalation.get("default")
        if not levels:
            return None
        return EscalationChain(team or "default", tuple(level.level() for level in levels))


class ServerSettings(_Section):
    """The HTTP endpoint (Slack interactivity, /healthz, /metrics); empty listen disables it."""

    listen: str = "127.0.0.1:9797"

    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)
