"""Slack messages for tickets: the opening message, its thread replies and the digest.

Pure: ticket and event facts in, a `SlackMessage` (fallback text + Block Kit) out. The
only I/O is Jinja2 reading template files: the user's `template_dir` first, then the
package's `slawatch/templates/slack`. A user file may `{% extends "default/opening.md.j2" %}`
to change one block of the shipped template (see `slawatch.templates`).

Escaping is not optional. Every `{{ value }}` a template prints goes through `finalize`,
which escapes `&`, `<` and `>` for Slack mrkdwn, so a label value `<!channel>` shows as
text and pings nobody. The one exception is a `Mention`: mrkdwn slawatch built itself
(`<@U…>`, `<#C…>`, a configured `<!here>`, a checked `<https://…|link>`), which is what
the `oncall`/`mentions` variables and the `mention`, `join_mentions` and `link` filters
return. Consequence: text captured by a macro, `{% set %}` block or `self.block()` is
escaped again when printed; templates print values directly or use `{% include %}`.

A template yields three Jinja blocks: `fallback` (the notification text; default: the
first line of the body), `body` (the section; default: the whole template output) and
`footer` (a context line; optional).
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slawatch import templates
from slawatch.model import EventKind
from slawatch.templates import TemplateFailed  # re-exported: `slawatch check` catches it from here
from slawatch.templates.formats import human_duration

__all__ = [
    "EVENT_KINDS", "SECTION_LIMIT", "EventFacts", "Mention", "MessageRenderer", "SlackMessage",
    "TemplateFailed", "TicketFacts", "escape_mrkdwn", "mention", "truncate_mrkdwn",
]

SECTION_LIMIT = 3000
"""Slack's limit on a section's (and a context element's) mrkdwn text."""
SERIES_SHOWN = 10
DIGEST_MAX_LINES = 40
OPENING, EVENT, DIGEST = "opening.md.j2", "event.md.j2", "digest.md.j2"
EVENT_KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)
"""The timeline events a thread reply is written for; `check` renders each of them."""
_UTC = timezone.utc
_LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


class Mention(str):
    """Mrkdwn that slawatch produced itself (a mention or a checked link); never escaped again.

    Build one with `mention()`; never wrap text that came from labels or annotations.
    """

    __slots__ = ()


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack mrkdwn gives meaning to: `&`, `<`, `>`."""
    return str.replace(str.replace(str.replace(text, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_BROADCASTS = ("here", "channel")
_URL = re.compile(r"https?://[^\s<>|]+")


def mention(user_or_channel: str, *, broadcast: bool = False) -> Mention:
    """`U…`/`W…` -> `<@U…>`, `C…`/`G…` -> `<#C…>`; `here`/`channel` -> `<!here>`/`<!channel>`
    only with `broadcast=True` (a configured target, never a label); anything else (an
    unresolved email, a plain name) -> escaped plain text."""
    value = user_or_channel.strip()
    if _USER_ID.fullmatch(value):
        return Mention(f"<@{value}>")
    if _CHANNEL_ID.fullmatch(value):
        return Mention(f"<#{value}>")
    if broadcast and value.lstrip("@!") in _BROADCASTS:
        return Mention(f"<!{value.lstrip('@!')}>")
    return Mention(escape_mrkdwn(user_or_channel))


def truncate_mrkdwn(text: str, limit: int = SECTION_LIMIT, ellipsis: str = "…") -> str:
    """Cut escaped mrkdwn to `limit` characters without splitting an entity or a `<…>`."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - len(ellipsis), 0)]
    while True:
        amp, angle = head.rfind("&"), head.rfind("<")
        if amp != -1 and ";" not in head[amp:]:
            head = head[:amp]
        elif angle != -1 and ">" not in head[angle:]:
            head = head[:angle]
        else:
            return head + ellipsis


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _require_aware(owner: object, names: Sequence[str]) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{type(owner).__name__}.{name}: must be timezone-aware, got {value!r}")


@dataclass(frozen=True)
class TicketFacts:
    """What a message may say about a ticket; all datetimes aware (UTC)."""

    id: int
    priority: str
    status: str
    rule: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    series: Sequence[Mapping[str, str]]
    series_count: int
    opened_at: datetime
    response_due: datetime
    recovery_due: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    recovered_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None

    def __post_init__(self) -> None:
        for name in ("priority", "status", "resolution"):
            object.__setattr__(self, name, _plain(getattr(self, name)))
        _require_aware(self, ("opened_at", "response_due", "recovery_due", "acknowledged_at",
                              "recovered_at", "resolved_at"))

    @property
    def is_resolved(self) -> bool:
        return self.status == "resolved" or self.resolved_at is not None

    @property
    def is_acknowledged(self) -> bool:
        return self.status == "acknowledged" or self.acknowledged_at is not None


@dataclass(frozen=True)
class EventFacts:
    """One timeline event to post in the ticket's thread; `kind` is one of `EVENT_KINDS`."""

    kind: str
    at: datetime
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _plain(self.kind))
        _require_aware(self, ("at",))


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the (escaped) notification fallback; `blocks` the Block Kit payload."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class _Rendered:
    fallback: str
    body: str
    footer: str


class MessageRenderer:
    """Renders tickets and events into Slack messages from (overridable) Jinja2 templates."""

    def __init__(self, template_dir: Path | None = None, timezone: str = "UTC",
                 digest_max_lines: int = DIGEST_MAX_LINES) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {timezone!r}") from exc
        self._timezone = timezone
        self._digest_max_lines = digest_max_lines
        self._env = templates.environment("slack", template_dir, finalize=_finalize, filters=self._filters())

    def _filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "localtime": self.localtime, "duration": human_duration, "labelset": _labelset,
            "mention": _mention_filter, "join_mentions": _join_mentions, "link": _link,
            "summary": _summary,
        }

    def localtime(self, value: datetime, fmt: str = _LOCAL_FORMAT) -> str:
        """An aware datetime in the renderer's timezone, e.g. `2026-03-29 09:15 CEST`."""
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"localtime: needs a timezone-aware datetime, got {value!r}")
        return value.astimezone(self._zone).strftime(fmt)

    # -- the three messages -------------------------------------------------------------

    def opening(self, ticket: TicketFacts, oncall: Sequence[Mention]) -> SlackMessage:
        """The ticket's top-level message; re-render it for `chat.update` on every change."""
        shown = list(ticket.series[:SERIES_SHOWN])
        variables = {
            **self._ticket_vars(ticket), "oncall": list(oncall), "series": shown,
            "series_more": max(ticket.series_count, len(ticket.series)) - len(shown),
        }
        rendered = self._render(OPENING, variables)
        return _message(rendered, _actions(ticket))

    def event(self, ticket: TicketFacts, event: EventFacts, mentions: Sequence[Mention]) -> SlackMessage:
        """A thread reply for one timeline event (`event.kind` in `EVENT_KINDS`)."""
        variables = {**self._ticket_vars(ticket), **_event_vars(ticket, event), "mentions": list(mentions)}
        return _message(self._render(EVENT, variables), None)

    def escalation(self, ticket: TicketFacts, event: EventFacts, mentions: Sequence[Mention]) -> SlackMessage:
        """An escalation step's reply, posted in the channel the step notifies, with the
        ticket's buttons (someone there may acknowledge it)."""
        variables = {**self._ticket_vars(ticket), **_event_vars(ticket, event), "mentions": list(mentions)}
        return _message(self._render(EVENT, variables), _actions(ticket))

    def digest(self, tickets: Sequence[TicketFacts], oncall: Sequence[Mention]) -> SlackMessage:
        """One message listing many tickets opened at once, P0 first, capped to fit Slack."""
        ordered = sorted(tickets, key=lambda t: (t.priority, t.opened_at, t.id))
        counts = dict(sorted(Counter(t.priority for t in ordered).items()))

        def render(listed: int) -> _Rendered:
            return self._render(DIGEST, {
                "timezone": self._timezone, "tickets": ordered[:listed], "total": len(ordered),
                "more": len(ordered) - listed, "counts": counts, "oncall": list(oncall),
            })

        listed = min(len(ordered), self._digest_max_lines)
        rendered = render(listed)
        if len(rendered.body) > SECTION_LIMIT:  # largest count that fits, by bisection
            fits, too_many = 0, listed
            while too_many - fits > 1:
                middle = (fits + too_many) // 2
                fits, too_many = (middle, too_many) if len(render(middle).body) <= SECTION_LIMIT else (fits, middle)
            rendered = render(fits)
        return _message(rendered, None)

    def check(self) -> None:
        """Render every template against sample facts; raises `TemplateFailed` on any error."""
        at = datetime(2026, 1, 5, 9, 0, tzinfo=_UTC)
        ticket = TicketFacts(
            id=1, priority="P0", status="open", rule="Sample", labels={"service": "api"},
            annotations={"summary": "Sample", "description": "d", "runbook_url": "https://example.com"},
            series=[{"service": "api", "instance": "a"}], series_count=1, opened_at=at,
            response_due=at + timedelta(minutes=15), recovery_due=at + timedelta(hours=2),
        )
        self.opening(ticket, [mention("U000")])
        self.digest([ticket], [mention("U000")])
        step = {"level": 1, "steps": 3, "cycle": 1, "trigger": "after", "target": {"kind": "schedule", "name": "s"},
                "skipped": [{"schedule": "p", "until": at.isoformat()}]}
        for kind in EVENT_KINDS:
            detail = {"deadline": "response", "due": ticket.response_due.isoformat(), "reason": "r", "note": "n",
                      "recovered_at": at.isoformat(), **step}
            self.event(ticket, EventFacts(kind, at + timedelta(minutes=20), "U000", detail), [mention("U001")])

    # -- rendering ------------------------------------------------------------------------

    def _ticket_vars(self, ticket: TicketFacts) -> dict[str, Any]:
        return {
            "ticket": ticket, "timezone": self._timezone, "summary": _summary(ticket),
            "service": ticket.labels.get("service"), "description": ticket.annotations.get("description"),
            "runbook_url": ticket.annotations.get("runbook_url") or ticket.annotations.get("runbook"),
        }

    def _render(self, name: str, variables: Mapping[str, Any]) -> _Rendered:
        """The template's `body`, `fallback` and `footer` blocks (see the module docstring)."""
        out = templates.render_blocks(self._env, name, variables, ("body", "fallback", "footer"))
        blocks = {block: None if text is None else text.strip() for block, text in out.blocks.items()}
        body = out.whole.strip() if blocks["body"] is None else blocks["body"]
        fallback = blocks["fallback"] or next((line.strip() for line in body.splitlines() if line.strip()), "")
        if not body and not fallback:
            raise TemplateFailed(out.filename, None, "rendered an empty message")
        return _Rendered(fallback=fallback, body=body or fallback, footer=blocks["footer"] or "")


def _message(rendered: _Rendered, actions: dict[str, Any] | None) -> SlackMessage:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate_mrkdwn(rendered.body)}}
    ]
    if rendered.footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate_mrkdwn(rendered.footer)}]})
    if actions is not None:
        blocks.append(actions)
    return SlackMessage(text=truncate_mrkdwn(rendered.fallback), blocks=blocks)


def _actions(ticket: TicketFacts) -> dict[str, Any] | None:
    """Acknowledge (until acknowledged) and Resolve (until resolved) buttons."""
    if ticket.is_resolved:
        return None
    value = str(ticket.id)
    resolve = {
        "type": "button", "action_id": "resolve", "value": value, "style": "danger",
        "text": {"type": "plain_text", "text": "Resolve"},
        "confirm": {
            "title": {"type": "plain_text", "text": f"Resolve ticket #{value}?"},
            "text": {"type": "plain_text", "text": "It is recorded as resolved manually, by you."},
            "confirm": {"type": "plain_text", "text": "Resolve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }
    buttons = [] if ticket.is_acknowledged else [
        {"type": "button", "action_id": "ack", "value": value, "style": "primary",
         "text": {"type": "plain_text", "text": "Acknowledge"}}
    ]
    return {"type": "actions", "block_id": f"ticket-{value}", "elements": [*buttons, resolve]}


def _event_vars(ticket: TicketFacts, event: EventFacts) -> dict[str, Any]:
    deadline = event.detail.get("deadline")
    deadline = deadline if deadline in ("response", "recovery") else None
    due = _parse_instant(event.detail.get("due"))
    if due is None and deadline is not None:
        due = ticket.response_due if deadline == "response" else ticket.recovery_due
    recovered_at = _parse_instant(event.detail.get("recovered_at")) or ticket.recovered_at
    overdue = event.at - due if due is not None else None
    return {
        "step": _step_vars(event.detail),
        "event": event, "deadline": deadline, "due": due,
        "deadline_name": f"{deadline.capitalize()} deadline" if deadline else "Deadline",
        "remaining": max(due - event.at, timedelta(0)) if due is not None else None,
        "overdue": overdue if overdue is not None and overdue >= timedelta(minutes=1) else None,
        "since_open": event.at - ticket.opened_at,
        "recovered_at": recovered_at,
        "recovery_time": recovered_at - ticket.opened_at if recovered_at is not None else None,
    }


def _step_vars(detail: Mapping[str, Any]) -> dict[str, Any] | None:
    """The escalation step an event's reply announces (see `escalation.DueStep.detail`)."""
    if not isinstance(detail.get("level"), int) or not isinstance(detail.get("steps"), int):
        return None
    target = detail.get("target") if isinstance(detail.get("target"), Mapping) else {}
    skipped = [s for s in detail.get("skipped") or [] if isinstance(s, Mapping)]
    return {
        "number": detail["level"] + 1, "of": detail["steps"], "cycle": detail.get("cycle") or 0,
        "kind": target.get("kind", ""), "name": target.get("name", ""),
        "exhausted": str(detail.get("reason", "")).endswith("_exhausted_repage_last_step"),
        "skipped": [{"schedule": s.get("schedule", ""), "until": _parse_instant(s.get("until"))} for s in skipped],
    }


def _parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=_UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=_UTC)


# -- finalize and filters ------------------------------------------------------------------

def _finalize(value: Any) -> str:
    """Applied to every `{{ … }}`: escape for mrkdwn unless slawatch built the value."""
    if isinstance(value, Mention):
        return value
    if value is None:
        return ""
    return escape_mrkdwn(value if isinstance(value, str) else str(value))


def _labelset(labels: Mapping[str, str], common: Mapping[str, str] | None = None) -> str:
    """`k="v", …` sorted by name, leaving out pairs shared with `common` (unless none remain)."""
    pairs = sorted((str(k), str(v)) for k, v in labels.items())
    distinct = [(k, v) for k, v in pairs if common is None or common.get(k) != v]
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in distinct or pairs)
    return ", ".join(f'{k}="{q}"' for (k, _), q in zip(distinct or pairs, quoted))


def _mention_filter(value: str | None) -> Mention:
    """A person named in facts (an actor): a user id mentions them, anything else is text."""
    return Mention("") if value is None else mention(str(value))


def _join_mentions(items: Sequence[Any], separator: str = ", ") -> Mention:
    """Join mentions without escaping them again; anything that is not a `Mention` is escaped."""
    return Mention(escape_mrkdwn(separator).join(_finalize(item) for item in items))


def _link(url: str | None, text: str | None = None) -> Mention:
    """`<url|text>` for an http(s) URL without `<`, `>`, `|` or spaces; escaped text otherwise."""
    if not url:
        return Mention("")
    if not _URL.fullmatch(url):
        return Mention(escape_mrkdwn(url))
    return Mention(f"<{escape_mrkdwn(url)}|{escape_mrkdwn(text or url)}>")


def _summary(ticket: TicketFacts) -> str:
    """`annotations.summary` on one line, else the rule name."""
    return " ".join(str(ticket.annotations.get("summary") or "").split()) or ticket.rule
