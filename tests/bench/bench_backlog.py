"""A P0 behind a backlog: how long from its ticket's commit to its Slack post.

One setup per database (SQLite, then PostgreSQL): 10,000 tickets opened in one tick
through `reconcile` with the real Announcer (`digest_threshold` high, so each has its
own opening message), all routed to #busy; the real Dispatcher thread sends them
through the real slack-sdk WebClient to the local Slack API server at the default
rate of 1 message per second per channel, so the backlog stays in the outbox for the
whole bench. Then, `--runs` times each, at a random phase of the 1 s cycle:

- a P0 for another channel (#incidents): its channel's bucket is full, so this is
  what the backlog costs a quiet channel (one fair selection query, no waiting);
- a P0 in #busy itself: it is selected first, and waits only for #busy's next token.

Measured: from the moment the tick's transaction committed to the moment the local
Slack server had read the chat.postMessage for that ticket (both `time.monotonic()`,
one process). Also: the duration of one `store.outbox.due` query over the 10,000
undelivered rows, before the dispatcher starts.

    python3 -m tests.bench.bench_backlog [--rows 10000] [--runs 5] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Sequence

from slawatch import logs
from slawatch.config.notify import OncallSettings, SlackSettings
from slawatch.incidents import reconcile
from slawatch.model import Labels, Sample
from slawatch.notify.announce import Announcer
from slawatch.notify.dispatcher import Dispatcher
from slawatch.notify.messages import MessageRenderer
from slawatch.notify.senders import SlackSender
from slawatch.rules.definitions import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import outbox as outbox_store
from slawatch.store.engine import make_engine, upgrade
from tests.support.databases import fresh_postgres_url
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

RULE = AlertingRule(name="Down", expr="down", annotations={"summary": "{{ $labels.instance }} is down"})
GROUP = RuleGroup("bench", "rules.yaml", timedelta(seconds=15), (RULE,))
ROUTES = [{"match": {"service": "busy"}, "channel": "#busy"}, {"match": {"priority": "P0"}, "channel": "#incidents"}]
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
POST_TIMEOUT = 15.0  # bound on each wait for a P0's post (s)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def down(instance: str, **labels: str) -> Sample:
    return Sample(Labels(__name__="up", instance=instance, **labels), 0)


class Backlog:
    """A database with a backlog in #busy, and the dispatcher working on it."""

    def __init__(self, url: str, slack: SlackApiServer) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.slack = slack
        settings = SlackSettings.model_validate(
            {"base_url": slack.base_url, "channel": "#alerts", "routes": ROUTES, "digest_threshold": 1_000_000}
        )
        self.announcer = Announcer(settings, OncallSettings())
        self.dispatcher = Dispatcher(
            self.engine, SlackSender(slack.token, slack.base_url, timedelta(seconds=10)), MessageRenderer(),
            settings.rate_per_channel, utc_now, max_attempts=settings.max_attempts,
        )
        self.pool = ThreadPoolExecutor(2)
        self.state: dict = {}
        self.samples: list[Sample] = []

    def tick(self, *new: Sample) -> float:
        """One evaluation in which `new` start firing too; the monotonic instant it committed."""
        self.samples.extend(new)
        outcome = evaluate_group(GROUP, self.state, utc_now(), lambda _e, _a: list(self.samples), self.pool)
        self.state = outcome.state
        with self.engine.begin() as conn:
            reconcile.reconcile(conn, outcome, SlaPolicy.default(), Classification(), self.announcer)
        committed = time.monotonic()
        self.dispatcher.wake()  # as the daemon does after every tick
        return committed

    def undelivered(self) -> int:
        with self.engine.connect() as conn:
            return outbox_store.pending_count(conn)

    def due_seconds(self) -> float:
        with self.engine.connect() as conn:
            started = time.perf_counter()
            outbox_store.due(conn, utc_now(), self.dispatcher.limiter.burst)
            return time.perf_counter() - started

    def posted_at(self, instance: str) -> float:
        """When the server had read the post for `instance` (waits at most POST_TIMEOUT)."""
        def arrived() -> float | None:
            for call in self.slack.calls_to("chat.postMessage"):
                if call.delivered and f"{instance} is down" in str(call.params.get("text", "")):
                    return call.at
            return None

        return wait_until(arrived, POST_TIMEOUT, 0.005, f"no post for {instance} within {POST_TIMEOUT:g}s")

    def close(self) -> None:
        self.dispatcher.stop()
        self.pool.shutdown()
        self.engine.dispose()


def database_urls(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'backlog.db'}"
    else:
        yield from fresh_postgres_url()


class Figures:
    def __init__(self) -> None:
        self.elsewhere: list[float] = []
        self.busy: list[float] = []
        self.due: list[float] = []
        self.setup_seconds = 0.0
        self.sent_meanwhile = 0


def bench(backend: str, rows: int, runs: int) -> Figures:
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp, SlackApiServer() as slack:
        urls = database_urls(backend, Path(tmp))
        backlog = Backlog(next(urls), slack)
        try:
            started = time.monotonic()
            backlog.tick(*[down(f"busy{i}:80", service="busy") for i in range(rows)])
            figures.setup_seconds = time.monotonic() - started
            if backlog.undelivered() != rows:
                raise RuntimeError(f"expected {rows} undelivered rows, found {backlog.undelivered()}")
            figures.due = [backlog.due_seconds() for _ in range(max(5, runs))]
            backlog.dispatcher.start()
            wait_until(lambda: slack.messages("#busy"), POST_TIMEOUT, 0.05, "the backlog is not being sent")
            for run in range(runs):
                for target, name, where in ((figures.elsewhere, "other", {}), (figures.busy, "busy", {"service": "busy"})):
                    time.sleep(1.0 + random.uniform(0.0, 1.0))  # a random phase of #busy's 1 s cycle
                    instance = f"p0-{name}-{run}:80"
                    committed = backlog.tick(down(instance, priority="P0", **where))
                    target.append(backlog.posted_at(instance) - committed)
            figures.sent_meanwhile = rows - backlog.undelivered()
        finally:
            backlog.close()
            urls.close()  # drops the PostgreSQL database
    return figures


def cell(values: Sequence[float], unit: float = 1.0, digits: int = 3) -> str:
    return f"{statistics.median(values) * unit:.{digits}f} / {max(values) * unit:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="undelivered opening rows in #busy")
    parser.add_argument("--runs", type=int, default=5, help="P0s measured per target channel (at least 5)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    for name in PROXY_VARS:  # slack-sdk ignores NO_PROXY; the Slack server is on loopback
        os.environ.pop(name, None)
    logs.configure("warning", "console")  # one line per notification sent would drown the figures

    results: dict[str, Figures] = {}
    for backend in args.databases.split(","):
        print(f"{backend}: opening {args.rows} tickets in #busy ...", flush=True)
        figures = bench(backend, args.rows, args.runs)
        results[backend] = figures
        print(f"  set up in {figures.setup_seconds:.1f} s; P0 elsewhere (s): "
              + ", ".join(f"{v:.3f}" for v in figures.elsewhere), flush=True)
        print("  P0 in #busy (s): " + ", ".join(f"{v:.3f}" for v in figures.busy)
              + f"; {figures.sent_meanwhile} backlog rows sent meanwhile", flush=True)

    print()
    print(f"{args.rows} undelivered openings in #busy, 1 msg/s per channel; {args.runs} runs each; median / max")
    header = f"{'database':<11} {'P0 other channel (s)':>22} {'P0 in #busy (s)':>18} {'one due() query (ms)':>22}"
    print(header)
    print("-" * len(header))
    for backend, f in results.items():
        print(f"{backend:<11} {cell(f.elsewhere):>22} {cell(f.busy):>18} {cell(f.due, 1000, 1):>22}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
