"""Each delivery stage of notify/stages/ on its own, then the dispatcher that chains them.

Rows are real outbox rows in SQLite (queued with `store.outbox.add`), tickets are opened by
a real `reconcile`, messages are rendered by the real MessageRenderer; only Slack is a fake:
`FakeSender` implements the `notify.senders.Sender` protocol, records every call and can be
told to fail, to raise, or to lose Slack's reply to a post that did arrive.

The stages run in the order `build_stages` lists (ChannelRate, LoadContext, ResolveChannel,
Render, AlreadySent, Send, MarkSent); which rows reach them at all is `store.outbox.due`,
whose ticket-order rules are checked first.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, delete, select

from slawatch.incidents import reconcile as incidents
from slawatch.model import Labels, NotificationKind, OutboxStatus, Priority, Sample
from slawatch.notify.dispatcher import Dispatcher, Wiring, build_stages
from slawatch.notify.messages import Mention, MessageRenderer, SlackMessage, TemplateFailed, TicketFacts, mention
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import ErrorClass, Posted, Sender, SendFailed
from slawatch.notify.stages import Delivery, Done, Wait
from slawatch.notify.stages.channel import ResolveChannel
from slawatch.notify.stages.dedup import LOOKBACK, AlreadySent
from slawatch.notify.stages.mark import MarkSent
from slawatch.notify.stages.render import Render
from slawatch.notify.stages.send import Send
from slawatch.notify.stages.thread import LoadContext, ticket_facts
from slawatch.notify.stages.throttle import ChannelRate
from slawatch.rules.definitions import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.outbox import NewNotification, OutboxRow
from slawatch.store.schema import notifications
from slawatch.store.schema import tickets as tickets_table

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULE = AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0"},
                    annotations={"summary": "{{ $labels.instance }} is down"})
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
CHANNEL_IDS = {"#alerts": "C0ALERTS", "#db": "C0DB", "#ops": "C0OPS"}


@dataclass(frozen=True)
class Call:
    method: str  # post | update
    channel: str
    thread_ts: str | None
    outbox_id: int | None
    text: str
    status_then: str | None = None  # the row's outbox status when Slack was called
    ts: str | None = None  # what Slack answered for a post


class FakeSender:
    """A `Sender` that records every call.

    `fail[outbox_id]` raises once for that row's post; `lose_reply` posts the message but
    raises an ambiguous SendFailed, as a lost reply does; `explode_for` raises RuntimeError
    for every post of those rows (a bug, not a Slack error); `resolve_error`,
    `find_error` and `email_error` make `channel_id`, `find` and `user_for_email` raise once.
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self.calls: list[Call] = []
        self.finds: list[tuple[str, str | None, int, datetime]] = []
        self.resolved: list[str] = []  # names asked of `channel_id`
        self.found: dict[int, Posted] = {}  # outbox id -> the message Slack holds for it
        self.fail: dict[int, SendFailed] = {}
        self.lose_reply: set[int] = set()
        self.explode_for: set[int] = set()
        self.resolve_error: SendFailed | None = None
        self.find_error: SendFailed | None = None
        self.email_error: SendFailed | None = None
        self.users: dict[str, str] = {}

    def _status(self, outbox_id: int) -> str | None:
        if self.engine is None:
            return None
        with self.engine.connect() as conn:
            row = outbox.get(conn, outbox_id)
        return None if row is None else row.status.value

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted:
        if outbox_id in self.fail:
            raise self.fail.pop(outbox_id)
        if outbox_id in self.explode_for:
            raise RuntimeError(f"the sender broke on row {outbox_id}")
        posted = Posted(CHANNEL_IDS.get(channel, channel), f"{len(self.calls) + 1}.000")
        self.calls.append(Call("post", channel, thread_ts, outbox_id, message.text, self._status(outbox_id), posted.ts))
        self.found[outbox_id] = posted
        if outbox_id in self.lose_reply:
            self.lose_reply.discard(outbox_id)
            raise SendFailed("connection error: ReadTimeout", ambiguous=True)
        return posted

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self.calls.append(Call("update", channel, ts, None, message.text))

    def find(self, channel_id: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None:
        self.finds.append((channel_id, thread_ts, outbox_id, since))
        if self.find_error is not None:
            error, self.find_error = self.find_error, None
            raise error
        return self.found.get(outbox_id)

    def channel_id(self, name: str) -> str | None:
        self.resolved.append(name)
        if self.resolve_error is not None:
            error, self.resolve_error = self.resolve_error, None
            raise error
        return CHANNEL_IDS.get(name)

    def user_for_email(self, email: str) -> str | None:
        if self.email_error is not None:
            error, self.email_error = self.email_error, None
            raise error
        return self.users.get(email)


def _is_a_sender(sender: FakeSender) -> Sender:
    return sender  # type-checked: FakeSender satisfies the Sender protocol


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    engine: Engine
    renderer: MessageRenderer = field(default_factory=MessageRenderer)
    keys: Iterator[int] = field(default_factory=itertools.count)

    def open_tickets(self, *instances: str) -> list[int]:
        """Tickets opened at T0 by a real tick (no announcer: the tests queue the rows)."""
        samples = [Sample(Labels(__name__="up", instance=i), 0) for i in instances]
        with ThreadPoolExecutor(1) as pool:
            outcome = evaluate_group(GROUP, {}, T0, lambda expr, at: samples, pool)
        with self.engine.begin() as conn:
            applied = incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())
        by_instance = {a.incident.labels["instance"]: o.ticket_id for o, a in applied.opened}
        return [by_instance[i] for i in instances]

    def queue(self, ticket_id: int | None, kind: NotificationKind, payload: dict[str, Any] | None = None,
              channel: str = "#alerts", priority: Priority = Priority.P2) -> OutboxRow:
        """One outbox row queued at T0, read back as the dispatcher sees it."""
        payload = {"mentions": [], **(payload or {})}
        key = f"test:{next(self.keys)}"
        with self.engine.begin() as conn:
            outbox.add(conn, [NewNotification(ticket_id, kind, channel, payload, key, priority)], T0)
            row_id = conn.execute(select(notifications.c.id).where(notifications.c.dedup_key == key)).scalar_one()
        return self.get(row_id)

    def event(self, ticket_id: int, kind: str, at: datetime, actor: str | None = None, **detail: Any) -> OutboxRow:
        """A thread reply for one timeline event, with the payload `notify.announce` writes."""
        payload = {"kind": kind, "at": at.isoformat(), "actor": actor, "detail": detail}
        return self.queue(ticket_id, NotificationKind.EVENT, payload)

    def get(self, row_id: int) -> OutboxRow:
        with self.engine.connect() as conn:
            row = outbox.get(conn, row_id)
        assert row is not None
        return row

    def due(self, at: datetime = T0 + timedelta(days=1), per_channel: int = 100) -> list[int]:
        with self.engine.connect() as conn:
            return [r.id for r in outbox.due(conn, at, per_channel)]

    def unsent(self) -> list[int]:
        with self.engine.connect() as conn:
            return [r["id"] for r in outbox.all_rows(conn) if r["status"] in ("pending", "sending")]

    def mark(self, row_id: int, status: OutboxStatus, **values: Any) -> OutboxRow:
        with self.engine.begin() as conn:
            outbox.mark(conn, row_id, status, **values)
        return self.get(row_id)

    def set_thread(self, ticket_id: int, ts: str = "1.000", own_message: bool = True) -> None:
        with self.engine.begin() as conn:
            outbox.set_threads(conn, [ticket_id], "C0ALERTS", ts, own_message)

    def thread(self, ticket_id: int) -> outbox.Thread | None:
        with self.engine.connect() as conn:
            return outbox.thread(conn, ticket_id)

    def known_channel(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return outbox.channel_id(conn, name)

    def facts(self, *ticket_ids: int) -> list[TicketFacts]:
        found = [ticket_facts(self.engine, t) for t in ticket_ids]
        assert all(f is not None for f in found)
        return found  # type: ignore[return-value]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'stages.db'}")
    upgrade(engine)
    yield World(engine)
    engine.dispose()


# -- which rows reach the stages (store.outbox.due) ---------------------------------------


def test_due_holds_a_row_behind_an_older_unsent_row_of_its_ticket(world: World) -> None:
    """Only a ticket's head row is selected: a reply waits while its opening is unsent; a digest
    (no ticket) and another ticket's opening go; once the opening is sent the reply is due."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    reply = world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    digest = world.queue(None, NotificationKind.DIGEST, {"ticket_ids": [t1, t2]})
    other = world.queue(t2, NotificationKind.OPENING)
    assert world.due() == [opening.id, digest.id, other.id]

    world.mark(opening.id, OutboxStatus.SENT)
    world.set_thread(t1)
    assert world.due() == [reply.id, digest.id, other.id]


def test_due_holds_a_reply_behind_an_opening_that_is_backing_off(world: World) -> None:
    """An opening backing off after a failure (not due yet) still holds its ticket's reply."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    world.mark(opening.id, OutboxStatus.PENDING, attempts=1, next_attempt_at=T0 + timedelta(minutes=5))
    assert world.due(T0 + timedelta(minutes=1)) == []
    assert world.due(T0 + timedelta(minutes=5)) == [opening.id]


@pytest.mark.parametrize("kind", [NotificationKind.EVENT, NotificationKind.UPDATE])
def test_due_selects_a_reply_or_update_only_once_its_thread_exists(world: World, kind: NotificationKind) -> None:
    """With its opening sent elsewhere (no unsent row ahead) a reply still waits for the thread."""
    (t1,) = world.open_tickets("a:80")
    row = (world.event(t1, "acknowledged", T0, actor="alice") if kind is NotificationKind.EVENT
           else world.queue(t1, kind))
    assert world.due() == []
    world.set_thread(t1)
    assert world.due() == [row.id]


def test_due_takes_p0_first_and_at_most_the_burst_per_channel(world: World) -> None:
    """Within a channel P0 goes before older P2 rows, and a channel yields at most `per_channel`."""
    tickets = world.open_tickets("a:80", "b:80", "c:80", "d:80")
    p2 = [world.queue(t, NotificationKind.OPENING) for t in tickets[:3]]
    p0 = world.queue(tickets[3], NotificationKind.OPENING, priority=Priority.P0)
    assert world.due(per_channel=2) == [p0.id, p2[0].id]


# -- ChannelRate ---------------------------------------------------------------------------


def _rate_delivery(channel: str) -> Delivery:
    return Delivery(OutboxRow(1, None, NotificationKind.OPENING, channel, {}, OutboxStatus.PENDING, 0, T0))


def _assert_outcome(outcome: object, expected: Wait | None, where: object) -> None:
    if expected is None:
        assert outcome is None, where
    else:
        assert isinstance(outcome, Wait) and outcome.reason == expected.reason, where
        assert outcome.retry_in == pytest.approx(expected.retry_in), where


def test_channel_rate_waits_with_retry_in_when_the_channels_bucket_is_empty() -> None:
    """With one token per second per channel, a second row in the same second waits about a second;
    another channel has its own bucket, and a second later the first channel may send again."""
    now = [0.0]
    rate = ChannelRate(ChannelLimiter(rate=1.0, capacity=1.0), lambda: now[0])
    table = [  # monotonic seconds, channel, outcome
        (0.0, "#alerts", None),
        (0.0, "#alerts", Wait("rate_limited", 1.0)),
        (0.0, "#db", None),
        (0.5, "#alerts", Wait("rate_limited", 0.5)),
        (1.0, "#alerts", None),
    ]
    for seconds, channel, expected in table:
        now[0] = seconds
        _assert_outcome(rate(_rate_delivery(channel)), expected, (seconds, channel))


def test_channel_rate_waits_while_a_channel_is_paused() -> None:
    """After a 429 with Retry-After the whole channel waits out the pause (full bucket or not);
    other channels do not, and the paused one goes again once the pause is over."""
    now = [10.0]
    limiter = ChannelLimiter(rate=1.0, capacity=3.0)
    rate = ChannelRate(limiter, lambda: now[0])
    limiter.pause("#alerts", 5.0, 10.0)
    table = [
        (10.0, "#alerts", Wait("rate_limited", 5.0)),
        (10.0, "#db", None),
        (12.0, "#alerts", Wait("rate_limited", 3.0)),
        (15.0, "#alerts", None),
    ]
    for seconds, channel, expected in table:
        now[0] = seconds
        _assert_outcome(rate(_rate_delivery(channel)), expected, (seconds, channel))


# -- LoadContext ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [NotificationKind.EVENT, NotificationKind.UPDATE])
def test_load_context_loads_the_thread_and_the_tickets_facts_as_they_are_now(world: World,
                                                                            kind: NotificationKind) -> None:
    """A reply or update gets its ticket's thread and facts read now, not when it was queued."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1, "1.000")
    row = (world.event(t1, "acknowledged", T0, actor="alice") if kind is NotificationKind.EVENT
           else world.queue(t1, kind))
    delivery = Delivery(row)
    assert LoadContext(world.engine, FakeSender().user_for_email)(delivery) is None
    assert delivery.thread == outbox.Thread(t1, "C0ALERTS", "1.000", True)
    assert [t.id for t in delivery.tickets] == [t1] and delivery.tickets == world.facts(t1)
    assert delivery.nothing_to_send is None


def test_load_context_loads_a_digests_tickets_and_resolves_mentions(world: World) -> None:
    """A digest needs no thread and lists its tickets; user ids become mentions, known emails are
    looked up in Slack, unknown ones stay plain text, and ready-made mentions are kept."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    sender = FakeSender()
    sender.users["carol@example.com"] = "U0CAROL"
    mentions = ["U0PRIMARY", "carol@example.com", "nobody@example.com", "<#C0LEADS>"]
    row = world.queue(None, NotificationKind.DIGEST, {"ticket_ids": [t1, t2], "mentions": mentions})
    delivery = Delivery(row)
    assert LoadContext(world.engine, sender.user_for_email)(delivery) is None
    assert delivery.thread is None and [t.id for t in delivery.tickets] == [t1, t2]
    assert delivery.mentions == [
        Mention("<@U0PRIMARY>"), Mention("<@U0CAROL>"), mention("nobody@example.com"), Mention("<#C0LEADS>"),
    ]


def test_load_context_marks_a_row_whose_ticket_is_gone_as_nothing_to_send(world: World) -> None:
    """An opening whose ticket no longer exists goes on with nothing to send (it is not posted)."""
    (t1,) = world.open_tickets("a:80")
    row = world.queue(t1, NotificationKind.OPENING)
    with world.engine.begin() as conn:
        conn.execute(delete(tickets_table).where(tickets_table.c.id == t1))
    delivery = Delivery(row)
    assert LoadContext(world.engine, FakeSender().user_for_email)(delivery) is None
    assert (delivery.tickets, delivery.nothing_to_send) == ([], "ticket_gone")


def test_load_context_fails_a_reply_whose_opening_failed_permanently(world: World) -> None:
    """A reply queued after its ticket's opening was dead-lettered is due (so it is not stuck) and
    raises a permanent, unambiguous SendFailed: it has no thread to go to."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    world.mark(opening.id, OutboxStatus.FAILED, last_error="channel_not_found")
    reply = world.event(t1, "acknowledged", T0, actor="alice")
    assert world.due() == [reply.id]
    with pytest.raises(SendFailed) as failed:
        LoadContext(world.engine, FakeSender().user_for_email)(Delivery(reply))
    assert (failed.value.code, failed.value.error_class, failed.value.ambiguous) == (
        "opening_failed", ErrorClass.PERMANENT, False,
    )


# -- ResolveChannel ------------------------------------------------------------------------


def _resolve(world: World, sender: FakeSender) -> ResolveChannel:
    return ResolveChannel(world.engine, sender, Clock(T0))


@pytest.mark.parametrize("channel, channel_id", [("C0DB", None), ("#alerts", "C0STORED")],
                         ids=["channel is an id", "id stored on the row"])
def test_resolve_channel_keeps_an_id_it_already_has(world: World, channel: str, channel_id: str | None) -> None:
    """A channel given as an id, or a row whose id was stored by an earlier pass, asks nobody."""
    (t1,) = world.open_tickets("a:80")
    row = world.queue(t1, NotificationKind.OPENING, channel=channel)
    if channel_id is not None:
        with world.engine.begin() as conn:
            outbox.mark(conn, row.id, OutboxStatus.PENDING, channel_id=channel_id)
        row = world.get(row.id)
    sender = FakeSender()
    delivery = Delivery(row)
    assert _resolve(world, sender)(delivery) is None
    assert delivery.channel_id == (channel_id or channel) and sender.resolved == []


def test_resolve_channel_resolves_a_name_once_and_stores_the_id_on_the_row(world: World) -> None:
    """`#alerts` is resolved by the sender, cached, and kept on the row; the next row for that
    channel takes the cached id without asking Slack, and has it stored on its row too."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    first, second = world.queue(t1, NotificationKind.OPENING), world.queue(t2, NotificationKind.OPENING)
    sender = FakeSender()
    stage = _resolve(world, sender)

    delivery = Delivery(first)
    assert stage(delivery) is None
    assert (delivery.channel_id, sender.resolved) == ("C0ALERTS", ["#alerts"])
    assert world.get(first.id).channel_id == "C0ALERTS" and world.known_channel("#alerts") == "C0ALERTS"

    delivery = Delivery(second)
    assert stage(delivery) is None
    assert (delivery.channel_id, sender.resolved) == ("C0ALERTS", ["#alerts"])  # no second call
    assert world.get(second.id).channel_id == "C0ALERTS"


@pytest.mark.parametrize("failure", [SendFailed("slack error 200: missing_scope", code="missing_scope"), None],
                         ids=["lookup fails", "not listed"])
def test_resolve_channel_goes_ahead_by_name_when_the_name_cannot_be_resolved(
    world: World, failure: SendFailed | None
) -> None:
    """When conversations.list fails or does not list the channel, nothing is stored and the post
    goes by name (Slack is the judge); the next pass tries to resolve it again."""
    (t1,) = world.open_tickets("a:80")
    row = world.queue(t1, NotificationKind.OPENING, channel="#private")
    sender = FakeSender()
    sender.resolve_error = failure
    delivery = Delivery(row)
    assert _resolve(world, sender)(delivery) is None
    assert delivery.channel_id is None and world.get(row.id).channel_id is None
    assert world.known_channel("#private") is None and sender.resolved == ["#private"]
    delivery.message = world.renderer.opening(world.facts(t1)[0], [])
    Send(sender)(delivery)
    assert [(c.method, c.channel) for c in sender.calls] == [("post", "#private")]


def test_resolve_channel_leaves_replies_and_rows_with_nothing_to_send_alone(world: World) -> None:
    """A reply goes to its thread's channel id; a row with nothing to send is not resolved."""
    (t1,) = world.open_tickets("a:80")
    sender = FakeSender()
    stage = _resolve(world, sender)
    assert stage(Delivery(world.event(t1, "acknowledged", T0))) is None
    assert stage(Delivery(world.queue(t1, NotificationKind.OPENING), nothing_to_send="ticket_gone")) is None
    assert sender.resolved == []


# -- Render --------------------------------------------------------------------------------


def test_render_renders_the_message_from_the_ticket_and_of_a_dead_letter(world: World) -> None:
    """An opening is rendered from the ticket's facts; a dead letter from its own payload; a row
    with nothing to send gets no message."""
    (t1,) = world.open_tickets("a:80")
    render = Render(world.renderer)
    opening = Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1))
    assert render(opening) is None and opening.message is not None and "a:80 is down" in opening.message.text

    payload = {"failed_id": 7, "kind": "opening", "channel": "#gone", "error": "channel_not_found"}
    dead = Delivery(world.queue(None, NotificationKind.DEAD_LETTER, payload, channel="#ops"))
    assert render(dead) is None and dead.message is not None and "channel_not_found" in dead.message.text

    gone = Delivery(world.queue(t1, NotificationKind.OPENING), nothing_to_send="ticket_gone")
    assert render(gone) is None and gone.message is None


def test_a_template_error_leaves_the_row_pending_and_slack_untouched(world: World, tmp_path: Path) -> None:
    """Rendering comes before the row is marked `sending`: a failing template is an exception that
    backs the row off as plainly pending (no lookup needed next time) and calls Slack for nothing."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "opening.md.j2").write_text("{{ ticket.no_such_field.boom }}")
    renderer = MessageRenderer(templates)
    (t1,) = world.open_tickets("a:80")
    row = world.queue(t1, NotificationKind.OPENING)
    with pytest.raises(TemplateFailed):
        Render(renderer)(Delivery(row, tickets=world.facts(t1)))

    sender = FakeSender(world.engine)
    clock = Clock(T0)
    Dispatcher(world.engine, sender, renderer, 1.0, clock, monotonic=itertools.count().__next__).drain()
    stored = world.get(row.id)
    assert (stored.status, stored.attempts, stored.next_attempt_at) == (OutboxStatus.PENDING, 1, T0 + timedelta(seconds=1))
    assert sender.calls == [] and sender.finds == []


# -- AlreadySent ---------------------------------------------------------------------------


def test_already_sent_marks_a_pending_row_sending_before_the_post(world: World) -> None:
    """A pending row is committed as `sending` before Slack is called (nothing looked up), so a crash
    mid-post leaves a row the next pass asks Slack about; an update is idempotent and left alone."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1)
    opening = world.queue(t1, NotificationKind.OPENING)
    update = world.queue(t1, NotificationKind.UPDATE)
    sender = FakeSender(world.engine)
    stage = AlreadySent(world.engine, sender, Clock(T0))
    delivery = Delivery(opening, tickets=world.facts(t1), channel_id="C0ALERTS",
                        message=world.renderer.opening(world.facts(t1)[0], []))
    assert stage(delivery) is None
    assert world.get(opening.id).status is OutboxStatus.SENDING and delivery.marked_sending
    assert sender.finds == []
    Send(sender)(delivery)
    assert [c.status_then for c in sender.calls] == ["sending"]

    assert stage(Delivery(update, thread=world.thread(t1))) is None
    assert world.get(update.id).status is OutboxStatus.PENDING and sender.finds == []


def test_already_sent_finds_a_row_left_sending_and_it_is_not_posted_again(world: World) -> None:
    """A row left `sending` (a crash between post and mark) is looked up by channel id and outbox id,
    from a little before it was queued; when Slack has it, Send posts nothing and MarkSent closes it."""
    (t1,) = world.open_tickets("a:80")
    row = world.mark(world.queue(t1, NotificationKind.OPENING).id, OutboxStatus.SENDING)
    sender = FakeSender()
    sender.found[row.id] = Posted("C0ALERTS", "7.000")
    delivery = Delivery(row, tickets=world.facts(t1), channel_id="C0ALERTS",
                        message=world.renderer.opening(world.facts(t1)[0], []))
    assert AlreadySent(world.engine, sender, Clock(T0))(delivery) is None
    assert sender.finds == [("C0ALERTS", None, row.id, T0 - LOOKBACK)]
    assert delivery.posted == Posted("C0ALERTS", "7.000")
    assert Send(sender)(delivery) is None and sender.calls == []
    assert MarkSent(world.engine, Clock(T0))(delivery) == Done("sent", T0)
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "7.000", True)


def test_already_sent_looks_for_a_sending_reply_in_its_thread(world: World) -> None:
    """A `sending` thread reply is looked up in the thread; not found, it is posted (once) after all."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1, "1.000")
    row = world.mark(world.event(t1, "acknowledged", T0, actor="alice").id, OutboxStatus.SENDING)
    sender = FakeSender()
    delivery = Delivery(row, thread=world.thread(t1), tickets=world.facts(t1))
    Render(world.renderer)(delivery)
    assert AlreadySent(world.engine, sender, Clock(T0))(delivery) is None
    assert [f[:3] for f in sender.finds] == [("C0ALERTS", "1.000", row.id)] and delivery.posted is None
    Send(sender)(delivery)
    assert [(c.method, c.thread_ts, c.outbox_id) for c in sender.calls] == [("post", "1.000", row.id)]


@pytest.mark.parametrize(
    "channel_id, find_error, code",
    [
        ("C0ALERTS", SendFailed("slack error 200: not_in_channel", code="not_in_channel",
                                error_class=ErrorClass.PERMANENT), "not_in_channel"),
        ("C0ALERTS", SendFailed("slack error 429: ratelimited", retry_after=7.0, code="ratelimited"), "ratelimited"),
        (None, None, "lookup_impossible"),
    ],
    ids=["lookup refused", "lookup rate-limited", "no channel id"],
)
def test_already_sent_turns_a_failed_lookup_into_an_ambiguous_transient_failure(
    world: World, channel_id: str | None, find_error: SendFailed | None, code: str
) -> None:
    """When Slack cannot be asked whether a `sending` row arrived, nobody knows: the stage raises an
    ambiguous transient SendFailed (the row stays `sending`, the lookup is retried), never a resend."""
    (t1,) = world.open_tickets("a:80")
    row = world.mark(world.queue(t1, NotificationKind.OPENING).id, OutboxStatus.SENDING)
    sender = FakeSender()
    sender.find_error = find_error
    with pytest.raises(SendFailed) as failed:
        AlreadySent(world.engine, sender, Clock(T0))(Delivery(row, tickets=world.facts(t1), channel_id=channel_id))
    assert (failed.value.ambiguous, failed.value.error_class, failed.value.code) == (True, ErrorClass.TRANSIENT, code)
    if find_error is not None:
        assert failed.value.retry_after == find_error.retry_after
    assert sender.calls == []


# -- Send ----------------------------------------------------------------------------------


def test_send_posts_an_event_in_the_thread_and_updates_the_opening_for_an_update(world: World) -> None:
    """An event is a reply in the ticket's thread (its post kept on the delivery); an update
    re-renders the opening message in place with chat.update and posts nothing."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1, "1.000")
    sender = FakeSender()
    event = Delivery(world.event(t1, "acknowledged", T0 + timedelta(minutes=3), actor="alice"),
                     thread=world.thread(t1), tickets=world.facts(t1))
    update = Delivery(world.queue(t1, NotificationKind.UPDATE), thread=world.thread(t1), tickets=world.facts(t1))
    for delivery in (event, update):
        Render(world.renderer)(delivery)
        assert Send(sender)(delivery) is None

    reply, edit = sender.calls
    assert (reply.method, reply.channel, reply.thread_ts, reply.outbox_id) == ("post", "C0ALERTS", "1.000", event.row.id)
    assert "acknowledged" in reply.text.lower()
    assert event.posted == Posted("C0ALERTS", "1.000")
    assert (edit.method, edit.channel, edit.thread_ts) == ("update", "C0ALERTS", "1.000")
    assert "a:80 is down" in edit.text and update.posted is None


def test_send_posts_a_top_level_message_to_the_channel_id(world: World) -> None:
    """An opening goes to the resolved channel id (the name only when there is none)."""
    (t1,) = world.open_tickets("a:80")
    sender = FakeSender()
    for channel_id in ("C0ALERTS", None):
        delivery = Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1), channel_id=channel_id)
        Render(world.renderer)(delivery)
        Send(sender)(delivery)
        assert delivery.posted == Posted("C0ALERTS", sender.calls[-1].ts)
    assert [(c.method, c.channel, c.thread_ts) for c in sender.calls] == [
        ("post", "C0ALERTS", None), ("post", "#alerts", None),
    ]


def test_send_skips_what_has_nothing_to_send_and_lets_a_failed_send_through(world: World) -> None:
    """An update of a digest line, a row with nothing to send and a row already found in Slack post
    nothing; a SendFailed from Slack propagates (the dispatcher decides)."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    world.set_thread(t2, "9.000", own_message=False)  # t2 was listed in a digest
    sender = FakeSender()
    skipped = [
        Delivery(world.queue(t2, NotificationKind.UPDATE), thread=world.thread(t2), tickets=world.facts(t2)),
        Delivery(world.queue(t1, NotificationKind.OPENING), nothing_to_send="ticket_gone"),
        Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1), posted=Posted("C0ALERTS", "1.0")),
    ]
    for delivery in skipped:
        Render(world.renderer)(delivery)
        assert Send(sender)(delivery) is None
    assert sender.calls == []

    failing = Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1))
    Render(world.renderer)(failing)
    sender.fail[failing.row.id] = SendFailed("slack error 500: internal_error", ambiguous=True)
    with pytest.raises(SendFailed, match="internal_error"):
        Send(sender)(failing)
    assert sender.calls == []


# -- MarkSent ------------------------------------------------------------------------------


def test_mark_sent_records_an_openings_own_thread_and_remembers_the_channel_id(world: World) -> None:
    """After an opening was posted its message becomes the ticket's (updatable) thread, the id
    Slack answered with is remembered for the channel name, and the row is sent at the clock's
    instant with its last error cleared."""
    (t1,) = world.open_tickets("a:80")
    row = world.mark(world.queue(t1, NotificationKind.OPENING).id, OutboxStatus.SENDING, last_error="timeout")
    now = T0 + timedelta(seconds=2)
    delivery = Delivery(row, tickets=world.facts(t1), posted=Posted("C0ALERTS", "5.000"))
    assert MarkSent(world.engine, Clock(now))(delivery) == Done("sent", now)
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "5.000", True)
    assert world.known_channel("#alerts") == "C0ALERTS"
    with world.engine.connect() as conn:
        (raw,) = [r for r in outbox.all_rows(conn) if r["id"] == row.id]
    assert (raw["status"], raw["sent_at"], raw["last_error"]) == ("sent", now, None)


def test_mark_sent_makes_a_digest_the_thread_of_every_ticket_it_lists_not_their_own(world: World) -> None:
    """A digest's post is the thread of each listed ticket, as a line of someone else's message."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    row = world.queue(None, NotificationKind.DIGEST, {"ticket_ids": [t1, t2]})
    delivery = Delivery(row, tickets=world.facts(t1, t2), posted=Posted("C0ALERTS", "6.000"))
    MarkSent(world.engine, Clock(T0))(delivery)
    assert [world.thread(t) for t in (t1, t2)] == [
        outbox.Thread(t1, "C0ALERTS", "6.000", False), outbox.Thread(t2, "C0ALERTS", "6.000", False),
    ]
    assert world.get(row.id).status is OutboxStatus.SENT


def test_mark_sent_of_an_update_covers_the_older_pending_updates_of_its_ticket(world: World) -> None:
    """A sent chat.update shows the current state, so older pending updates of the ticket are done;
    replies are never superseded."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1)
    older = world.queue(t1, NotificationKind.UPDATE)
    reply = world.event(t1, "acknowledged", T0, actor="alice")
    newer = world.queue(t1, NotificationKind.UPDATE)
    MarkSent(world.engine, Clock(T0))(Delivery(newer, thread=world.thread(t1), tickets=world.facts(t1)))
    with world.engine.connect() as conn:
        rows = {r["id"]: r for r in outbox.all_rows(conn)}
    assert (rows[older.id]["status"], rows[older.id]["last_error"]) == ("sent", "superseded")
    assert rows[newer.id]["status"] == "sent" and rows[reply.id]["status"] == "pending"


# -- the chain -----------------------------------------------------------------------------


def test_build_stages_spells_out_the_delivery_policy_in_order(world: World) -> None:
    """Rate limit, context, channel id, render, already-sent check, send, mark: in that order."""
    wiring = Wiring(world.engine, FakeSender(), world.renderer, ChannelLimiter(1.0), Clock(T0), lambda: 0.0)
    assert [type(s).__name__ for s in build_stages(wiring)] == [
        "ChannelRate", "LoadContext", "ResolveChannel", "Render", "AlreadySent", "Send", "MarkSent",
    ]


def _dispatcher(world: World, sender: FakeSender, clock: Clock, **kwargs: Any) -> Dispatcher:
    seconds = itertools.count(step=1.0)  # one second per monotonic read: the buckets never run dry
    return Dispatcher(world.engine, sender, world.renderer, 1.0, clock, monotonic=lambda: next(seconds), **kwargs)


def _drain(dispatcher: Dispatcher, passes: int = 20) -> int:
    """Pass after pass until one makes no progress (a ticket yields one row per pass); how many."""
    for n in range(1, passes + 1):
        if dispatcher.drain() > 0:
            return n
    raise AssertionError(f"still progressing after {passes} passes")


def test_drain_sends_a_tickets_rows_in_order_into_its_thread(world: World) -> None:
    """The opening (to the resolved channel id), then each reply in its thread and each update
    of the opening, in the order they were queued; every row ends sent."""
    (t1,) = world.open_tickets("a:80")
    queued = [
        world.queue(t1, NotificationKind.OPENING),
        world.event(t1, "acknowledged", T0 + timedelta(minutes=2), actor="alice"),
        world.queue(t1, NotificationKind.UPDATE),
        world.event(t1, "condition_cleared", T0 + timedelta(minutes=9)),
        world.queue(t1, NotificationKind.UPDATE),
    ]
    sender = FakeSender(world.engine)
    _drain(_dispatcher(world, sender, Clock(T0 + timedelta(minutes=10))))
    assert [(c.method, c.channel, c.thread_ts, c.outbox_id) for c in sender.calls] == [
        ("post", "C0ALERTS", None, queued[0].id),
        ("post", "C0ALERTS", "1.000", queued[1].id),
        ("update", "C0ALERTS", "1.000", None),
        ("post", "C0ALERTS", "1.000", queued[3].id),
        ("update", "C0ALERTS", "1.000", None),
    ]
    assert [c.status_then for c in sender.calls if c.method == "post"] == ["sending"] * 3
    assert world.unsent() == []


def test_drain_holds_a_failed_tickets_later_rows_and_sends_them_in_order_after_the_backoff(world: World) -> None:
    """A rate-limited opening is rescheduled after Retry-After and holds its ticket's reply; another
    ticket is not delayed; after the backoff the held ticket's rows go, in order."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    open1 = world.queue(t1, NotificationKind.OPENING)
    open2 = world.queue(t2, NotificationKind.OPENING, channel="#db")
    reply1 = world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    reply2 = world.queue(t2, NotificationKind.EVENT, {"kind": "acknowledged", "at": T0.isoformat(),
                                                       "actor": "bob", "detail": {}}, channel="#db")
    sender = FakeSender(world.engine)
    sender.fail[open1.id] = SendFailed("slack error 429: ratelimited", retry_after=3.0, code="ratelimited")
    clock = Clock(T0 + timedelta(minutes=1))
    dispatcher = _dispatcher(world, sender, clock)

    _drain(dispatcher)
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id]
    failed = world.get(open1.id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        OutboxStatus.PENDING, 1, clock.now + timedelta(seconds=3)
    )

    clock.now += timedelta(seconds=2)  # still backing off: nothing of t1 goes
    _drain(dispatcher)
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id]

    clock.now += timedelta(seconds=1)
    _drain(dispatcher)
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id, open1.id, reply1.id]
    assert sender.calls[-1].thread_ts == sender.calls[-2].ts  # the reply went into the late opening's thread
    assert world.unsent() == []


def test_drain_does_not_post_twice_when_slacks_reply_was_lost(world: World) -> None:
    """A post that reached Slack but whose reply was lost leaves the row `sending`; the next pass
    finds the message by its outbox id and marks it sent without posting it again."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    sender = FakeSender(world.engine)
    sender.lose_reply.add(opening.id)
    clock = Clock(T0)
    dispatcher = _dispatcher(world, sender, clock)

    dispatcher.drain()
    assert world.get(opening.id).status is OutboxStatus.SENDING
    clock.now += timedelta(seconds=1)
    dispatcher.drain()
    assert [(c.method, c.outbox_id) for c in sender.calls] == [("post", opening.id)]
    assert [f[:3] for f in sender.finds] == [("C0ALERTS", None, opening.id)]
    assert world.get(opening.id).status is OutboxStatus.SENT
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "1.000", True)


@pytest.mark.parametrize("ambiguous", [False, True], ids=["rate-limited", "connection error"])
def test_a_row_left_sending_that_fails_before_its_lookup_stays_sending(world: World, ambiguous: bool) -> None:
    """A row left `sending` by a crash whose next pass fails before Slack was asked (here the email
    lookup of its mention) still may be in Slack: it stays `sending`, so the pass after looks it up
    and does not post it a second time."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING, {"mentions": ["carol@example.com"]})
    world.mark(opening.id, OutboxStatus.SENDING)
    sender = FakeSender(world.engine)
    sender.found[opening.id] = Posted("C0ALERTS", "3.000")  # the crashed pass had posted it
    sender.email_error = SendFailed("slack error 429: ratelimited", retry_after=1.0, ambiguous=ambiguous,
                                    code="ratelimited")
    clock = Clock(T0)
    dispatcher = _dispatcher(world, sender, clock)

    dispatcher.drain()
    assert world.get(opening.id).status is OutboxStatus.SENDING
    clock.now += timedelta(seconds=1)
    _drain(dispatcher)
    assert sender.calls == [] and world.get(opening.id).status is OutboxStatus.SENT
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "3.000", True)


def test_a_pending_row_that_fails_before_it_is_marked_sending_stays_pending(world: World) -> None:
    """An ambiguous failure of something other than the post (the email lookup timing out) says
    nothing about the post, which was never made: the row stays pending and is posted once."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING, {"mentions": ["carol@example.com"]}, channel="#private")
    sender = FakeSender(world.engine)
    sender.email_error = SendFailed("connection error: ReadTimeout", ambiguous=True)
    clock = Clock(T0)
    dispatcher = _dispatcher(world, sender, clock)

    dispatcher.drain()
    assert world.get(opening.id).status is OutboxStatus.PENDING
    clock.now += timedelta(seconds=1)
    _drain(dispatcher)
    assert [(c.method, c.channel) for c in sender.calls] == [("post", "#private")] and sender.finds == []
    assert world.get(opening.id).status is OutboxStatus.SENT


def test_a_row_failing_transiently_for_hours_is_still_backed_off_and_holds_up_nothing(world: World) -> None:
    """A transient error is retried however long it lasts, and its attempts keep counting: the
    hundredth attempt backs off a minute like the tenth, and the other rows of the pass still go."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    stuck = world.mark(world.queue(t1, NotificationKind.OPENING, priority=Priority.P0).id, OutboxStatus.PENDING,
                       attempts=99)
    other = world.queue(t2, NotificationKind.OPENING)
    sender = FakeSender(world.engine)
    sender.fail[stuck.id] = SendFailed("slack error 503: service_unavailable", code="service_unavailable")
    clock = Clock(T0)
    _drain(_dispatcher(world, sender, clock))
    failed = world.get(stuck.id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (OutboxStatus.PENDING, 100, T0 + timedelta(minutes=1))
    assert [c.outbox_id for c in sender.calls] == [other.id]


def test_one_row_that_raises_does_not_stop_the_others_and_is_dead_lettered_after_max_attempts(world: World) -> None:
    """A sender raising RuntimeError for one ticket backs that row off (it stays `sending`: the
    exception came after it was marked, so each retry first looks it up) while every other ticket's
    rows go out; after `max_attempts` it is dead-lettered with its reply and reported in the fallback
    channel."""
    bad, good1, good2 = world.open_tickets("bad:80", "good1:80", "good2:80")
    rows = {t: (world.queue(t, NotificationKind.OPENING), world.event(t, "acknowledged", T0, actor="alice"))
            for t in (bad, good1, good2)}
    sender = FakeSender(world.engine)
    sender.explode_for = {row.id for row in rows[bad]}
    clock = Clock(T0)
    dispatcher = _dispatcher(world, sender, clock, max_attempts=3, fallback_channel="#ops")

    _drain(dispatcher)
    sent = {c.outbox_id for c in sender.calls}
    assert sent == {rows[t][i].id for t in (good1, good2) for i in (0, 1)}
    first = world.get(rows[bad][0].id)
    assert (first.status, first.attempts) == (OutboxStatus.SENDING, 1)

    for _attempt in (2, 3):
        clock.now = world.get(rows[bad][0].id).next_attempt_at
        _drain(dispatcher)
    _drain(dispatcher)  # the report queued by the last failure
    with world.engine.connect() as conn:
        stored = {r["id"]: r for r in outbox.all_rows(conn)}
    opening, reply = stored[rows[bad][0].id], stored[rows[bad][1].id]
    assert (opening["status"], opening["attempts"]) == ("failed", 3)
    assert "RuntimeError" in opening["last_error"] and reply["status"] == "failed"
    assert [f[:3] for f in sender.finds] == [("C0ALERTS", None, rows[bad][0].id)] * 2  # looked up, never resent blindly
    (report,) = [c for c in sender.calls if c.channel == "C0OPS"]
    assert "RuntimeError" in report.text and world.unsent() == []
