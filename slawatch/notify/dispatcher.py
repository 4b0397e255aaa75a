"""The outbox dispatcher: sends queued notifications, each once, in order per ticket.

One pass (`drain`) takes the due rows oldest first and, per row: waits for the
channel's token bucket, renders the message from the ticket as it is now, sends it,
and marks the row sent only after Slack said ok. A failed row is rescheduled with
exponential backoff (at least Retry-After) and holds back the later rows of its
ticket, so a thread never shows events out of order. A row left 'sending' by a crash
(or an ambiguous failure) is first looked up in Slack by its metadata, then resent only
if it never arrived. Runs on its own thread and is woken as soon as a tick commits.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Callable

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from slawatch.notify.announce import opening_mentions
from slawatch.notify.messages import EventFacts, Mention, MessageRenderer, TicketFacts, mention
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import Posted, Sender, SendFailed
from slawatch.store import outbox as store
from slawatch.store import tickets as tickets_store
from slawatch.store.outbox import OutboxRow

MAX_BACKOFF = timedelta(seconds=60)
log = structlog.get_logger()


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """1 s, 2 s, 4 s ... capped at a minute, never shorter than Slack's Retry-After."""
    delay = min(MAX_BACKOFF, timedelta(seconds=2 ** max(0, attempts - 1)))
    return max(delay, timedelta(seconds=retry_after or 0))


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        sender: Sender,
        renderer: MessageRenderer,
        rate_per_channel: float,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.monotonic = monotonic
        self.limiter = ChannelLimiter(rate_per_channel)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop -------------------------------------------------------------------

    def wake(self, *_: object) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slawatch-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = 1.0
            try:
                wait = min(wait, self.drain())
            except SQLAlchemyError as exc:
                log.error("outbox_read_failed", error=str(exc.__cause__ or exc).splitlines()[0])
            except Exception:  # keep notifying whatever one bad row does
                log.exception("dispatcher_pass_failed")
            self._wake.wait(timeout=max(0.05, wait))
            self._wake.clear()

    # -- one pass ---------------------------------------------------------------------

    def drain(self) -> float:
        """Send every due row that the rate limits allow; returns seconds until worth retrying."""
        with self.engine.connect() as conn:
            rows = store.due(conn, self.clock())
            # A ticket's rows go strictly in order: a row waits while an older row of its
            # ticket is unsent, even one that is not due yet (backing off after a failure).
            queues = store.unsent_by_ticket(conn, {r.ticket_id for r in rows if r.ticket_id is not None})
        held: set[int] = set()  # tickets whose next row could not go in this pass
        retry_in = 1.0
        for row in rows:
            if self._stop.is_set():
                break
            ticket = row.ticket_id
            if ticket is not None and (ticket in held or queues[ticket][0] != row.id):
                continue
            wait = self.limiter.take(row.channel, self.monotonic())
            if wait > 0:
                retry_in = min(retry_in, wait)
            if wait > 0 or not self._deliver(row):
                if ticket is not None:
                    held.add(ticket)
            elif ticket is not None:
                queues[ticket].pop(0)
        return retry_in

    def _deliver(self, row: OutboxRow) -> bool:
        bound = log.bind(outbox_id=row.id, ticket_id=row.ticket_id, kind=row.kind, channel=row.channel)
        try:
            done = {"opening": self._opening, "event": self._event, "update": self._update, "digest": self._digest}[
                row.kind
            ](row)
        except SendFailed as exc:
            self._reschedule(row, exc)
            bound.warning("notification_failed", error=str(exc), attempts=row.attempts + 1, ambiguous=exc.ambiguous)
            return False
        if done:
            bound.info("notification_sent")
        return done

    def _reschedule(self, row: OutboxRow, exc: SendFailed) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            store.mark(
                conn, row.id,
                status=store.SENDING if exc.ambiguous else store.PENDING,
                attempts=row.attempts + 1,
                next_attempt_at=now + backoff(row.attempts + 1, exc.retry_after),
                last_error=str(exc)[:500],
            )

    def _post_once(self, row: OutboxRow, channel: str, thread_ts: str | None, render: Callable[[], object]) -> Posted:
        """Post unless an earlier attempt (crash, lost reply) already made it to Slack."""
        if row.status == store.SENDING:
            found = self.sender.find(channel, thread_ts, row.id)
            if found is not None:
                log.info("notification_found_already_sent", outbox_id=row.id, ticket_id=row.ticket_id)
                return found
        else:
            with self.engine.begin() as conn:
                store.mark(conn, row.id, status=store.SENDING)
        return self.sender.post(channel, render(), thread_ts, row.id)  # type: ignore[arg-type]

    def _finish(self, row: OutboxRow, threads: tuple[list[int], Posted, bool] | None = None) -> None:
        with self.engine.begin() as conn:
            if threads is not None:
                ids, posted, own = threads
                store.set_threads(conn, ids, posted.channel, posted.ts, own)
            store.mark(conn, row.id, status=store.SENT, sent_at=self.clock(), last_error=None)

    # -- kinds ------------------------------------------------------------------------

    def _opening(self, row: OutboxRow) -> bool:
        ticket = self._facts(row.ticket_id)
        if ticket is None:
            self._finish(row)
            return True
        facts, escalation = ticket
        oncall = self._mentions(opening_mentions(escalation))
        posted = self._post_once(row, row.channel, None, lambda: self.renderer.opening(facts, oncall))
        self._finish(row, ([facts.id], posted, True))
        return True

    def _digest(self, row: OutboxRow) -> bool:
        found = [self._facts(t) for t in row.payload["ticket_ids"]]
        facts = [f for f, _ in filter(None, found)]
        oncall = self._mentions(opening_mentions(found[0][1])) if found and found[0] else []
        posted = self._post_once(row, row.channel, None, lambda: self.renderer.digest(facts, oncall))
        self._finish(row, ([f.id for f in facts], posted, False))
        return True

    def _event(self, row: OutboxRow) -> bool:
        assert row.ticket_id is not None
        with self.engine.connect() as conn:
            thread = store.thread(conn, row.ticket_id)
        if thread is None:
            return False  # its opening message (or digest) is not out yet
        ticket = self._facts(row.ticket_id)
        if ticket is None:
            self._finish(row)
            return True
        p = row.payload
        event = EventFacts(p["kind"], datetime.fromisoformat(p["at"]), p.get("actor"), {**p.get("detail", {}), **(
            {"level": p["escalation"]["level"], "reason": p["escalation"]["reason"]} if p.get("escalation") else {})})
        mentions = self._mentions(p.get("mentions", []))
        self._post_once(row, thread.channel, thread.ts, lambda: self.renderer.event(ticket[0], event, mentions))
        self._finish(row)
        return True

    def _update(self, row: OutboxRow) -> bool:
        assert row.ticket_id is not None
        with self.engine.connect() as conn:
            thread = store.thread(conn, row.ticket_id)
        if thread is None:
            return False
        ticket = self._facts(row.ticket_id)
        if thread.own_message and ticket is not None:
            facts, escalation = ticket
            self.sender.update(thread.channel, thread.ts, self.renderer.opening(facts, self._mentions(opening_mentions(escalation))))
        with self.engine.begin() as conn:
            store.supersede_updates(conn, row.ticket_id, row.id, self.clock())
        self._finish(row)
        return True

    # -- helpers ------------------------------------------------------------------------

    def _facts(self, ticket_id: int | None) -> tuple[TicketFacts, str | None] | None:
        if ticket_id is None:
            return None
        with self.engine.connect() as conn:
            t = tickets_store.get(conn, ticket_id)
            if t is None:
                return None
            series = tickets_store.series(conn, t)
        facts = TicketFacts(
            t.id, t.priority, t.status, t.rule, t.labels, t.annotations, series, t.series_count, t.opened_at,
            t.response_due, t.recovery_due, t.acknowledged_at, t.acknowledged_by, t.recovered_at, t.resolved_at,
            t.resolution,
        )
        return facts, t.escalation

    def _mentions(self, targets: list[str]) -> list[Mention]:
        """Snapshot mentions are slawatch-made (`<@U…>`, `<#C…>`) or emails to look up."""
        out = []
        for target in targets:
            if target.startswith(("<@", "<#")):
                out.append(Mention(target))
            elif "@" in target:
                user = self.sender.user_for_email(target)
                out.append(mention(user) if user else mention(target))
            else:
                out.append(mention(target))
        return out
