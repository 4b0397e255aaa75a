"""The deadline watcher's query over a long history, with and without the partial index.

100,000 tickets of which 100 are unresolved (open or acknowledged): the watcher runs
every 10 s, and without `ix_tickets_unresolved` each run reads every ticket ever opened.
Prints the plan of the watcher's statement and the median time of `to_watch`
per backend, then drops the index and measures again.

    python3 -m tests.bench.bench_watcher [--tickets 100000] [--unresolved 100] [--runs 20] [--backend both]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert

from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import tickets
from tests.integration.test_schema import T0, ticket_rows, watcher_plan
from tests.support.databases import fresh_postgres_url

NOW = T0 + timedelta(days=400)


def fill(engine: Engine, count: int, unresolved: int) -> None:
    upgrade(engine)
    rows = list(ticket_rows(count, unresolved))
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(tickets), rows[start : start + 10_000])
        conn.exec_driver_sql("ANALYZE")


def median_ms(engine: Engine, runs: int) -> tuple[float, float]:
    """Median ms of the statement alone (SQL and driver) and of `to_watch` (plus rows)."""
    statement, parameters = captured(engine)
    sql, call = [], []
    with engine.connect() as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.exec_driver_sql(statement, parameters).fetchall()
            sql.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            store.to_watch(conn, NOW)
            call.append((time.perf_counter() - started) * 1000)
    return statistics.median(sql), statistics.median(call)


def captured(engine: Engine) -> tuple[str, Any]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            store.to_watch(conn, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen[0]


def measure(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    fill(engine, args.tickets, args.unresolved)
    for label in ("with ix_tickets_unresolved", "without it"):
        if label == "without it":
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP INDEX ix_tickets_unresolved")
                conn.exec_driver_sql("ANALYZE")
        _due, plan = watcher_plan(engine, NOW)
        sql, call = median_ms(engine, args.runs)
        print(f"{engine.dialect.name}, {label}: query {sql:.2f} ms, to_watch {call:.2f} ms (medians)")
        print("  " + plan.replace("\n", "\n  "))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--unresolved", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if args.backend in ("postgres", "both"):
        for url in fresh_postgres_url():
            measure(url, args)


if __name__ == "__main__":
    main()
