"""The `oncall:` config slice: schedules and escalation policies, and errors that name
`oncall.schedules.NAME.field` / `oncall.escalation.TEAM...` with file and line."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from slawatch.config.located import InputError
from slawatch.config.settings import load_settings
from slawatch.escalation import Step

SCHEDULES = """\
oncall:
  schedules:
    primary:
      people: [U01ALICE, bob@example.com]
      shift: 12h
      handoff: "21:30"
      timezone: Europe/Berlin
      start_date: 2026-03-28
    secondary: {people: [U03DAVE]}
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_settings(str(path), env={}).oncall


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_settings(str(path), env={})
    return [str(p).replace(str(path), "c.yaml") for p in info.value.problems]


def test_the_step_form_with_after_and_repeat(tmp_path: Path) -> None:
    oncall = load(tmp_path, SCHEDULES + """\
  escalation:
    platform:
      steps:
        - schedule: primary
        - {schedule: secondary, after: 10m}
        - {channel: C04LEADS, after: 20m}
      repeat: 1
""")
    policy = oncall.policy("platform")
    assert policy is not None and policy.repeat == 1
    assert policy.steps == (
        Step("schedule", "primary"), Step("schedule", "secondary", timedelta(minutes=10)),
        Step("channel", "C04LEADS", timedelta(minutes=20)),
    )
    assert set(policy.schedules) == {"primary", "secondary"}
    assert policy.schedules["primary"].handoff == time(21, 30)


def test_the_list_form_still_reads_and_may_carry_after(tmp_path: Path) -> None:
    oncall = load(tmp_path, SCHEDULES + """\
  escalation:
    platform: [{schedule: primary}, {schedule: secondary}, {channel: C04LEADS}]
    db: [{user: U09OWNER}, {channel: C04LEADS, after: 15m}]
""")
    assert [s.target for s in oncall.policy("platform").steps] == ["primary", "secondary", "C04LEADS"]
    assert oncall.policy("db").steps[1].after == timedelta(minutes=15)
    assert set(oncall.policy("db").schedules) == set()  # freezes only the rotations it names


def test_none_pages_nobody_and_does_not_fall_back_to_default(tmp_path: Path) -> None:
    oncall = load(tmp_path, SCHEDULES + """\
  escalation:
    default: [{schedule: primary}]
    web: none
""")
    assert oncall.policy("web") is None and oncall.policy_name("web") == "web"
    assert oncall.policy("api").team == "default" and oncall.policy(None).team == "default"


def test_without_any_policy_nothing_pages(tmp_path: Path) -> None:
    assert load(tmp_path, SCHEDULES).policy("platform") is None


@pytest.mark.parametrize("text, expected", [
    pytest.param(SCHEDULES.replace('"21:30"', '"9am"'),
                 'c.yaml:6: oncall.schedules.primary.handoff: must be a quoted "HH:MM" string, e.g. handoff: "09:00", '
                 "got '9am'", id="handoff-not-hh-mm"),
    pytest.param(SCHEDULES.replace("bob@example.com", "bob"),
                 "c.yaml:4: oncall.schedules.primary.people.1: 'bob' is neither a Slack user id", id="bad-person"),
    pytest.param(SCHEDULES.replace("[U03DAVE]", "[]"),
                 "c.yaml:9: oncall.schedules.secondary.people: must not be empty", id="no-people"),
    pytest.param(SCHEDULES.replace("Europe/Berlin", "Europe/Berlim"),
                 "c.yaml:7: oncall.schedules.primary.timezone: unknown time zone 'Europe/Berlim'", id="bad-zone"),
    pytest.param(SCHEDULES.replace("12h", "0s"),
                 "c.yaml:5: oncall.schedules.primary.shift: must be greater than 0s", id="zero-shift"),
    pytest.param(SCHEDULES.replace("start_date: 2026-03-28", "start_date: 2026-13-28"),
                 "c.yaml:8: oncall.schedules.primary.start_date: Input should be a valid date or datetime, month value is outside expected range of 1-12", id="bad-start-date"),
    pytest.param(SCHEDULES.replace("start_date: 2026-03-28", "overrides: [{start: 2026-12-24T09:00:00, "
                                   "end: 2026-12-27T09:00:00+01:00, person: U02CAROL}]"),
                 "c.yaml:8: oncall.schedules.primary.overrides.0.start: needs a UTC offset", id="naive-override"),
    pytest.param(SCHEDULES.replace("start_date: 2026-03-28", "overrides:\n        - start: 2026-12-24T09:00:00Z\n"
                                   "          end: 2026-12-23T09:00:00Z\n          person: U02CAROL"),
                 "c.yaml:10: oncall.schedules.primary.overrides.0.end: must be after start", id="override-backwards"),
    pytest.param(SCHEDULES + "  escalation:\n    platform: []\n",
                 "c.yaml:11: oncall.escalation.platform: an empty chain pages nobody: list at least one step, "
                 "or write `none` to page nobody on purpose", id="empty-chain"),
    pytest.param(SCHEDULES + "  escalation:\n    platform: {steps: []}\n",
                 "c.yaml:11: oncall.escalation.platform.steps: must not be empty (write `none`", id="empty-steps"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n",
                 "c.yaml:11: oncall.escalation.platform: expected a list of steps", id="null-chain"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      - schedule: primary\n      - schedule: secundary\n",
                 "c.yaml:13: oncall.escalation.platform.1.schedule: unknown schedule 'secundary' (known: primary, secondary)",
                 id="unknown-schedule-list-form"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      steps:\n        - {schedule: primary}\n"
                 "        - {schedule: secondary, after: 10m}\n        - {channel: C04LEADS, after: 5m}\n",
                 "c.yaml:15: oncall.escalation.platform.steps.2.after: must be longer than the `after`",
                 id="after-not-increasing"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      - {schedule: primary, after: 5m}\n",
                 "c.yaml:12: oncall.escalation.platform.0.after: the first step is notified when the ticket opens",
                 id="after-on-the-first-step"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      - {schedule: primary, channel: C04LEADS}\n",
                 "c.yaml:12: oncall.escalation.platform.0: set exactly one of schedule, user, channel",
                 id="two-targets"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      - {channel: '<!channel>'}\n",
                 "c.yaml:12: oncall.escalation.platform.0.channel: '<!channel>' is neither a channel id nor a channel name",
                 id="channel-cannot-ping"),
    pytest.param(SCHEDULES + "  escalation:\n    platform:\n      - {schedule: primary}\n      - {user: U0X, after: 0s}\n",
                 "c.yaml:13: oncall.escalation.platform.1.after: must be greater than 0s", id="zero-after"),
    pytest.param(SCHEDULES + "  escalation:\n    platform: {steps: [{schedule: primary}], repeat: -1}\n",
                 "c.yaml:11: oncall.escalation.platform.repeat: Input should be greater than or equal to 0",
                 id="negative-repeat"),
    pytest.param(SCHEDULES + "  escalation:\n    platform: {steps: [{schedule: primary}], repaet: 1}\n",
                 "c.yaml:11: oncall.escalation.platform.repaet: unknown field", id="typo"),
])
def test_errors_name_the_schedule_or_team_field_and_line(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_an_unquoted_handoff_is_read_as_written(tmp_path: Path) -> None:
    """The loader keeps scalars as text (no YAML 1.1 base-60), so `handoff: 9:00` means 09:00, not 540."""
    path = tmp_path / "c.yaml"
    path.write_text(SCHEDULES.replace('"21:30"', "9:00"))
    settings = load_settings(str(path))
    assert settings.oncall.schedules["primary"].handoff.strftime("%H:%M") == "09:00"
