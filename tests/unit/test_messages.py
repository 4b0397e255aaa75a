"""Slack messages: escaping of untrusted text, deadlines in local time, buttons, events, digest, templates."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slawatch.notify.messages import (
    EVENT_KINDS,
    SECTION_LIMIT,
    EventFacts,
    Mention,
    MessageRenderer,
    SlackMessage,
    TemplateFailed,
    TicketFacts,
    escape_mrkdwn,
    mention,
    truncate_mrkdwn,
)

UTC = timezone.utc
OPENED = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 CET
HOSTILE = "<!channel> <@U123> & <b>"
HOSTILE_ESCAPED = "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;b&gt;"
ONCALL = [mention("U0ONCALL1"), mention("C0OPS0001")]
ESCALATE_TO = [mention("U0BOSS001")]
PRODUCED = {"<@U0ONCALL1>", "<#C0OPS0001>", "<@U0BOSS001>", "<@U0ACTOR01>"}

RENDERER = MessageRenderer(timezone="Europe/Berlin")


def make_ticket(**changes: Any) -> TicketFacts:
    base = TicketFacts(
        id=12, priority="P0", status="open", rule="ServiceDown",
        labels={"service": "api", "team": "platform"},
        annotations={"summary": "API service is down", "description": "No instance answers."},
        series=[{"service": "api", "team": "platform", "instance": "10.0.0.1:9100"}], series_count=1,
        opened_at=OPENED, response_due=OPENED + timedelta(minutes=15), recovery_due=OPENED + timedelta(hours=2),
    )
    return dataclasses.replace(base, **changes)


def make_event(kind: str, at: datetime = OPENED + timedelta(minutes=19), **detail: Any) -> EventFacts:
    defaults: dict[str, Any] = {
        "deadline_warning": {"deadline": "response", "due": (OPENED + timedelta(minutes=15)).isoformat()},
        "deadline_breached": {"deadline": "response", "due": (OPENED + timedelta(minutes=15)).isoformat()},
        "resolved_manually": {"note": "restarted the pods"},
        "recovery_verified": {"recovered_at": (OPENED + timedelta(minutes=40)).isoformat()},
        "reopened": {"reason": "condition still firing"},
    }.get(kind, {})
    return EventFacts(kind=kind, at=at, actor="U0ACTOR01", detail={**defaults, **detail})


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a message's blocks."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def all_text(message: SlackMessage) -> list[str]:
    return [message.text, *strings(message.blocks)]


def body(message: SlackMessage) -> str:
    return message.blocks[0]["text"]["text"]


def without_produced_mentions(text: str) -> str:
    for produced in PRODUCED:
        text = text.replace(produced, "")
    return re.sub(r"<https?://[^\s<>|]+\|[^<>]*>", "", text)


def every_message(ticket: TicketFacts) -> list[SlackMessage]:
    events = [RENDERER.event(ticket, make_event(kind), ESCALATE_TO) for kind in EVENT_KINDS]
    return [RENDERER.opening(ticket, ONCALL), *events, RENDERER.digest([ticket] * 3, ONCALL)]


# -- escaping ---------------------------------------------------------------------------------


def test_hostile_label_and_annotation_values_are_escaped_in_text_and_every_block() -> None:
    ticket = make_ticket(
        labels={"service": HOSTILE, "team": "platform"},
        annotations={"summary": HOSTILE, "description": HOSTILE},
        series=[{"service": HOSTILE, "instance": HOSTILE}],
    )
    assert all(HOSTILE_ESCAPED in message.text for message in every_message(ticket)[:-1])  # not the digest count
    for message in every_message(ticket):
        assert any(HOSTILE_ESCAPED in text for text in strings(message.blocks))
        for text in all_text(message):
            assert "<!channel>" not in text and "<@U123>" not in text
            assert "<" not in without_produced_mentions(text) and ">" not in without_produced_mentions(text)


def test_configured_oncall_mentions_are_kept_as_mentions() -> None:
    text = body(RENDERER.opening(make_ticket(), ONCALL))
    assert "<@U0ONCALL1>, <#C0OPS0001>" in text


def test_plain_strings_passed_as_oncall_are_escaped_not_trusted() -> None:
    text = body(RENDERER.opening(make_ticket(), ["<!here>"]))  # type: ignore[list-item]
    assert "<!here>" not in text and "&lt;!here&gt;" in text


def test_hostile_actor_and_note_in_events_are_escaped() -> None:
    event = EventFacts("resolved_manually", OPENED + timedelta(hours=1), actor="<!channel>", detail={"note": HOSTILE})
    message = RENDERER.event(make_ticket(), event, [])
    assert "&lt;!channel&gt;" in body(message) and HOSTILE_ESCAPED in body(message)
    assert "<!" not in "".join(all_text(message))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("U024BE7LH", "<@U024BE7LH>"),
        ("W012A3CDE", "<@W012A3CDE>"),
        ("C024BE91L", "<#C024BE91L>"),
        ("G024BE91L", "<#G024BE91L>"),
        ("here", "here"),
        ("channel", "channel"),
        ("oncall@example.com", "oncall@example.com"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("Alice & Bob", "Alice &amp; Bob"),
        ("u024be7lh", "u024be7lh"),
    ],
)
def test_mention_builds_mentions_only_from_ids_and_escapes_everything_else(value: str, expected: str) -> None:
    result = mention(value)
    assert isinstance(result, Mention) and result == expected


def test_broadcast_mentions_only_when_explicitly_configured() -> None:
    assert mention("here", broadcast=True) == "<!here>"
    assert mention("@channel", broadcast=True) == "<!channel>"
    assert mention("<!everyone>", broadcast=True) == "&lt;!everyone&gt;"


def test_runbook_url_becomes_a_link_only_when_it_is_a_plain_http_url() -> None:
    good = body(RENDERER.opening(make_ticket(annotations={"runbook_url": "https://wiki/x?a=1&b=2"}), []))
    assert "<https://wiki/x?a=1&amp;b=2|open runbook>" in good
    bad = body(RENDERER.opening(make_ticket(annotations={"runbook_url": "https://x|<!channel>"}), []))
    assert "<!channel>" not in bad and "https://x|&lt;!channel&gt;" in bad


# -- time -------------------------------------------------------------------------------------


def test_deadlines_are_rendered_in_the_configured_timezone_across_a_dst_change() -> None:
    # Europe/Berlin moves from CET (+01) to CEST (+02) at 2026-03-29 01:00 UTC.
    opened = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    ticket = make_ticket(opened_at=opened, response_due=opened + timedelta(minutes=15),
                         recovery_due=opened + timedelta(hours=2))
    message = RENDERER.opening(ticket, [])
    assert "*Respond by:* 2026-03-29 01:45 CET" in body(message)
    assert "*Recover by:* 2026-03-29 04:30 CEST" in body(message)
    assert "opened 2026-03-29 01:30 CET" in message.blocks[1]["elements"][0]["text"]


def test_utc_renderer_shows_utc() -> None:
    assert "*Respond by:* 2026-03-10 08:15 UTC" in body(MessageRenderer().opening(make_ticket(), []))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "1m 30s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, minutes=5, seconds=59), "1h 5m"),
        (timedelta(days=1, minutes=3), "1d"),
        (timedelta(days=2, hours=3), "2d 3h"),
        (3900, "1h 5m"),
        (-300, "-5m"),
    ],
)
def test_duration_filter_shows_the_two_largest_units(value: Any, expected: str) -> None:
    assert RENDERER._env.filters["duration"](value) == expected


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="opened_at"):
        make_ticket(opened_at=datetime(2026, 3, 10, 8, 0))
    with pytest.raises(ValueError, match="at"):
        EventFacts("acknowledged", datetime(2026, 3, 10, 8, 0))


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        MessageRenderer(timezone="Mars/Olympus")


# -- the opening message ----------------------------------------------------------------------


def test_opening_message_carries_priority_summary_service_oncall_and_ticket_id() -> None:
    message = RENDERER.opening(make_ticket(), ONCALL)
    assert message.text == "P0 #12 API service is down (api)"
    text = body(message)
    for expected in ("*P0 · API service is down*", "*Service:* api", "Open, waiting for acknowledgement",
                     "*On call:* <@U0ONCALL1>", 'instance="10.0.0.1:9100"', "No instance answers."):
        assert expected in text
    assert message.blocks[1]["elements"][0]["text"].startswith("Ticket #12 · rule ServiceDown")


def test_summary_falls_back_to_the_rule_name() -> None:
    message = RENDERER.opening(make_ticket(annotations={}), [])
    assert message.text == "P0 #12 ServiceDown (api)"


def test_opening_lists_ten_series_and_says_how_many_more() -> None:
    series = [{"service": "api", "team": "platform", "instance": f"host{i}"} for i in range(20)]
    text = body(RENDERER.opening(make_ticket(series=series, series_count=25), []))
    assert text.count("• `") == 10
    assert 'instance="host9"' in text and "host10" not in text
    assert "*Affected series (25):*" in text and "_and 15 more_" in text


def test_series_show_only_the_labels_that_differ_from_the_ticket() -> None:
    series = [{"service": "api", "team": "platform", "instance": "a", "job": "node"}]
    assert '• `instance="a", job="node"`' in body(RENDERER.opening(make_ticket(series=series), []))


def buttons(message: SlackMessage) -> dict[str, dict[str, Any]]:
    actions = [b for b in message.blocks if b["type"] == "actions"]
    return {e["action_id"]: e for a in actions for e in a["elements"]}


def test_open_ticket_has_acknowledge_and_resolve_buttons() -> None:
    found = buttons(RENDERER.opening(make_ticket(), []))
    assert set(found) == {"ack", "resolve"}
    assert (found["ack"]["value"], found["ack"]["style"]) == ("12", "primary")
    assert (found["resolve"]["value"], found["resolve"]["style"]) == ("12", "danger")


def test_acknowledged_ticket_hides_acknowledge_and_shows_who() -> None:
    ticket = make_ticket(status="acknowledged", acknowledged_at=OPENED + timedelta(minutes=20),
                         acknowledged_by="U0ALICE01")
    message = RENDERER.opening(ticket, [])
    assert set(buttons(message)) == {"resolve"}
    assert "Acknowledged by <@U0ALICE01> at 2026-03-10 09:20 CET" in body(message)
    assert "(responded in 20m, late)" in body(message)


@pytest.mark.parametrize(("resolution", "wording"), [("verified", "recovery verified"), ("manual", "Resolved manually")])
def test_resolved_ticket_has_no_buttons_and_says_how_it_was_resolved(resolution: str, wording: str) -> None:
    ticket = make_ticket(status="resolved", resolved_at=OPENED + timedelta(hours=1), resolution=resolution)
    message = RENDERER.opening(ticket, [])
    assert buttons(message) == {}
    assert wording in body(message)


def test_recovering_ticket_says_verification_is_running() -> None:
    ticket = make_ticket(recovered_at=OPENED + timedelta(minutes=30))
    assert "Condition clear since 2026-03-10 09:30 CET, verifying recovery" in body(RENDERER.opening(ticket, []))


def test_long_description_is_cut_to_slack_limit_without_splitting_an_entity() -> None:
    ticket = make_ticket(annotations={"summary": "s", "description": "&" * 5000})
    text = body(RENDERER.opening(ticket, []))
    assert len(text) <= SECTION_LIMIT
    assert text.endswith("&amp;…")


# -- thread replies ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_every_event_kind_renders_a_message_naming_the_ticket(kind: str) -> None:
    message = RENDERER.event(make_ticket(), make_event(kind), ESCALATE_TO)
    assert "#12" in message.text
    assert body(message).strip()
    assert message.blocks[1]["elements"][0]["text"].startswith("Ticket #12 · P0")
    assert not buttons(message)


def test_unknown_event_kind_still_renders() -> None:
    message = RENDERER.event(make_ticket(), make_event("silenced"), [])
    assert "*silenced* on ticket #12" in body(message)


def test_breach_reply_says_which_deadline_when_and_who_is_paged() -> None:
    message = RENDERER.event(make_ticket(), make_event("deadline_breached"), ESCALATE_TO)
    assert body(message) == (
        ":rotating_light: *Response deadline BREACHED* (due 09:15 CET, 4m ago): escalating to <@U0BOSS001>"
    )
    assert message.text == "P0 #12 API service is down: response deadline BREACHED"


def test_breach_recorded_at_the_due_instant_does_not_say_ago() -> None:
    event = make_event("deadline_breached", at=OPENED + timedelta(minutes=15))
    assert "(due 09:15 CET)" in body(RENDERER.event(make_ticket(), event, []))


def test_warning_reply_says_how_long_is_left() -> None:
    event = make_event("deadline_warning", at=OPENED + timedelta(minutes=12), deadline="recovery",
                       due=(OPENED + timedelta(hours=2)).isoformat())
    text = body(RENDERER.event(make_ticket(), event, ONCALL[:1]))
    assert text == ":warning: *Recovery deadline in 1h 48m* (due 11:00 CET): not recovered yet <@U0ONCALL1>"


def test_acknowledged_reply_says_response_time_and_whether_it_was_met() -> None:
    event = make_event("acknowledged", at=OPENED + timedelta(minutes=4))
    text = body(RENDERER.event(make_ticket(), event, []))
    assert text == ":eyes: *Acknowledged* by <@U0ACTOR01> after 4m, response deadline met (due 09:15 CET)"


def test_recovery_verified_reply_says_recovery_time() -> None:
    text = body(RENDERER.event(make_ticket(), make_event("recovery_verified", at=OPENED + timedelta(minutes=45)), []))
    assert "clear since 09:40 CET, recovered in 40m, recovery deadline met" in text


# -- digest -----------------------------------------------------------------------------------


def many_tickets(count: int, summary: str = "Disk almost full") -> list[TicketFacts]:
    priorities = ["P2", "P1", "P0"]
    return [
        make_ticket(id=i, priority=priorities[i % 3], annotations={"summary": f"{summary} {i}"},
                    labels={"service": f"svc{i}"})
        for i in range(1, count + 1)
    ]


def test_digest_of_200_tickets_stays_within_slack_limits_and_says_how_many_more() -> None:
    message = RENDERER.digest(many_tickets(200), ONCALL)
    assert len(message.blocks) <= 50
    assert all(len(t) <= SECTION_LIMIT for t in strings(message.blocks))
    text = body(message)
    listed = text.count("\n• ")
    assert 0 < listed < 200
    assert f"_and {200 - listed} more_" in text
    assert text.startswith(":rotating_light: *200 tickets opened*: 67 P0, 67 P1, 66 P2")
    assert message.text == "200 tickets opened (67 P0, 67 P1, 66 P2)"
    assert "*On call:* <@U0ONCALL1>, <#C0OPS0001>" in text


def test_digest_lists_p0_first() -> None:
    lines = [line for line in body(RENDERER.digest(many_tickets(9), [])).splitlines() if line.startswith("• ")]
    assert [line[3:5] for line in lines] == ["P0"] * 3 + ["P1"] * 3 + ["P2"] * 3
    assert "more_" not in body(RENDERER.digest(many_tickets(9), []))


def test_digest_with_long_summaries_lists_fewer_tickets_to_fit_one_section() -> None:
    message = RENDERER.digest(many_tickets(200, summary="x" * 400), [])
    text = body(message)
    listed = text.count("\n• ")
    assert len(text) <= SECTION_LIMIT and not text.endswith("…")
    assert 0 < listed < 10 and f"_and {200 - listed} more_" in text


# -- templates --------------------------------------------------------------------------------


def test_a_user_template_directory_overrides_the_shipped_template(tmp_path: Path) -> None:
    (tmp_path / "opening.md.j2").write_text("Custom {{ ticket.priority }} #{{ ticket.id }}: {{ summary }}\n")
    message = MessageRenderer(tmp_path).opening(make_ticket(annotations={"summary": HOSTILE}), [])
    assert body(message) == f"Custom P0 #12: {HOSTILE_ESCAPED}"
    assert message.text == body(message)
    assert set(buttons(message)) == {"ack", "resolve"}
    # templates the user did not override still come from the package
    assert "*Acknowledged*" in body(MessageRenderer(tmp_path).event(make_ticket(), make_event("acknowledged"), []))


def test_a_user_template_can_extend_the_shipped_one_and_change_a_block(tmp_path: Path) -> None:
    (tmp_path / "opening.md.j2").write_text(
        '{% extends "default/opening.md.j2" %}\n{% block footer %}Team {{ ticket.labels["team"] }}{% endblock %}\n'
    )
    message = MessageRenderer(tmp_path).opening(make_ticket(), [])
    assert message.blocks[1]["elements"][0]["text"] == "Team platform"
    assert "*Service:* api" in body(message)


def test_a_broken_override_raises_template_failed_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "opening.md.j2").write_text("line one\n{% if ticket.id %}\nnever closed\n")
    with pytest.raises(TemplateFailed) as failure:
        MessageRenderer(tmp_path).opening(make_ticket(), [])
    assert failure.value.template.endswith("opening.md.j2")
    assert str(tmp_path) in str(failure.value) and failure.value.line is not None


def test_a_typo_in_an_override_fails_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "event.md.j2").write_text("fine\n{{ tikcet.id }}\n")
    with pytest.raises(TemplateFailed) as failure:
        MessageRenderer(tmp_path).event(make_ticket(), make_event("opened"), [])
    assert str(failure.value).startswith(f"{tmp_path / 'event.md.j2'}:2: ")
    assert "tikcet" in failure.value.reason


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "digest.md.j2").write_text("{{ tickets.__class__.__mro__ }}\n")
    with pytest.raises(TemplateFailed, match="digest.md.j2:1"):
        MessageRenderer(tmp_path).digest(many_tickets(2), [])


def test_check_accepts_the_shipped_templates_and_rejects_a_broken_override(tmp_path: Path) -> None:
    MessageRenderer(timezone="Europe/Berlin").check()
    (tmp_path / "event.md.j2").write_text("{{ event.kind }}{% if event.kind == 'reopened' %} {{ event.detail.raeson }}{% endif %}\n")
    with pytest.raises(TemplateFailed, match="event.md.j2:1"):
        MessageRenderer(tmp_path).check()


# -- invariants -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(value=st.text(max_size=300), name=st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
def test_arbitrary_label_text_never_produces_angle_brackets_except_slawatch_mentions(value: str, name: str) -> None:
    ticket = make_ticket(
        labels={"service": value, name: value},
        annotations={"summary": value, "description": value, name: value},
        series=[{name: value, "instance": value}], series_count=3,
    )
    for message in every_message(ticket):
        for text in all_text(message):
            rest = without_produced_mentions(text)
            assert "<" not in rest and ">" not in rest


@given(text=st.text(alphabet="a&<>;@!U1 ", max_size=80), limit=st.integers(min_value=1, max_value=60))
def test_truncation_never_splits_an_entity_or_a_mention(text: str, limit: int) -> None:
    escaped = escape_mrkdwn(text)
    mentioned = f"{escaped}<@U0ONCALL1>{escaped}"
    for source in (escaped, mentioned):
        cut = truncate_mrkdwn(source, limit)
        assert len(cut) <= max(limit, 1)
        kept = cut if cut == source else cut[:-1]
        assert source.startswith(kept)
        assert re.fullmatch(r"([^&<>]|&(amp|lt|gt);|<@U0ONCALL1>)*", kept)


@given(text=st.text(max_size=200))
def test_escaping_is_reversible_and_leaves_no_angle_brackets(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
