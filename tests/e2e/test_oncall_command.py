"""`slawatch oncall who` and `slawatch oncall export`, run as the command users type."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from icalendar import Calendar

REPO = Path(__file__).resolve().parents[2]
CONFIG = """\
oncall:
  schedules:
    primary:
      people: [U01ALICE, bob@example.com]
      shift: 12h
      handoff: "09:00"
      timezone: Europe/Berlin
      start_date: 2026-03-28
      overrides: [{start: 2026-03-29T12:00:00+02:00, end: 2026-03-29T15:00:00+02:00, person: U02CAROL}]
    secondary: {people: [U03DAVE], start_date: 2026-04-06}
  escalation:
    platform:
      steps:
        - schedule: primary
        - {schedule: secondary, after: 10m}
        - {channel: C04LEADS, after: 20m}
      repeat: 1
    web: none
"""


def oncall(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "slawatch.yaml"
    config.write_text(CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "slawatch", "oncall", *args, "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )


def test_who_prints_each_schedule_and_the_chain_a_ticket_would_get(tmp_path: Path) -> None:
    """Sunday 29 March 2026, 10:00 CEST: the 12 h shift handed off at 09:00 CEST (not 10:00);
    the secondary has not started, so its step would fall through to the channel."""
    result = oncall(tmp_path, "who", "--at", "2026-03-29T10:00+02:00", "--team", "platform")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "On call at 2026-03-29 08:00:00 UTC:"
    assert lines[1].split() == ["primary", "U01ALICE", "until", "2026-03-29", "21:00", "CEST"]
    assert lines[2].split() == ["secondary", "nobody", "rotation", "starts", "2026-04-06", "09:00", "UTC"]
    assert "Escalation for team platform, for a ticket opened now:" in lines
    steps = lines[lines.index("Escalation for team platform, for a ticket opened now:") + 1:]
    assert steps[0].split() == ["1.", "schedule", "primary", "U01ALICE", "at", "open"]
    assert steps[1].split() == ["2.", "schedule", "secondary", "nobody", "on", "call", "->", "step", "3", "after", "10m"]
    assert steps[2].split() == ["3.", "channel", "C04LEADS", "-", "after", "20m"]
    assert steps[3].strip() == "then 1 more pass if unacknowledged, a pass lasts 30m"


def test_who_for_a_team_without_a_policy_says_nobody_is_paged(tmp_path: Path) -> None:
    result = oncall(tmp_path, "who", "--team", "web")
    assert result.returncode == 0, result.stderr
    assert "Escalation for team web: none, its tickets page nobody" in result.stdout


def test_who_refuses_an_instant_without_its_offset(tmp_path: Path) -> None:
    result = oncall(tmp_path, "who", "--at", "2026-03-29T10:00")
    assert result.returncode == 2
    assert "needs a UTC offset" in result.stderr


def test_export_writes_the_rotation_as_an_ics_calendar(tmp_path: Path) -> None:
    out = tmp_path / "primary.ics"
    result = oncall(tmp_path, "export", "--schedule", "primary", "--weeks", "1", "--from", "2026-03-28T10:00+01:00",
                    "--output", str(out))
    assert result.returncode == 0, result.stderr
    events = [c for c in Calendar.from_ical(out.read_bytes()).walk("VEVENT")]
    turns = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in events]
    utc = lambda *a: datetime(*a, tzinfo=timezone.utc)  # noqa: E731
    assert turns[:5] == [
        (utc(2026, 3, 28, 8), utc(2026, 3, 28, 20), "On call (primary): U01ALICE"),
        (utc(2026, 3, 28, 20), utc(2026, 3, 29, 7), "On call (primary): bob@example.com"),  # 11 h: spring forward
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 10), "On call (primary): U01ALICE"),
        (utc(2026, 3, 29, 10), utc(2026, 3, 29, 13), "On call (primary): U02CAROL"),  # the override
        (utc(2026, 3, 29, 13), utc(2026, 3, 29, 19), "On call (primary): U01ALICE"),
    ]
    assert turns[-1][1] <= utc(2026, 4, 4, 9) and len({e["uid"] for e in events}) == len(events)


def test_export_of_an_unknown_schedule_names_the_known_ones(tmp_path: Path) -> None:
    result = oncall(tmp_path, "export", "--schedule", "tertiary")
    assert result.returncode == 1
    assert "error: unknown schedule 'tertiary' (known: primary, secondary)" in result.stderr
