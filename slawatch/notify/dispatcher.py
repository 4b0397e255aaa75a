"""The outbox dispatcher: sends queued notifications, each once, in order per ticket.

One pass (`drain`) takes the due rows oldest first and runs each through the delivery
stages that `build_stages` lists: the policy reads off that list. A failed send is
rescheduled with exponential backoff (at least Retry-After) and holds back the later
rows of its ticket, so a thread never shows events out of order. Runs on its own thread
and is woken as soon as a tick commits.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from slawatch.model import OutboxStatus
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import Sender, SendFailed
from slawatch.notify.stages import Delivery, Done, Outcome, Stage, Wait
from slawatch.notify.stages.dedup import AlreadySent
from slawatch.notify.stages.mark import MarkSent
from slawatch.notify.stages.order import TicketOrder
from slawatch.notify.stages.send import RenderAndSend
from slawatch.notify.stages.thread import LoadContext
from slawatch.notify.stages.throttle import ChannelRate
from slawatch.store import outbox as store
from slawatch.store.outbox import OutboxRow

__all__ = ["MAX_BACKOFF", "Dispatcher", "backoff", "build_stages"]

MAX_BACKOFF = timedelta(seconds=60)
log = structlog.get_logger()


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """1 s, 2 s, 4 s ... capped at a minute, never shorter than Slack's Retry-After."""
    delay = min(MAX_BACKOFF, timedelta(seconds=2 ** max(0, attempts - 1)))
    return max(delay, timedelta(seconds=retry_after or 0))


@dataclass(frozen=True)
class Wiring:
    """What the stages are built from; the same for every pass."""

    engine: Engine
    sender: Sender
    renderer: MessageRenderer
    limiter: ChannelLimiter
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]


def build_stages(w: Wiring, order: TicketOrder) -> list[Stage]:
    """The delivery policy, in order."""
    return [
        order,  # a ticket's rows strictly in order
        ChannelRate(w.limiter, w.monotonic),  # a token bucket per channel
        LoadContext(w.engine, w.sender.user_for_email),  # replies wait for their thread; facts as of now
        AlreadySent(w.engine, w.sender),  # after a crash, ask Slack before posting again
        RenderAndSend(w.sender, w.renderer),
        MarkSent(w.engine, w.clock),  # only after Slack said ok
    ]


def run_stages(stages: Sequence[Stage], delivery: Delivery) -> Outcome:
    for stage in stages:
        outcome = stage(delivery)
        if outcome is not None:
            return outcome
    raise AssertionError("the last stage always decides")  # MarkSent returns Done


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
        self.limiter = ChannelLimiter(rate_per_channel)
        self.monotonic = monotonic
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
            queues = store.unsent_by_ticket(conn, {r.ticket_id for r in rows if r.ticket_id is not None})
        order = TicketOrder(queues)
        wiring = Wiring(self.engine, self.sender, self.renderer, self.limiter, self.clock, self.monotonic)
        stages = build_stages(wiring, order)
        retry_in = 1.0
        for row in rows:
            if self._stop.is_set():
                break
            delivery = Delivery(row)
            outcome = self._deliver(stages, delivery)
            order.settle(delivery, outcome)
            if isinstance(outcome, Wait) and outcome.retry_in is not None:
                retry_in = min(retry_in, outcome.retry_in)
        return retry_in

    def _deliver(self, stages: Sequence[Stage], delivery: Delivery) -> Outcome:
        row = delivery.row
        bound = log.bind(outbox_id=row.id, ticket_id=row.ticket_id, kind=row.kind.value, channel=row.channel)
        try:
            outcome = run_stages(stages, delivery)
        except SendFailed as exc:
            self._reschedule(row, exc)
            bound.warning("notification_failed", error=str(exc), attempts=row.attempts + 1, ambiguous=exc.ambiguous)
            return Wait("send_failed")
        if isinstance(outcome, Done):
            bound.info("notification_sent")
        return outcome

    def _reschedule(self, row: OutboxRow, exc: SendFailed) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            store.mark(
                conn, row.id,
                OutboxStatus.SENDING if exc.ambiguous else OutboxStatus.PENDING,
                attempts=row.attempts + 1,
                next_attempt_at=now + backoff(row.attempts + 1, exc.retry_after),
                last_error=str(exc)[:500],
            )
