"""Each delivery stage of notify/stages/ on its own, then the dispatcher that chains them.

Rows are real outbox rows in SQLite (queued with `store.outbox.add`), tickets are opened by
a real `reconcile`, messages are rendered by the real MessageRenderer; only Slack is a fake:
`FakeSender` implements the `notify.senders.Sender` protocol, records every call and can be
told to fail, or to lose Slack's reply to a post that did arrive.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from slawatch.notify.stages.order import TicketOrder
from sqlalchemy import Engine, delete

from slawatch.incidents import reconcile as incidents
from slawatch.model import Labels, NotificationKind, OutboxStatus, Sample
from slawatch.notify.dispatcher import Dispatcher, Wiring, build_stages
from slawatch.notify.messages import Mention, MessageRenderer, SlackMessage, mention
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import Posted, Sender, SendFailed
from slawatch.notify.stages import Delivery, Done, Wait
from slawatch.notify.stages.dedup import AlreadySent
from slawatch.notify.stages.mark import MarkSent
from slawatch.notify.stages.send import RenderAndSend
from slawatch.notify.stages.thread import LoadContext, ticket_facts
from slawatch.notify.stages.throttle import ChannelRate
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.outbox import NewNotification, OutboxRow
from slawatch.store.schema import tickets as tickets_table

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULE = AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0"},
                    annotations={"summary": "{{ $labels.instance }} is down"})
GROUP = RuleGroup("g", "rules.yaml", timedelta(seconds=15), (RULE,))
CHANNEL_IDS = {"#alerts": "C0ALERTS", "#db": "C0DB"}


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
    """A `Sender` that records posts and updates; `fail[outbox_id]` raises once for that row,
    `lose_reply` posts the message but raises an ambiguous SendFailed, as a lost reply does."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self.calls: list[Call] = []
        self.finds: list[tuple[str, str | None, int]] = []
        self.found: dict[int, Posted] = {}  # outbox id -> the message Slack holds for it
        self.fail: dict[int, SendFailed] = {}
        self.lose_reply: set[int] = set()
        self.users: dict[str, str] = {}

    def _status(self, outbox_id: int) -> str | None:
        if self.engine is None:
            return None
        with self.engine.connect() as conn:
            (row,) = [r for r in outbox.all_rows(conn) if r["id"] == outbox_id]
        return row["status"]

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted:
        if outbox_id in self.fail:
            raise self.fail.pop(outbox_id)
        posted = Posted(CHANNEL_IDS.get(channel, channel), f"{len(self.calls) + 1}.000")
        self.calls.append(Call("post", channel, thread_ts, outbox_id, message.text, self._status(outbox_id), posted.ts))
        self.found[outbox_id] = posted
        if outbox_id in self.lose_reply:
            self.lose_reply.discard(outbox_id)
            raise SendFailed("connection error: ReadTimeout", ambiguous=True)
        return posted

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self.calls.append(Call("update", channel, ts, None, message.text))

    def find(self, channel: str, thread_ts: str | None, outbox_id: int) -> Posted | None:
        self.finds.append((channel, thread_ts, outbox_id))
        return self.found.get(outbox_id)

    def user_for_email(self, email: str) -> str | None:
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
              channel: str = "#alerts") -> OutboxRow:
        """One outbox row queued at T0, read back as the dispatcher sees it."""
        payload = {"mentions": [], **(payload or {})}
        key = f"test:{next(self.keys)}"
        with self.engine.begin() as conn:
            outbox.add(conn, [NewNotification(ticket_id, kind, channel, payload, key)], T0)
        return self.rows()[-1]

    def event(self, ticket_id: int, kind: str, at: datetime, actor: str | None = None, **detail: Any) -> OutboxRow:
        """A thread reply for one timeline event, with the payload `notify.announce` writes."""
        payload = {"kind": kind, "at": at.isoformat(), "actor": actor, "detail": detail}
        return self.queue(ticket_id, NotificationKind.EVENT, payload)

    def rows(self) -> list[OutboxRow]:
        """Every unsent row, due or not, oldest first."""
        with self.engine.connect() as conn:
            return outbox.due(conn, T0 + timedelta(days=365))

    def row(self, row_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            (row,) = [r for r in outbox.all_rows(conn) if r["id"] == row_id]
        return row

    def mark(self, row_id: int, status: OutboxStatus, **values: Any) -> OutboxRow:
        with self.engine.begin() as conn:
            outbox.mark(conn, row_id, status, **values)
        (row,) = [r for r in self.rows() if r.id == row_id]
        return row

    def set_thread(self, ticket_id: int, ts: str = "1.000", own_message: bool = True) -> None:
        with self.engine.begin() as conn:
            outbox.set_threads(conn, [ticket_id], "C0ALERTS", ts, own_message)

    def thread(self, ticket_id: int) -> outbox.Thread | None:
        with self.engine.connect() as conn:
            return outbox.thread(conn, ticket_id)

    def facts(self, *ticket_ids: int) -> list:
        return [ticket_facts(self.engine, t) for t in ticket_ids]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'stages.db'}")
    upgrade(engine)
    yield World(engine)
    engine.dispose()


# -- TicketOrder ---------------------------------------------------------------------------


def _order(world: World) -> TicketOrder:
    """The gate as `Dispatcher.drain` builds it for one pass."""
    rows = world.rows()
    with world.engine.connect() as conn:
        return TicketOrder(outbox.unsent_by_ticket(conn, {r.ticket_id for r in rows if r.ticket_id is not None}))


def test_ticket_order_waits_a_row_behind_an_older_unsent_row_of_its_ticket(world: World) -> None:
    """A reply waits while its ticket's opening is unsent; a digest (no ticket) and another ticket's
    row go through; once the opening is done the reply may go, and a waiting row holds its ticket."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    reply = world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    digest = world.queue(None, NotificationKind.DIGEST, {"ticket_ids": [t1, t2]})
    other = world.queue(t2, NotificationKind.OPENING)
    later = world.event(t2, "acknowledged", T0 + timedelta(minutes=2), actor="bob")

    order = _order(world)
    assert order(Delivery(reply)) == Wait("behind_older_row")
    assert order(Delivery(digest)) is None
    assert order(Delivery(opening)) is None
    order.settle(Delivery(opening), Done("sent"))
    assert order(Delivery(reply)) is None

    assert order(Delivery(other)) is None
    order.settle(Delivery(other), Wait("send_failed"))  # the opening of t2 failed this pass
    assert order(Delivery(later)) == Wait("behind_older_row")


def test_ticket_order_waits_behind_an_older_row_that_is_not_due_yet(world: World) -> None:
    """An opening backing off after a failure (not due this pass) still holds its ticket's reply."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    reply = world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    world.mark(opening.id, OutboxStatus.PENDING, attempts=1, next_attempt_at=T0 + timedelta(minutes=5))
    with world.engine.connect() as conn:
        due = outbox.due(conn, T0 + timedelta(minutes=1))
    assert [r.id for r in due] == [reply.id]
    assert _order(world)(Delivery(reply)) == Wait("behind_older_row")


# -- ChannelRate ---------------------------------------------------------------------------


def test_channel_rate_waits_with_retry_in_when_the_channels_bucket_is_empty() -> None:
    """With one token per second per channel, a second row in the same second waits about a second;
    another channel has its own bucket, and a second later the first channel may send again."""
    now = [0.0]
    rate = ChannelRate(ChannelLimiter(rate=1.0, capacity=1.0), lambda: now[0])

    def delivery(channel: str) -> Delivery:
        return Delivery(OutboxRow(1, None, NotificationKind.OPENING, channel, {}, OutboxStatus.PENDING, 0, T0))

    table = [  # monotonic seconds, channel, outcome
        (0.0, "#alerts", None),
        (0.0, "#alerts", Wait("rate_limited", 1.0)),
        (0.0, "#db", None),
        (0.5, "#alerts", Wait("rate_limited", 0.5)),
        (1.0, "#alerts", None),
    ]
    for seconds, channel, expected in table:
        now[0] = seconds
        outcome = rate(delivery(channel))
        if expected is None:
            assert outcome is None, (seconds, channel)
        else:
            assert isinstance(outcome, Wait) and outcome.reason == expected.reason, (seconds, channel)
            assert outcome.retry_in == pytest.approx(expected.retry_in), (seconds, channel)


# -- LoadContext ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [NotificationKind.EVENT, NotificationKind.UPDATE])
def test_load_context_waits_a_reply_or_update_until_its_thread_exists(world: World, kind: NotificationKind) -> None:
    """Without the ticket's thread a reply or update waits; once the opening is out it gets the
    thread and the ticket's facts as they are now."""
    (t1,) = world.open_tickets("a:80")
    row = (world.event(t1, "acknowledged", T0, actor="alice") if kind is NotificationKind.EVENT
           else world.queue(t1, NotificationKind.UPDATE))
    load = LoadContext(world.engine, FakeSender().user_for_email)
    assert load(Delivery(row)) == Wait("thread_not_posted_yet")

    world.set_thread(t1, "1.000")
    delivery = Delivery(row)
    assert load(delivery) is None
    assert delivery.thread == outbox.Thread(t1, "C0ALERTS", "1.000", True)
    assert [t.id for t in delivery.tickets] == [t1] and delivery.tickets == world.facts(t1)
    assert delivery.nothing_to_send is None


def test_load_context_marks_a_row_whose_ticket_is_gone_as_nothing_to_send(world: World) -> None:
    """An opening whose ticket no longer exists goes on with nothing to send (it is not posted)."""
    (t1,) = world.open_tickets("a:80")
    row = world.queue(t1, NotificationKind.OPENING)
    with world.engine.begin() as conn:
        conn.execute(delete(tickets_table).where(tickets_table.c.id == t1))
    delivery = Delivery(row)
    assert LoadContext(world.engine, FakeSender().user_for_email)(delivery) is None
    assert (delivery.tickets, delivery.nothing_to_send) == ([], "ticket_gone")


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


# -- AlreadySent ---------------------------------------------------------------------------


def test_already_sent_finds_a_row_left_sending_and_it_is_not_posted_again(world: World) -> None:
    """A row left `sending` (a crash between post and mark) is looked up in Slack by its outbox id;
    when Slack has it, the delivery carries that post and RenderAndSend posts nothing."""
    (t1,) = world.open_tickets("a:80")
    row = world.mark(world.queue(t1, NotificationKind.OPENING).id, OutboxStatus.SENDING)
    sender = FakeSender()
    sender.found[row.id] = Posted("C0ALERTS", "7.000")
    delivery = Delivery(row, tickets=world.facts(t1))
    assert AlreadySent(world.engine, sender)(delivery) is None
    assert sender.finds == [("#alerts", None, row.id)]
    assert delivery.posted == Posted("C0ALERTS", "7.000")
    assert RenderAndSend(sender, world.renderer)(delivery) is None
    assert sender.calls == []


def test_already_sent_looks_for_a_sending_reply_in_its_thread(world: World) -> None:
    """A `sending` thread reply is looked up in the thread; not found, it is posted (once) after all."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1, "1.000")
    row = world.mark(world.event(t1, "acknowledged", T0, actor="alice").id, OutboxStatus.SENDING)
    sender = FakeSender()
    delivery = Delivery(row, thread=world.thread(t1), tickets=world.facts(t1))
    assert AlreadySent(world.engine, sender)(delivery) is None
    assert sender.finds == [("C0ALERTS", "1.000", row.id)] and delivery.posted is None
    RenderAndSend(sender, world.renderer)(delivery)
    assert [(c.method, c.thread_ts, c.outbox_id) for c in sender.calls] == [("post", "1.000", row.id)]


def test_already_sent_marks_a_pending_row_sending_before_the_post(world: World) -> None:
    """A pending row is committed as `sending` before Slack is called (nothing looked up), so a crash
    mid-post leaves a row the next pass asks Slack about; an update is idempotent and left alone."""
    (t1,) = world.open_tickets("a:80")
    opening = world.queue(t1, NotificationKind.OPENING)
    update = world.queue(t1, NotificationKind.UPDATE)
    sender = FakeSender(world.engine)
    stage = AlreadySent(world.engine, sender)
    delivery = Delivery(opening, tickets=world.facts(t1))
    assert stage(delivery) is None
    assert world.row(opening.id)["status"] == "sending" and sender.finds == []
    RenderAndSend(sender, world.renderer)(delivery)
    assert [c.status_then for c in sender.calls] == ["sending"]

    assert stage(Delivery(update)) is None
    assert world.row(update.id)["status"] == "pending" and sender.finds == []


# -- RenderAndSend -------------------------------------------------------------------------


def test_render_and_send_posts_an_event_in_the_thread_and_updates_the_opening_for_an_update(world: World) -> None:
    """An event is a reply in the ticket's thread (its post kept on the delivery); an update
    re-renders the opening message in place with chat.update and posts nothing."""
    (t1,) = world.open_tickets("a:80")
    world.set_thread(t1, "1.000")
    sender = FakeSender()
    send = RenderAndSend(sender, world.renderer)

    event = Delivery(world.event(t1, "acknowledged", T0 + timedelta(minutes=3), actor="alice"),
                     thread=world.thread(t1), tickets=world.facts(t1))
    assert send(event) is None
    update = Delivery(world.queue(t1, NotificationKind.UPDATE), thread=world.thread(t1), tickets=world.facts(t1))
    assert send(update) is None

    reply, edit = sender.calls
    assert (reply.method, reply.channel, reply.thread_ts, reply.outbox_id) == ("post", "C0ALERTS", "1.000", event.row.id)
    assert "acknowledged" in reply.text.lower()
    assert event.posted == Posted("C0ALERTS", "1.000")
    assert (edit.method, edit.channel, edit.thread_ts) == ("update", "C0ALERTS", "1.000")
    assert "a:80 is down" in edit.text and update.posted is None


def test_render_and_send_posts_an_opening_to_its_channel_and_skips_what_has_nothing_to_send(world: World) -> None:
    """An opening is a top-level post in the row's channel; an update of a digest line, a row with
    nothing to send and a row already found in Slack post nothing."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    sender = FakeSender()
    send = RenderAndSend(sender, world.renderer)
    opening = Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1))
    send(opening)
    assert [(c.method, c.channel, c.thread_ts, c.outbox_id) for c in sender.calls] == [
        ("post", "#alerts", None, opening.row.id)
    ]
    assert opening.posted == Posted("C0ALERTS", "1.000")

    world.set_thread(t2, "9.000", own_message=False)  # t2 was listed in a digest
    skipped = [
        Delivery(world.queue(t2, NotificationKind.UPDATE), thread=world.thread(t2), tickets=world.facts(t2)),
        Delivery(world.queue(t1, NotificationKind.OPENING), nothing_to_send="ticket_gone"),
        Delivery(world.queue(t1, NotificationKind.OPENING), tickets=world.facts(t1), posted=Posted("C0ALERTS", "1.0")),
    ]
    for delivery in skipped:
        assert send(delivery) is None
    assert len(sender.calls) == 1


def test_render_and_send_lets_a_failed_send_through_to_the_dispatcher(world: World) -> None:
    """A SendFailed from the sender propagates (the dispatcher reschedules the row)."""
    (t1,) = world.open_tickets("a:80")
    sender = FakeSender()
    row = world.queue(t1, NotificationKind.OPENING)
    sender.fail[row.id] = SendFailed("slack error 500: internal_error", ambiguous=True)
    with pytest.raises(SendFailed, match="internal_error"):
        RenderAndSend(sender, world.renderer)(Delivery(row, tickets=world.facts(t1)))
    assert sender.calls == []


# -- MarkSent ------------------------------------------------------------------------------


def test_mark_sent_records_the_thread_of_an_opening_and_marks_the_row_sent(world: World) -> None:
    """After an opening was posted its message becomes the ticket's (updatable) thread and the row
    is sent at the clock's instant."""
    (t1,) = world.open_tickets("a:80")
    row = world.mark(world.queue(t1, NotificationKind.OPENING).id, OutboxStatus.SENDING, last_error="timeout")
    now = T0 + timedelta(seconds=2)
    delivery = Delivery(row, tickets=world.facts(t1), posted=Posted("C0ALERTS", "5.000"))
    assert MarkSent(world.engine, Clock(now))(delivery) == Done("sent", now)
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "5.000", True)
    stored = world.row(row.id)
    assert (stored["status"], stored["sent_at"], stored["last_error"]) == ("sent", now, None)


def test_mark_sent_makes_a_digest_the_thread_of_every_ticket_it_lists(world: World) -> None:
    """A digest's post is the thread of each listed ticket, as a line of someone else's message."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    row = world.queue(None, NotificationKind.DIGEST, {"ticket_ids": [t1, t2]})
    delivery = Delivery(row, tickets=world.facts(t1, t2), posted=Posted("C0ALERTS", "6.000"))
    MarkSent(world.engine, Clock(T0))(delivery)
    assert [world.thread(t) for t in (t1, t2)] == [
        outbox.Thread(t1, "C0ALERTS", "6.000", False), outbox.Thread(t2, "C0ALERTS", "6.000", False),
    ]
    assert world.row(row.id)["status"] == "sent"


def test_mark_sent_of_an_update_covers_the_older_pending_updates_of_its_ticket(world: World) -> None:
    """A sent chat.update shows the current state, so older pending updates of the ticket are done."""
    (t1,) = world.open_tickets("a:80")
    older = world.queue(t1, NotificationKind.UPDATE)
    reply = world.event(t1, "acknowledged", T0, actor="alice")
    newer = world.queue(t1, NotificationKind.UPDATE)
    MarkSent(world.engine, Clock(T0))(Delivery(newer, tickets=world.facts(t1)))
    assert (world.row(older.id)["status"], world.row(older.id)["last_error"]) == ("sent", "superseded")
    assert world.row(newer.id)["status"] == "sent"
    assert world.row(reply.id)["status"] == "pending"  # replies are never superseded


# -- the chain -----------------------------------------------------------------------------


def test_build_stages_spells_out_the_delivery_policy_in_order(world: World) -> None:
    """Order gate, rate limit, context, already-sent check, send, mark: in that order, the gate first."""
    order = TicketOrder({})
    wiring = Wiring(world.engine, FakeSender(), world.renderer, ChannelLimiter(1.0), Clock(T0), lambda: 0.0)
    stages = build_stages(wiring, order)
    assert [type(s).__name__ for s in stages] == [
        "TicketOrder", "ChannelRate", "LoadContext", "AlreadySent", "RenderAndSend", "MarkSent",
    ]
    assert stages[0] is order


def _dispatcher(world: World, sender: FakeSender, clock: Clock) -> Dispatcher:
    seconds = itertools.count(step=1.0)  # one second per rate-limit check: the buckets never run dry
    return Dispatcher(world.engine, sender, world.renderer, 1.0, clock, monotonic=lambda: next(seconds))


def test_drain_sends_a_tickets_rows_in_order_into_its_thread(world: World) -> None:
    """One pass sends the opening, then each reply in its thread and each update of the opening,
    in the order they were queued, marking every row sent."""
    (t1,) = world.open_tickets("a:80")
    queued = [
        world.queue(t1, NotificationKind.OPENING),
        world.event(t1, "acknowledged", T0 + timedelta(minutes=2), actor="alice"),
        world.queue(t1, NotificationKind.UPDATE),
        world.event(t1, "condition_cleared", T0 + timedelta(minutes=9)),
        world.queue(t1, NotificationKind.UPDATE),
    ]
    sender = FakeSender(world.engine)
    _dispatcher(world, sender, Clock(T0 + timedelta(minutes=10))).drain()
    assert [(c.method, c.channel, c.thread_ts, c.outbox_id) for c in sender.calls] == [
        ("post", "#alerts", None, queued[0].id),
        ("post", "C0ALERTS", "1.000", queued[1].id),
        ("update", "C0ALERTS", "1.000", None),
        ("post", "C0ALERTS", "1.000", queued[3].id),
        ("update", "C0ALERTS", "1.000", None),
    ]
    assert [c.status_then for c in sender.calls if c.method == "post"] == ["sending"] * 3
    assert world.rows() == []


def test_drain_holds_a_failed_tickets_later_rows_and_sends_them_in_order_after_the_backoff(world: World) -> None:
    """A failed opening is rescheduled and holds its ticket's reply; another ticket is not delayed;
    after the backoff the next pass sends the held ticket's rows, in order."""
    t1, t2 = world.open_tickets("a:80", "b:80")
    open1 = world.queue(t1, NotificationKind.OPENING)
    open2 = world.queue(t2, NotificationKind.OPENING, channel="#db")
    reply1 = world.event(t1, "acknowledged", T0 + timedelta(minutes=1), actor="alice")
    reply2 = world.event(t2, "acknowledged", T0 + timedelta(minutes=1), actor="bob")
    sender = FakeSender(world.engine)
    sender.fail[open1.id] = SendFailed("slack error 429: ratelimited", retry_after=3.0)
    clock = Clock(T0 + timedelta(minutes=1))
    dispatcher = _dispatcher(world, sender, clock)

    dispatcher.drain()
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id]
    failed = world.row(open1.id)
    assert (failed["status"], failed["attempts"], failed["next_attempt_at"]) == (
        "pending", 1, clock.now + timedelta(seconds=3)
    )
    assert "429" in failed["last_error"]

    clock.now += timedelta(seconds=2)  # still backing off: nothing of t1 goes
    dispatcher.drain()
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id]

    clock.now += timedelta(seconds=1)
    dispatcher.drain()
    assert [c.outbox_id for c in sender.calls] == [open2.id, reply2.id, open1.id, reply1.id]
    assert sender.calls[-1].thread_ts == sender.calls[-2].ts  # the reply went into the late opening's thread
    assert world.rows() == []


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
    assert world.row(opening.id)["status"] == "sending"
    clock.now += timedelta(seconds=1)
    dispatcher.drain()
    assert [(c.method, c.outbox_id) for c in sender.calls] == [("post", opening.id)]
    assert sender.finds == [("#alerts", None, opening.id)]
    assert world.row(opening.id)["status"] == "sent"
    assert world.thread(t1) == outbox.Thread(t1, "C0ALERTS", "1.000", True)
