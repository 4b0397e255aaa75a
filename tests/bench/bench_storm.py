"""Alert storm: 10,000 newly firing series (no group_by) in one tick.

Measures what one tick of the daemon does for them: the state machine, persisting the
alert state, and opening 10,000 tickets (with series and timeline rows) in one
transaction, on SQLite and on PostgreSQL. Prints the median of several runs.

    python -m tests.bench.bench_storm [--series 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from slawatch.incidents import reconcile as incidents
from slawatch.model import Labels, Sample
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import alert_states
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import tickets
from tests.support.databases import fresh_postgres_url

AT = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULE = AlertingRule(
    name="InstanceDown",
    expr="up == 0",
    labels={"severity": "critical", "team": "platform"},
    annotations={"summary": "{{ $labels.instance }} of {{ $labels.job }} is down"},
)
GROUP = RuleGroup("storm", "storm.yaml", timedelta(seconds=15), (RULE,))


def one_tick(url: str, series: int) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine)
    samples = [Sample(Labels(__name__="up", job=f"job{i % 50}", instance=f"10.0.{i // 250}.{i % 250}:9100"), 0) for i in range(series)]
    pool = ThreadPoolExecutor(1)
    started = time.perf_counter()
    outcome = evaluate_group(GROUP, {}, AT, lambda expr, at: samples, pool)
    with engine.begin() as conn:
        alert_states.save_group(conn, GROUP.key, {}, outcome.state)
        incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        opened = conn.execute(select(func.count()).select_from(tickets)).scalar_one()
    engine.dispose()
    pool.shutdown()
    return elapsed, opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql"):
        times = []
        for _ in range(args.runs):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    elapsed, opened = one_tick(f"sqlite:///{Path(tmp) / 'bench.db'}", args.series)
            else:
                gen = fresh_postgres_url()
                url = next(gen)
                try:
                    elapsed, opened = one_tick(url, args.series)
                finally:
                    gen.close()
            assert opened == args.series, (backend, opened)
            times.append(elapsed)
        print(
            f"{backend:<10} {args.series} tickets opened in one tick: median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
