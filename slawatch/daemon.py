"""The composition root: builds everything, schedules ticks, handles signals.

This is one of the two places that read the clock (the CLI is the other). Each
scheduled tick turns its fire time into the evaluation timestamp handed to the pure
core; nothing below here calls `now()`.

Scheduling: one APScheduler interval job per rule group, with deliberate settings:
- `max_instances=1`: a slow tick never overlaps the next one of the same group;
  the skipped run is logged and counted (`previous_tick_running`);
- `coalesce=True`: after a stall, one catch-up tick instead of a burst;
- `misfire_grace_time` = the group's interval: a tick later than that is superseded
  by the next one, logged and counted (`misfire`), never silently dropped.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from slawatch import logs
from slawatch.config.located import InputError
from slawatch.config.reload import NEEDS_RESTART, plan_reload
from slawatch.config.settings import Settings, load_settings
from slawatch.incidents import alignment
from slawatch.incidents import watcher as deadlines
from slawatch.incidents.ownership import RuleIndex
from slawatch.incidents.ports import OpenedTicket, Routing
from slawatch.metrics import Metrics
from slawatch.model import EventKind, TimelineEvent
from slawatch.notify.announce import Announcer
from slawatch.notify.dispatcher import DeliveryObserver, Dispatcher, Failure
from slawatch.notify.messages import MessageRenderer, TemplateFailed
from slawatch.notify.ratelimit import ChannelLimiter
from slawatch.notify.senders import ConsoleSender, Sender, SlackSender
from slawatch.redact import safe_url
from slawatch.rules.alerting import TemplateContext
from slawatch.rules.blind import ReachabilityTracker, blind_group
from slawatch.rules.files import RuleGroup, RuleSet, load_rules
from slawatch.rules.group import GroupEvaluator
from slawatch.rules.runner import GroupRunner, TicketPolicy
from slawatch.source import PrometheusSource
from slawatch.store import alert_states
from slawatch.store import outbox as outbox_store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.outbox import OutboxRow
from slawatch.web import HttpServer, make_app

Clock = Callable[[], datetime]
WATCHER_JOB = "deadline-watcher"
SHUTDOWN_GRACE = timedelta(seconds=8)
STUCK_AFTER = timedelta(seconds=60)  # a dispatcher pass or a group tick overdue by this is "stuck"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def grid_floor(now: datetime, interval: timedelta, offset: timedelta) -> datetime:
    """The latest scheduled instant `offset + k * interval` at or before `now`."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc) + offset
    steps = (now - epoch) // interval
    return epoch + steps * interval


def group_offset(group: RuleGroup) -> timedelta:
    """A stable per-group phase within its interval, spreading groups' queries over time."""
    digest = int(hashlib.sha256(group.key.encode()).hexdigest()[:8], 16)
    interval_ms = int(group.interval.total_seconds() * 1000)
    return timedelta(milliseconds=digest % interval_ms)


@dataclass
class _Job:
    runner: GroupRunner
    offset: timedelta


class Daemon:
    """Everything `slawatch run` needs, built from settings; `serve()` blocks until a signal."""

    def __init__(self, settings: Settings, rules: RuleSet, config_file: str | None, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.config_file = config_file
        self.clock = clock
        self.log = structlog.get_logger()
        self.metrics = Metrics()
        self.engine = make_engine(settings.database.url)
        prom = settings.prometheus
        self.source = PrometheusSource(prom.url, prom.timeout, prom.max_concurrent_queries)
        self.pool = ThreadPoolExecutor(max_workers=prom.max_concurrent_queries, thread_name_prefix="query")
        self.tracker = ReachabilityTracker(prom.unreachable_after)
        context = TemplateContext(prom.external_labels, prom.external_url)
        self.evaluate = GroupEvaluator(self.source.query, self.pool, context)
        self.evaluate_blind = GroupEvaluator(self.tracker.samples, self.pool, context)
        self.policy = self._ticket_policy(settings)
        self.announcer = LiveAnnouncer(self)
        self.dispatcher = Dispatcher(
            self.engine, build_sender(settings), build_renderer(settings), settings.slack.rate_per_channel, clock,
            fallback_channel=settings.slack.fallback_channel, max_attempts=settings.slack.max_attempts,
            observer=DeliveryMetrics(self.metrics),
        )
        self.metrics.watch_outbox(self._outbox_figures, clock)
        self.http: HttpServer | None = None
        self.scheduler = BackgroundScheduler(
            timezone=timezone.utc, executors={"default": JobPool(max_workers=16)}
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
        self.jobs: dict[str, _Job] = {}
        self._rules = rules
        self._inflight = 0
        self._idle = threading.Condition()
        self._signals: list[int] = []
        self._wake = threading.Event()

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Migrate the schema, restore alert state and schedule every group."""
        upgrade(self.engine)
        self.log.info(
            "daemon_started",
            prometheus=safe_url(self.settings.prometheus.url),
            database=safe_url(self.settings.database.url),
            groups=len(self._rules.groups),
            rules=self._rules.rule_count(),
        )
        now = self.clock()
        self._align(now, states=True)
        for group in self._rules.groups:
            self._add_group(group, now)
        self._add_group(blind_group(self.settings.rules.evaluation_interval), now, blind=True)
        self._schedule_watcher()
        self.scheduler.start()
        self.dispatcher.renderer.check()  # compile the Slack templates before the first incident
        self.dispatcher.start()
        self._start_http()

    def _outbox_figures(self) -> list[outbox_store.ChannelFigures]:
        with self.engine.connect() as conn:
            return outbox_store.figures(conn)

    def readiness(self) -> dict[str, Any]:
        """/readyz: ready to page? The database answers (checked by the HTTP app), the
        dispatcher loop is alive and not stuck, every group ticked recently, Slack auth is valid."""
        problems = []
        now = time.monotonic()
        if not self.dispatcher.alive:
            problems.append("dispatcher thread is not running")
        elif self.dispatcher.last_pass_at is not None and now - self.dispatcher.last_pass_at > STUCK_AFTER.total_seconds():
            problems.append(f"dispatcher stuck for {now - self.dispatcher.last_pass_at:.0f}s")
        if self.dispatcher.auth_error:
            problems.append(f"slack auth failed: {self.dispatcher.auth_error}")
        late = [
            job.runner.group.name for job in self.jobs.values()
            if job.runner.last_tick_at is not None
            and now - job.runner.last_tick_at > 2 * job.runner.group.interval.total_seconds() + STUCK_AFTER.total_seconds()
        ]
        if late:
            problems.append("groups not evaluated recently: " + ", ".join(sorted(late)[:10]))
        return {"ok": not problems, "reason": "; ".join(problems)} if problems else {"ok": True}

    def _schedule_watcher(self, replace: bool = False) -> None:
        interval = self.settings.sla.watch_interval
        self.scheduler.add_job(
            self._watch_deadlines,
            IntervalTrigger(seconds=interval.total_seconds(), timezone=timezone.utc),
            id=WATCHER_JOB,
            name=WATCHER_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval.total_seconds())),
            replace_existing=replace,
        )

    def _ticket_policy(self, settings: Settings) -> TicketPolicy:
        announcer = Announcer(settings.slack, settings.oncall)
        return TicketPolicy(settings.sla.policy(), settings.classification.policy(), announcer)

    def _start_http(self) -> None:
        address = self.settings.server.address()
        if address is None:
            return
        app = make_app(
            self.engine, self.settings.slack.secret(), self.clock, self.metrics.registry,
            on_change=self.dispatcher.wake, announcer=self.announcer, ready=self.readiness,
        )
        self.http = HttpServer(app, *address)
        self.http.start()
        self.log.info("http_listening", address=f"{address[0]}:{self.http.port}")

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.start()
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._signals:
                sig = self._signals.pop(0)
                if sig == signal.SIGHUP:
                    self.reload()
                else:
                    self.stop()
                    return 0

    def stop(self) -> None:
        """Stop scheduling, let the tick in flight finish (bounded), release resources."""
        self.log.info("daemon_stopping")
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + SHUTDOWN_GRACE.total_seconds()
        with self._idle:
            while self._inflight and time.monotonic() < deadline:
                self._idle.wait(timeout=0.1)
        if self._inflight:
            self.log.warning("daemon_stopped_with_tick_in_flight", ticks=self._inflight)
        self.dispatcher.stop()
        if self.http is not None:
            self.http.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.source.close()
        self.engine.dispose()
        self.log.info("daemon_stopped")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals.append(signum)
        self._wake.set()

    # -- reload ------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read config and rules and apply what can change live; on any error keep it all.

        Says what it did: `reload_succeeded` lists the applied changes, and
        `reload_needs_restart` names each changed setting that only a restart applies.
        """
        try:
            settings = load_settings(self.config_file)
            rules = load_rules(settings.rule_globs(), settings.rules.evaluation_interval, settings.base_dir)
            renderer = build_renderer(settings)
            renderer.check()
        except InputError as exc:
            return self._reload_failed([str(p) for p in exc.problems])
        except TemplateFailed as exc:
            return self._reload_failed([str(exc)])
        except Exception as exc:  # a reload must never take the running daemon down
            self.log.exception("reload_crashed")
            return self._reload_failed([f"{type(exc).__name__}: {exc}"])
        plan = plan_reload(self.settings, settings)
        if plan.needs_restart:
            self.log.warning("reload_needs_restart", settings=list(plan.needs_restart))
        kept = {name: getattr(self.settings, name) for name, fields in NEEDS_RESTART.items() if "*" in fields}
        log_settings = settings.log.model_copy(update={"format": self.settings.log.format})
        slack = settings.slack.model_copy(
            update={"signing_secret": self.settings.slack.signing_secret,
                    "signing_secret_file": self.settings.slack.signing_secret_file}
        )
        previous = self.settings
        self.settings = settings.model_copy(update={**kept, "log": log_settings, "slack": slack})
        self._apply_live(previous, renderer)
        self._rules = rules
        self._align(self.clock(), states=True)
        self._reschedule(rules)
        self.metrics.config_reloads.labels("success").inc()
        self.log.info("reload_succeeded", groups=len(rules.groups), rules=rules.rule_count(), changed=list(plan.changed))
        return True

    def _reload_failed(self, problems: list[str]) -> bool:
        self.metrics.config_reloads.labels("failure").inc()
        self.log.error("reload_failed", problems=problems, kept_groups=len(self.jobs))
        return False

    def _apply_live(self, previous: Settings, renderer: MessageRenderer) -> None:
        """Policies, notification settings and the log level of the new settings."""
        settings = self.settings
        # New tickets open under the new policy; open tickets keep their stored snapshot.
        self.policy = self._ticket_policy(settings)
        for job in self.jobs.values():
            job.runner.policy = self.policy
        self.dispatcher.renderer = renderer
        self.dispatcher.fallback_channel = settings.slack.fallback_channel
        self.dispatcher.max_attempts = settings.slack.max_attempts
        if settings.slack.rate_per_channel != previous.slack.rate_per_channel:
            self.dispatcher.limiter = ChannelLimiter(settings.slack.rate_per_channel)
        sender_fields = ("token", "token_file", "base_url", "timeout")
        if any(getattr(settings.slack, f) != getattr(previous.slack, f) for f in sender_fields):
            self.dispatcher.sender = build_sender(settings)
        if settings.log.level != previous.log.level:
            logs.configure(settings.log.level, settings.log.format)
        if settings.sla.watch_interval != previous.sla.watch_interval:
            self._schedule_watcher(replace=True)

    def _reschedule(self, rules: RuleSet) -> None:
        """Add, replace and remove group jobs; a removed group's state and metrics go too."""
        now = self.clock()
        wanted = {g.key: g for g in rules.groups}
        blind = blind_group(self.settings.rules.evaluation_interval)
        for key in list(self.jobs):
            if key not in wanted and key != blind.key:
                self.scheduler.remove_job(key)
                self.jobs.pop(key).runner.forget()
                self._forget_state(key)
        for key, group in [*wanted.items(), (blind.key, blind)]:
            job = self.jobs.get(key)
            if job is None:
                self._add_group(group, now)
            elif job.runner.group.interval != group.interval:
                self.scheduler.remove_job(key)
                del self.jobs[key]
                self._add_group(group, now, runner=job.runner)
            else:
                job.runner.adopt(group, now, self.settings.rules.for_outage_tolerance)

    def _forget_state(self, group_key: str) -> None:
        try:
            with self.engine.begin() as conn:
                alert_states.delete_group(conn, group_key)
        except SQLAlchemyError as exc:
            self.log.error("group_state_delete_failed", group_key=group_key, error=str(exc.__cause__ or exc).splitlines()[0])

    # -- scheduling --------------------------------------------------------------

    def _add_group(
        self, group: RuleGroup, now: datetime, runner: GroupRunner | None = None, blind: bool = False
    ) -> None:
        if runner is None:
            # The blind group "queries" the tracker; only the user's groups feed it.
            evaluate, on_outcome = (self.evaluate_blind, None) if blind else (self.evaluate, self.tracker.record)
            runner = GroupRunner(group, self.engine, evaluate, self.metrics, self.policy, on_outcome)
            restored = runner.restore(now, self.settings.rules.for_outage_tolerance)
            if restored:
                runner.log.info("alert_state_restored", alerts=restored)
        else:
            runner.adopt(group, now, self.settings.rules.for_outage_tolerance)
        offset = group_offset(group)
        self.jobs[group.key] = _Job(runner, offset)
        self.scheduler.add_job(
            self._tick,
            IntervalTrigger(
                seconds=group.interval.total_seconds(),
                start_date=datetime(1970, 1, 1, tzinfo=timezone.utc) + offset,
                timezone=timezone.utc,
            ),
            args=[group.key],
            id=group.key,
            name=group.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(group.interval.total_seconds())),
            replace_existing=True,
        )

    def _tick(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            return
        with self._busy():
            now = self.clock()
            at = grid_floor(now, job.runner.group.interval, job.offset)
            self.metrics.tick_lag.observe((now - at).total_seconds())
            job.runner.tick(at)
        self.dispatcher.wake()  # notifications go out as soon as the tick committed

    def _align(self, now: datetime, states: bool = False) -> bool:
        """Tickets (and with `states`, persisted alert states) follow the rules in force:
        re-filed under the group that holds their rule now; tickets of removed rules are
        cleared, then resolved as `rule_removed` after their verification window."""
        rules = self._rules
        index = RuleIndex([*rules.groups, blind_group(self.settings.rules.evaluation_interval)])
        removals = bool(rules.files)
        try:
            with self.engine.begin() as conn:
                if states:
                    moved, dropped = alignment.align_states(conn, index, removals)
                    if moved or dropped:
                        self.log.info("alert_state_refiled", moved=moved, dropped=dropped)
                done = alignment.align_tickets(conn, index, now, self.policy.announcer, removals)
        except SQLAlchemyError as exc:
            self.log.error("rules_align_failed", error=str(exc.__cause__ or exc).splitlines()[0])
            return False
        for adopted in done.adopted:
            self.log.info(
                "ticket_adopted", ticket_id=adopted.ticket_id, rule=adopted.rule_key,
                from_group_key=adopted.from_group_key, group_key=adopted.group_key,
            )
        for ticket_id in done.restored:
            self.log.info("ticket_rule_restored", ticket_id=ticket_id)
        for event in done.events:
            self.log.info("ticket_" + event.kind.value, ticket_id=event.ticket_id, **event.detail)
        if done.events:
            self.dispatcher.wake()
        return True

    def _watch_deadlines(self) -> None:
        """Align tickets with the rules in force, then record due deadline warnings and
        breaches (exactly once each)."""
        with self._busy():
            self._align(self.clock())
            try:
                with self.engine.begin() as conn:
                    events = deadlines.record_due(conn, self.clock(), self.policy.announcer)
            except SQLAlchemyError as exc:
                self.log.error("deadline_watch_failed", error=str(exc.__cause__ or exc).splitlines()[0])
                return
        if events:
            self.dispatcher.wake()
        for event in events:
            if event.kind is EventKind.ESCALATED:
                self._log_step(event)
            else:
                self.log.info("ticket_" + event.kind.value, ticket_id=event.ticket_id, at=event.at.isoformat(), **event.detail)

    def _log_step(self, event: TimelineEvent) -> None:
        """An escalation step; a schedule with nobody on call that it passed over is a warning."""
        d = event.detail
        log = self.log.bind(ticket_id=event.ticket_id, at=event.at.isoformat(), step=d["level"] + 1, of=d["steps"],
                            cycle=d["cycle"], trigger=d["trigger"], reason=d["reason"])
        for skipped in d["skipped"]:
            log.warning("escalation_fell_through", schedule=skipped["schedule"], nobody_on_call_until=skipped["until"])
        notified = d["notified"]
        if notified is None:
            log.warning("escalation_reached_nobody", target=d["target"]["name"])
        else:
            log.info("ticket_escalated", target=f"{notified['kind']} {notified['target']}", notified=notified["mention"])

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """Counts work in flight, so a shutdown can wait for it (bounded)."""
        with self._idle:
            self._inflight += 1
        try:
            yield
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        job = self.jobs.get(event.job_id)
        group = job.runner.group.name if job else event.job_id  # or the watcher's id
        if event.code == EVENT_JOB_MISSED:
            self.metrics.iterations_missed.labels(group, "misfire").inc()
            self.log.warning("tick_missed", group=group, reason="misfire", scheduled=str(event.scheduled_run_time))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.metrics.iterations_missed.labels(group, "previous_tick_running").inc()
            self.log.warning("tick_skipped", group=group, reason="previous_tick_running")
        elif event.code == EVENT_JOB_ERROR:
            self.log.error("tick_failed", group=group, error=repr(event.exception), traceback=event.traceback)


def build_sender(settings: Settings) -> Sender:
    """Slack when a token is configured, else the console."""
    token = settings.slack.bot_token()
    if token:
        return SlackSender(token, settings.slack.base_url, settings.slack.timeout)
    return ConsoleSender()


def build_renderer(settings: Settings) -> MessageRenderer:
    return MessageRenderer(settings.slack.templates_dir, settings.sla.timezone)


def build(config_file: str | None) -> Daemon:
    """Load config and rules or raise InputError; used by `slawatch run`."""
    settings = load_settings(config_file)
    rules = load_rules(settings.rule_globs(), settings.rules.evaluation_interval, settings.base_dir)
    return Daemon(settings, rules, config_file)


class LiveAnnouncer:
    """The announcer of the policy in force, for code built once (the HTTP app, Slack buttons)."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def _current(self) -> Announcer:
        announcer = self._daemon.policy.announcer
        assert announcer is not None
        return announcer

    def routing(self, labels: Mapping[str, str], at: datetime) -> Routing:
        return self._current().routing(labels, at)

    def opened(self, conn: Connection, opened: Sequence[OpenedTicket], at: datetime) -> None:
        self._current().opened(conn, opened, at)

    def events(self, conn: Connection, events: Sequence[TimelineEvent], at: datetime) -> None:
        self._current().events(conn, events, at)


class DeliveryMetrics(DeliveryObserver):
    """The dispatcher's observations as Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def sent(self, row: OutboxRow, seconds_since_created: float, send_seconds: float) -> None:
        self._m.notifications_sent.labels(row.channel, row.kind.value).inc()
        self._m.send_seconds.observe(send_seconds)
        self._m.delivery_seconds.observe(max(0.0, seconds_since_created))

    def failed(self, row: OutboxRow, failure: Failure) -> None:
        self._m.notification_failures.labels(row.channel, failure.reason, failure.code or "").inc()
        if failure.dead_letter:
            self._m.dead_letters.labels(row.channel).inc()
