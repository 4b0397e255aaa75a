"""The `sla:` and `classification:` config slices, turned into the pure core's policies.

Targets are written as a duration (`30m`, 24x7 clock) or as `{within: 1d, clock:
business}`. On the business clock a day (`d`, `w` = 5 d) is one working day of
business hours (9 h for 09:00-18:00), while `h` and `m` are business hours and minutes,
so "1 business day" reads as `within: 1d`.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slawatch.config.durations import Duration, DurationError, parse_duration
from slawatch.model import Priority
from slawatch.sla.business_time import BusinessCalendar, business_day_length
from slawatch.sla.classify import DEFAULT_SEVERITY_MAP, Classification
from slawatch.sla.deadlines import Clock, PriorityPolicy, SlaPolicy, Target

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DAY_PART = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(.*)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSpec(_Section):
    within: str
    clock: Literal["24x7", "business"] = "24x7"

    @field_validator("within")
    @classmethod
    def _duration(cls, v: str) -> str:
        try:
            parse_duration(v)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return v

    def target(self, business_day: timedelta) -> Target:
        if self.clock == "24x7":
            return Target(parse_duration(self.within), Clock.CALENDAR)
        weeks, days, rest = _DAY_PART.match(self.within).groups()  # type: ignore[union-attr]
        amount = (int(weeks or 0) * 5 + int(days or 0)) * business_day
        if rest:
            amount += parse_duration(rest)
        return Target(amount, Clock.BUSINESS)


def _target_spec(value: object) -> object:
    return {"within": value} if isinstance(value, str) else value


class PrioritySettings(_Section):
    """Overrides for one priority; anything left out keeps the default table's value."""

    response: TargetSpec | None = None
    recovery: TargetSpec | None = None
    verification: Duration | None = None
    warn_at: float | None = Field(default=None, gt=0, le=1)
    target: float | None = Field(default=None, gt=0, le=1, description="attainment target, e.g. 0.95")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: _target_spec(v) if k in ("response", "recovery") else v for k, v in data.items()}
        return data


class BusinessHours(_Section):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9)
    end: time = time(18)


class Holidays(_Section):
    country: str | None = None
    subdivision: str | None = None
    dates: list[date] = Field(default_factory=list)


class ServiceSettings(_Section):
    """A service's availability objective (the `service` label names the service)."""

    availability_target: float = Field(default=0.999, gt=0, le=1)
    availability_query: str | None = None  # a PromQL ratio of good to total, optional


class SlaSettings(_Section):
    timezone: str = "UTC"
    business_hours: BusinessHours = BusinessHours()
    holidays: Holidays = Holidays()
    priorities: dict[Priority, PrioritySettings] = Field(default_factory=dict)
    watch_interval: Duration = timedelta(seconds=10)
    services: dict[str, ServiceSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _builds(self) -> "SlaSettings":
        self.policy()  # surface calendar/target errors at load time, naming the field
        return self

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=self.timezone,
            workdays=frozenset(_DAYS[d] for d in self.business_hours.days),
            start=self.business_hours.start,
            end=self.business_hours.end,
            holiday_country=self.holidays.country,
            holiday_subdivision=self.holidays.subdivision,
            extra_holidays=frozenset(self.holidays.dates),
        )

    def policy(self) -> SlaPolicy:
        """The default table with this config's overrides applied."""
        cal = self.calendar()
        base = SlaPolicy.default(cal)
        day = business_day_length(cal)
        out = {}
        for priority, default in base.priorities.items():
            o = self.priorities.get(priority, PrioritySettings())
            out[priority] = PriorityPolicy(
                response=o.response.target(day) if o.response else default.response,
                recovery=o.recovery.target(day) if o.recovery else default.recovery,
                verification=o.verification if o.verification is not None else default.verification,
                warn_at=o.warn_at if o.warn_at is not None else default.warn_at,
                target_attainment=o.target if o.target is not None else default.target_attainment,
            )
        return SlaPolicy(cal, out)


class ClassificationSettings(_Section):
    label: str = "severity"
    map: dict[str, Priority] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default: Priority = Priority.P2

    def policy(self) -> Classification:
        return Classification(self.label, {k.lower(): v for k, v in self.map.items()}, self.default)

