"""Config slices for notifications: `slack:`, `oncall:` and `server:`.

Secrets (the bot token, the signing secret) come from the environment
(SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) or a file, and are held as pydantic
SecretStr so they never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Callable, Mapping

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from slawatch.config.durations import Duration
from slawatch.config.located import error_messages, errors_at
from slawatch.escalation import Policy, Step, policy_problems
from slawatch.oncall import Override, Rotation, check_channel, check_person, check_timezone


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


def _checked(check: Callable[[object], None]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        check(value)
        return value
    return validate


Person = Annotated[str, AfterValidator(_checked(check_person))]
Channel = Annotated[str, AfterValidator(_checked(check_channel))]
_HHMM = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


class OverrideSettings(_Section):
    start: datetime
    end: datetime
    person: Person

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-12-24T09:00:00+01:00")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> "OverrideSettings":
        if self.end <= self.start:
            raise errors_at([(("end",), f"must be after start ({self.start.isoformat()})")])
        return self


class ScheduleSettings(_Section):
    """A rotation; see `slawatch.oncall` for how handoffs behave across DST."""

    people: list[Person]
    shift: Duration = timedelta(days=7)
    handoff: time = time(9)
    timezone: str = "UTC"
    start_date: date = date(2026, 1, 5)
    overrides: list[OverrideSettings] = Field(default_factory=list)

    @field_validator("people")
    @classmethod
    def _someone(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must not be empty: list Slack user ids (U…) or emails")
        return v

    @field_validator("shift")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be greater than 0s")
        return v

    @field_validator("handoff", mode="before")
    @classmethod
    def _hhmm(cls, v: object) -> object:
        """YAML 1.1 reads an unquoted 9:00 as the number 540 (base 60): say so."""
        if isinstance(v, time):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:
            raise ValueError(
                f'must be a quoted "HH:MM" string: got the number {v}, which is how YAML reads an unquoted '
                f'{v // 60}:{v % 60:02d}; write handoff: "{v // 60:02d}:{v % 60:02d}"'
            )
        match = _HHMM.match(v.strip()) if isinstance(v, str) else None
        if match is None:
            raise ValueError(f'must be a quoted "HH:MM" string, e.g. handoff: "09:00", got {v!r}')
        return time(int(match[1]), int(match[2]))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        check_timezone(v)
        return v

    def rotation(self, name: str) -> Rotation:
        return Rotation(
            name, tuple(self.people), self.shift, self.handoff, self.timezone, self.start_date,
            tuple(Override(o.start, o.end, o.person) for o in self.overrides),
        )


class StepSettings(_Section):
    """One step of an escalation policy: exactly one of schedule, user, channel; `after`
    without acknowledgement (counted from the opening), or only at a breach without it."""

    schedule: str | None = None
    user: Person | None = None
    channel: Channel | None = None
    after: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> "StepSettings":
        if sum(x is not None for x in (self.schedule, self.user, self.channel)) != 1:
            raise ValueError("set exactly one of schedule, user, channel")
        if self.after is not None and self.after <= timedelta(0):
            raise errors_at([(("after",), "must be greater than 0s")])
        return self

    def step(self) -> Step:
        if self.schedule is not None:
            return Step("schedule", self.schedule, self.after)
        if self.user is not None:
            return Step("user", self.user, self.after)
        return Step("channel", str(self.channel), self.after)


class PolicySettings(_Section):
    """A team's escalation: the steps in order, walked `repeat` more times if unacknowledged."""

    steps: list[StepSettings]
    repeat: int = Field(default=0, ge=0)


NONE = "none"
"""`escalation: {team: none}`: this team's tickets page nobody (no fallback to `default`)."""


class OncallSettings(_Section):
    """Rotations and per-team escalation policies; `team_label` picks the policy.

    A policy is a list of steps, or `{steps: [...], repeat: N}`, or `none`. A team
    without one gets the `default` policy, if any.
    """

    team_label: str = "team"
    schedules: dict[str, ScheduleSettings] = Field(default_factory=dict)
    escalation: dict[str, PolicySettings | None] = Field(default_factory=dict)

    @field_validator("escalation", mode="before")
    @classmethod
    def _policies(cls, value: object, info: ValidationInfo) -> object:
        """Each team's policy, with every problem at its own path (list form: no `steps`)."""
        if not isinstance(value, dict):
            return value  # pydantic says what is wrong
        schedules = info.data.get("schedules")
        out: dict[str, PolicySettings | None] = {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for team, chain in value.items():
            policy, found = _policy(chain, set(schedules) if schedules is not None else None)
            problems.extend(((team, *path), message) for path, message in found)
            out[team] = policy
        if problems:
            raise errors_at(problems)
        return out

    def rotations(self) -> dict[str, Rotation]:
        return {name: s.rotation(name) for name, s in self.schedules.items()}

    def policy_name(self, team: str | None) -> str | None:
        """Which entry of `escalation` a team's tickets get: its own, else `default`."""
        if team is not None and team in self.escalation:
            return team
        return "default" if "default" in self.escalation else None

    def policy(self, team: str | None) -> Policy | None:
        """The team's policy, with the rotations it names; None: page nobody."""
        name = self.policy_name(team)
        settings = self.escalation.get(name) if name is not None else None
        if settings is None:
            return None
        steps = tuple(s.step() for s in settings.steps)
        named = {s.target for s in steps if s.kind == "schedule"}
        rotations = {n: self.schedules[n].rotation(n) for n in sorted(named)}
        return Policy(name or "default", steps, settings.repeat, rotations)


def _policy(chain: object, schedules: set[str] | None) -> tuple[PolicySettings | None, list[tuple[tuple[str | int, ...], str]]]:
    """One team's entry: validated, and its problems at paths as the YAML has them."""
    if chain == NONE:
        return None, []
    listed = isinstance(chain, list)
    if listed and not chain:
        return None, [((), f"an empty chain pages nobody: list at least one step, or write `{NONE}` to page nobody on purpose")]
    if not listed and not isinstance(chain, dict):
        return None, [((), f"expected a list of steps, {{steps: [...], repeat: N}}, or `{NONE}`, got {chain!r}")]
    try:
        policy = PolicySettings.model_validate({"steps": chain} if listed else chain)
    except ValidationError as exc:
        return None, [(_as_written(loc, listed), message) for loc, message in error_messages(exc)]
    steps = tuple(s.step() for s in policy.steps)
    known = schedules if schedules is not None else {s.target for s in steps}  # schedules failed already
    found = [(_as_written(path, listed), m) for path, m in policy_problems(steps, policy.repeat, dict.fromkeys(known))]
    return policy, found


def _as_written(loc: tuple[str | int, ...], listed: bool) -> tuple[str | int, ...]:
    """The list form has no `steps` key: `steps.1.after` is written `1.after` there."""
    return loc[1:] if listed and loc[:1] == ("steps",) else loc


class ServerSettings(_Section):
    """The HTTP endpoint (Slack interactivity, /healthz, /metrics); empty listen disables it."""

    listen: str = "127.0.0.1:9797"

    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)
