"""`slawatch oncall`: who is on call, the chain a new ticket would get, and ICS calendars."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import click

from slawatch import escalation
from slawatch import oncall as rotations
from slawatch.config.durations import format_duration
from slawatch.config.notify import OncallSettings
from slawatch.escalation import Policy

__all__ = ["oncall", "render_calendar", "render_who"]

_LOCAL = "%Y-%m-%d %H:%M %Z"
config_option = click.option("--config", "config_file", envvar="SLAWATCH_CONFIG", default=None, metavar="FILE",
                             help="Config file (default: slawatch.yaml, or $SLAWATCH_CONFIG).")


@click.group()
def oncall() -> None:
    """Who is on call, and rotations as calendars.

    \b
    Example:
      slawatch oncall who --team platform
      slawatch oncall who --at 2026-10-25T09:00+01:00
      slawatch oncall export --schedule primary --weeks 8 --output primary.ics
    """


def _instant(text: str | None, option: str) -> datetime:
    """Now, or an ISO instant that says its offset (a bare local time is ambiguous)."""
    if not text:
        return datetime.now(timezone.utc)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 instant, e.g. 2026-03-29T09:00+02:00",
                                 param_hint=option) from None
    if at.utcoffset() is None:
        raise click.BadParameter(f"{text!r} needs a UTC offset, e.g. {text}+02:00 or {text}Z", param_hint=option)
    return at.astimezone(timezone.utc)


def _oncall_settings(config_file: str | None) -> OncallSettings:
    from slawatch.cli.common import load

    return load(config_file).oncall


@oncall.command("who")
@config_option
@click.option("--at", "at_text", metavar="ISO", help="The instant (default: now), with its offset.")
@click.option("--team", help="Only the chain this team's tickets get (its own, else `default`).")
def who(config_file: str | None, at_text: str | None, team: str | None) -> None:
    """Who is on call per schedule, and the escalation chain a new ticket would get.

    \b
    Examples:
      slawatch oncall who --team platform
      slawatch oncall who --at 2026-10-25T09:00+01:00
    """
    settings = _oncall_settings(config_file)
    click.echo(render_who(settings, _instant(at_text, "--at"), team))


@oncall.command("export")
@config_option
@click.option("--schedule", "name", required=True, help="The schedule (oncall.schedules.NAME).")
@click.option("--weeks", type=click.IntRange(1, 520), default=4, show_default=True, help="How far ahead.")
@click.option("--from", "from_text", metavar="ISO", help="Start (default: now); the shift then is included whole.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write to FILE instead of the terminal.")
def export(config_file: str | None, name: str, weeks: int, from_text: str | None, output: str | None) -> None:
    """The rotation, overrides applied, as an ICS (iCalendar) file: one event per turn.

    \b
    Example:
      slawatch oncall export --schedule primary --weeks 8 --output primary.ics
    """
    settings = _oncall_settings(config_file)
    if name not in settings.schedules:
        known = ", ".join(sorted(settings.schedules)) or "none configured"
        click.echo(f"error: unknown schedule {name!r} (known: {known})", err=True)
        sys.exit(1)
    start = _instant(from_text, "--from")
    text = render_calendar(settings.schedules[name].rotation(name), start, timedelta(weeks=weeks),
                           datetime.now(timezone.utc))
    if output:
        with open(output, "wb") as f:
            f.write(text)
    else:
        click.echo(text.decode("utf-8"), nl=False)


# -- views ------------------------------------------------------------------------------


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime(_LOCAL)


def render_who(settings: OncallSettings, at: datetime, team: str | None) -> str:
    """The schedules at `at`, then each team's chain (or only `team`'s)."""
    lines = [f"On call at {at.strftime('%Y-%m-%d %H:%M:%S')} UTC:"]
    rows = []
    for name, rotation in sorted(settings.rotations().items()):
        person = rotations.who_is_on_call(rotation, at)
        if person:
            until = f"until {_local(rotations.next_handoff(rotation, at), rotation.timezone)}"
            rows.append((name, person, until))
        else:
            rows.append((name, "nobody", f"rotation starts {_local(person.starts_at, rotation.timezone)}"))
    lines += _table(rows) if rows else ["  (no schedules configured)"]
    teams = [team] if team is not None else sorted(settings.escalation)
    if not teams:
        lines += ["", "No escalation configured: tickets page nobody."]
    for name in teams:
        lines += ["", *_chain(settings, name, at)]
    return "\n".join(lines)


def _chain(settings: OncallSettings, team: str, at: datetime) -> list[str]:
    used = settings.policy_name(team)
    policy = settings.policy(team)
    heading = f"Escalation for team {team}" + (f" (uses `{used}`)" if used not in (team, None) else "")
    if policy is None:
        return [heading + ": none, its tickets page nobody"]
    lines = [heading + ", for a ticket opened now:"]
    rows = []
    for level, step in enumerate(policy.steps):
        offset = policy.offset_of(level)
        when = "at open" if level == 0 else (f"after {_duration(offset)}" if offset is not None else "at a breach")
        rows.append((f"{level + 1}.", f"{step.kind} {step.target}", _reached(policy, level, at + (offset or timedelta(0))), when))
    lines += _table(rows)
    if policy.repeat:
        length = policy.pass_length
        every = f", a pass lasts {_duration(length)}" if length is not None else ", at breaches past the last step"
        lines.append(f"  then {policy.repeat} more pass{'es' if policy.repeat > 1 else ''} if unacknowledged{every}")
    return lines


def _reached(policy: Policy, level: int, at: datetime) -> str:
    """Who the step would reach at `at`; a schedule with nobody on call passes it on."""
    reached, notified, skipped = escalation.reach(policy, level, at)
    if skipped:
        return f"nobody on call -> step {reached + 1}" if notified else "nobody on call, nobody after it"
    if notified is None or notified.kind == "channel":
        return "-"
    return notified.person or "-"


def _duration(delta: timedelta | None) -> str:
    return format_duration(delta or timedelta(0))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def render_calendar(rotation: rotations.Rotation, start: datetime, span: timedelta, stamp: datetime) -> bytes:
    """An iCalendar with one event per turn on call from the shift at `start` for `span`."""
    from icalendar import Calendar, Event

    shift = rotations.shift_at(rotation, start)
    begin = shift.start if shift is not None else start
    calendar = Calendar()
    calendar.add("prodid", "-//slawatch//on-call rotation//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {rotation.name}")
    calendar.add("x-wr-timezone", rotation.timezone)
    for segment in rotations.segments(rotation, begin, start + span):
        event = Event()
        event.add("uid", f"{rotation.name}-{segment.start.strftime('%Y%m%dT%H%M%SZ')}@slawatch")
        event.add("dtstamp", stamp)
        event.add("dtstart", segment.start)
        event.add("dtend", segment.end)
        event.add("summary", f"On call ({rotation.name}): {segment.person}")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
