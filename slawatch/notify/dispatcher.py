"""The outbox dispatcher: sends queued notifications, each once, in order per ticket.

One pass (`drain`) selects the rows worth trying (`store.outbox.due`: fair across
channels, urgent first, head of each ticket) and runs each through the delivery stages
that `build_stages` lists: the policy reads off that list. What a failure does is
`failure_action`, a pure decision with a named reason:

- transient (429, 5xx, timeouts, connection errors, an impossible after-crash lookup):
  retried with exponential backoff, at least Retry-After (a 429 pauses the whole
  channel), never dead-lettered: an outage of Slack loses nothing;
- permanent (`channel_not_found`, `is_archived`, `invalid_auth`, ...): dead-lettered at
  once, reported to `slack.fallback_channel`; an error about the channel itself fails
  every row queued for that channel at once, reported in one message;
- unknown Slack errors and any other exception (a template failing at render time):
  backed off, dead-lettered after `slack.max_attempts`.
One bad row never stops the pass. Runs on its own thread, woken as soon as a tick commits.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Sequence

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from slawatch.model import NotificationKind, OutboxStatus
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import AUTH_ERRORS, CHANNEL_ERRORS, ErrorClass, Sender, SendFailed
from slawatch.notify.stages import Delivery, Done, Outcome, Stage, Wait
from slawatch.notify.stages.channel import ResolveChannel
from slawatch.notify.stages.dedup import AlreadySent
from slawatch.notify.stages.mark import MarkSent
from slawatch.notify.stages.render import Render
from slawatch.notify.stages.send import Send
from slawatch.notify.stages.thread import LoadContext
from slawatch.notify.stages.throttle import ChannelRate
from slawatch.store import outbox as store
from slawatch.store.outbox import NewNotification, OutboxRow

__all__ = ["MAX_BACKOFF", "DeliveryObserver", "Dispatcher", "Failure", "backoff", "build_stages", "failure_action"]

MAX_BACKOFF = timedelta(seconds=60)
log = structlog.get_logger()


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """1 s, 2 s, 4 s ... capped at a minute, never shorter than Slack's Retry-After."""
    # The exponent is capped too: a transient error is retried forever and its attempts keep
    # counting, and 2 ** 47 seconds is more than a timedelta holds (OverflowError).
    delay = min(MAX_BACKOFF, timedelta(seconds=2 ** min(max(0, attempts - 1), 16)))
    return max(delay, timedelta(seconds=retry_after or 0))


@dataclass(frozen=True)
class Failure:
    """What to do with a row whose pass raised: retry (with its status) or dead-letter."""

    dead_letter: bool
    status: OutboxStatus  # when retried: sending if Slack may have it, else pending
    reason: str
    error: str
    code: str | None = None


def failure_action(exc: Exception, attempts: int, max_attempts: int, sending: bool) -> Failure:
    """Pure: the exception of one attempt (`attempts` counts it) -> retry or dead-letter."""
    if isinstance(exc, SendFailed):
        # Not ambiguous means Slack answered: the post did not happen, whatever came before.
        status = OutboxStatus.SENDING if exc.ambiguous else OutboxStatus.PENDING
        if exc.error_class is ErrorClass.PERMANENT:
            return Failure(True, status, "permanent_error", str(exc), exc.code)
        if exc.error_class is ErrorClass.TRANSIENT:
            return Failure(False, status, "transient_error", str(exc), exc.code)
        if attempts >= max_attempts:
            return Failure(True, status, "too_many_attempts", str(exc), exc.code)
        return Failure(False, status, "unknown_error", str(exc), exc.code)
    error = f"{type(exc).__name__}: {exc}"
    status = OutboxStatus.SENDING if sending else OutboxStatus.PENDING
    if attempts >= max_attempts:
        return Failure(True, status, "too_many_attempts", error, type(exc).__name__)
    return Failure(False, status, "exception", error, type(exc).__name__)


class DeliveryObserver:
    """Hooks for metrics; the default observes nothing."""

    def sent(self, row: OutboxRow, seconds_since_created: float, send_seconds: float) -> None: ...

    def failed(self, row: OutboxRow, failure: Failure) -> None: ...


@dataclass(frozen=True)
class Wiring:
    """What the stages are built from; the same for every pass."""

    engine: Engine
    sender: Sender
    renderer: MessageRenderer
    limiter: ChannelLimiter
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]


def build_stages(w: Wiring) -> list[Stage]:
    """The delivery policy, in order (which rows are tried at all: `store.outbox.due`)."""
    return [
        ChannelRate(w.limiter, w.monotonic),  # a token bucket per channel
        LoadContext(w.engine, w.sender.user_for_email),  # the thread, facts as of now, mentions
        ResolveChannel(w.engine, w.sender, w.clock),  # names to ids before the first post
        Render(w.renderer),  # before `sending`: a failing template leaves the row pending
        AlreadySent(w.engine, w.sender, w.clock),  # after a crash, ask Slack before posting again
        Send(w.sender),
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
        *,
        fallback_channel: str | None = None,
        max_attempts: int = 5,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.limiter = ChannelLimiter(rate_per_channel)
        self.monotonic = monotonic
        self.fallback_channel = fallback_channel
        self.max_attempts = max_attempts
        self.observer = observer or DeliveryObserver()
        self.auth_error: str | None = None  # set by invalid_auth and the like: the daemon is unready
        self.last_pass_at: float | None = None  # monotonic end of the last pass: is the loop alive?
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

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = 1.0
            try:
                wait = min(wait, self.drain())
            except SQLAlchemyError as exc:
                log.error("outbox_read_failed", error=str(exc.__cause__ or exc).splitlines()[0])
            except Exception:  # keep notifying whatever one pass does
                log.exception("dispatcher_pass_failed")
            self.last_pass_at = self.monotonic()
            if wait > 0:
                self._wake.wait(timeout=max(0.05, wait))
                self._wake.clear()

    # -- one pass ---------------------------------------------------------------------

    def drain(self) -> float:
        """Try every row worth trying now; seconds until another pass is worth it (0: at once)."""
        with self.engine.connect() as conn:
            rows = store.due(conn, self.clock(), self.limiter.burst)
        stages = build_stages(Wiring(self.engine, self.sender, self.renderer, self.limiter, self.clock, self.monotonic))
        retry_in, progressed = 1.0, False
        gone: set[str] = set()  # channels found gone in this pass: their other rows failed with them
        for row in rows:
            if self._stop.is_set():
                break
            if row.channel in gone:
                continue
            outcome = self._deliver(stages, Delivery(row))
            if isinstance(outcome, Wait) and outcome.reason == "channel_gone":
                gone.add(row.channel)
            if isinstance(outcome, Done):
                progressed = True
            elif outcome.retry_in is not None:
                retry_in = min(retry_in, outcome.retry_in)
        return 0.0 if progressed else retry_in

    def _deliver(self, stages: Sequence[Stage], delivery: Delivery) -> Outcome:
        row = delivery.row
        bound = log.bind(outbox_id=row.id, ticket_id=row.ticket_id, kind=row.kind.value, channel=row.channel)
        started = self.monotonic()
        try:
            outcome = run_stages(stages, delivery)
        except Exception as exc:  # one bad row never stops the rest
            failure = failure_action(exc, row.attempts + 1, self.max_attempts, delivery.marked_sending)
            if not delivery.marked_sending:
                # Failed before the send was under way, so nothing of this pass reached Slack: a row
                # left `sending` by a crash still needs its lookup, a pending row was never posted.
                failure = replace(failure, status=row.status)
            self._failed(row, failure, exc, delivery)
            level = bound.error if failure.dead_letter else bound.warning
            level("notification_dead_lettered" if failure.dead_letter else "notification_failed",
                  error=failure.error, reason=failure.reason, attempts=row.attempts + 1)
            if failure.dead_letter and failure.code in CHANNEL_ERRORS:
                return Wait("channel_gone")
            return Wait(failure.reason)
        if isinstance(outcome, Done):
            if self.auth_error is not None:
                self.auth_error = None  # a successful send proves the token works again
            created = row.created_at or self.clock()
            self.observer.sent(row, (self.clock() - created).total_seconds(), self.monotonic() - started)
            bound.info("notification_sent")
        return outcome

    def _failed(self, row: OutboxRow, failure: Failure, exc: Exception, delivery: Delivery) -> None:
        now = self.clock()
        if failure.code in AUTH_ERRORS:
            self.auth_error = failure.code
        retry_after = exc.retry_after if isinstance(exc, SendFailed) else None
        if retry_after:
            self.limiter.pause(row.channel, retry_after, self.monotonic())
        self.observer.failed(row, failure)
        with self.engine.begin() as conn:
            if failure.dead_letter:
                store.dead_letter(conn, row, failure.error, now)
                others = 0
                if failure.code in CHANNEL_ERRORS:
                    others = store.dead_letter_channel(conn, row.channel, failure.error)
                self._report(conn, row, failure, delivery, now, others)
            else:
                store.mark(
                    conn, row.id, failure.status, attempts=row.attempts + 1,
                    next_attempt_at=now + backoff(row.attempts + 1, retry_after), last_error=failure.error[:500],
                )

    def _report(
        self, conn: object, row: OutboxRow, failure: Failure, delivery: Delivery, now: datetime, others: int = 0
    ) -> None:
        """Queue a message about the dead letter in the fallback channel (never about itself)."""
        if not self.fallback_channel or row.kind is NotificationKind.DEAD_LETTER:
            return
        ticket = delivery.tickets[0] if delivery.tickets else None
        payload = {
            "failed_id": row.id, "kind": row.kind.value, "channel": row.channel, "error": failure.error,
            "ticket_id": row.ticket_id, "priority": ticket.priority if ticket else row.priority.value,
            "summary": ticket.annotations.get("summary", ticket.rule) if ticket else None,
            "others": others,
        }
        note = NewNotification(None, NotificationKind.DEAD_LETTER, self.fallback_channel, payload,
                               f"dead:{row.id}:{row.attempts + 1}", row.priority)
        store.add(conn, [note], now)  # type: ignore[arg-type]
