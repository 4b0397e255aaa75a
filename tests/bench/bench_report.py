"""Monthly report on a big history: 1,000,000 tickets of one month across 200 services.

Generates the month directly with bulk inserts (executemany on SQLite, COPY on
PostgreSQL: this is benchmark data, not the product's write path), then builds the
report for October 2026 (Europe/Berlin) as a child process that prints the JSON, and
measures its wall time and peak RSS. Prints the median of several runs per backend.

    python3 -m tests.bench.bench_report [--tickets 1000000] [--runs 3] [--backend both]

The outcome mix is what a busy but healthy organisation sees: P0 1 %, P1 9 %, P2 90 %;
95 % of tickets acknowledged, about 1.5 % of them late; about 1.5 % of recoveries late;
0.3 % resolved by hand; tickets opened in the last half hour of the month still open. That
makes about 3 breaches per 100 tickets, so `breaches` lists ~30,000 rows. The P0
outages (10,000 across 200 services) and three monitoring-blind periods feed the
availability section. Targets: under 5 s and under 250 MB on each backend.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import make_url

from slawatch.store.engine import make_engine, upgrade
from tests.support.databases import fresh_postgres_url

UTC = timezone.utc
MONTH = "2026-10"
TIMEZONE = "Europe/Berlin"
START = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 2026-10-01 00:00 CEST
END = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 2026-11-01 00:00 CET
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BLIND_RULE = "SlawatchPrometheusUnreachable"
RULES = [f"Rule{i:02d}" for i in range(60)]
# (share, respond within, recover within): the default SLA table (P2's business day as 24 h).
PRIORITIES = [("P0", 0.01, 900, 7200), ("P1", 0.09, 1800, 14400), ("P2", 0.90, 7200, 86400)]

COLUMNS = (
    "identity", "open_identity", "group_key", "rule_key", "rule", "priority", "status", "labels", "annotations",
    "series_count", "opened_at", "acknowledged_at", "acknowledged_by", "recovered_at", "resolved_at", "resolved_by",
    "resolution", "response_due", "recovery_due", "response_warn_at", "recovery_warn_at", "verification_seconds",
    "channel", "escalation", "service",
)


def _pick_priority(r: float) -> tuple[str, int, int]:
    acc = 0.0
    for name, share, respond, recover in PRIORITIES:
        acc += share
        if r < acc:
            return name, respond, recover
    name, _, respond, recover = PRIORITIES[-1]
    return name, respond, recover


def ticket_rows(count: int, seed: int = 7) -> Iterator[tuple]:
    """`count` tickets opened in the month, in opening order, as tuples of COLUMNS."""
    rng = random.Random(seed)
    span = (END - START).total_seconds()
    for n in range(count):
        opened = START + timedelta(seconds=int(span * n / count))
        priority, respond, recover = _pick_priority(rng.random())
        service = f"svc{rng.randrange(200):03d}"
        rule = RULES[rng.randrange(len(RULES))]
        ack_at = by = resolved = resolved_by = resolution = None
        late = rng.random() < 0.015
        recovered = opened + timedelta(seconds=recover * (rng.uniform(1.05, 2.0) if late else rng.uniform(0.02, 0.6)))
        if rng.random() < 0.95:
            late = rng.random() < 0.015
            ack_at = opened + timedelta(seconds=respond * (rng.uniform(1.05, 3.0) if late else rng.uniform(0.05, 0.95)))
            by = f"oncall{rng.randrange(40)}"
        else:  # a short blip that cleared and was verified before anyone needed to acknowledge it
            recovered = opened + timedelta(seconds=respond * rng.uniform(0.05, 0.6))
        status = "resolved"
        if rng.random() < 0.003:
            resolved, resolved_by, resolution, recovered = recovered, by or "oncall0", "manual", None
        elif opened < END - timedelta(minutes=30):
            resolved, resolution = recovered + timedelta(minutes=5), "verified"
        else:
            status = "acknowledged" if ack_at else "open"
            recovered = None
        if ack_at is not None and resolved is not None and ack_at > resolved:
            ack_at = resolved
        identity = f"{n:016x}"
        labels = {"alertname": rule, "instance": f"10.{n % 250}.{n % 97}.{n % 13}:9100", "service": service,
                  "severity": {"P0": "critical", "P1": "error", "P2": "warning"}[priority], "team": f"team{n % 12}"}
        yield (
            identity, identity if status != "resolved" else None, "rules.yaml;" + service, rule, rule, priority, status,
            json.dumps(labels, sort_keys=True), json.dumps({"summary": f"{rule} on {service}"}), 1, opened,
            ack_at, by, recovered, resolved, resolved_by, resolution,
            opened + timedelta(seconds=respond), opened + timedelta(seconds=recover),
            opened + timedelta(seconds=respond * 0.8), opened + timedelta(seconds=recover * 0.8), 300.0, None, None, service,
        )
    blind = [(datetime(2026, 10, 3, 1, 0, tzinfo=UTC), 3600), (datetime(2026, 10, 14, 12, 0, tzinfo=UTC), 1800),
             (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 5400)]
    for i, (opened, seconds) in enumerate(blind):
        identity = f"b{i:015x}"
        recovered = opened + timedelta(seconds=seconds)
        yield (
            identity, None, "<slawatch>;slawatch-internal", BLIND_RULE, BLIND_RULE, "P1", "resolved",
            json.dumps({"alertname": BLIND_RULE, "priority": "P1", "service": "slawatch", "severity": "error"}),
            "{}", 1, opened, None, None, recovered, recovered + timedelta(minutes=5), None, "verified",
            opened + timedelta(minutes=30), opened + timedelta(hours=4), opened + timedelta(minutes=24),
            opened + timedelta(minutes=192), 300.0, None, None, "slawatch",
        )


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def generate(url: str, count: int, columns: tuple[str, ...] = COLUMNS) -> None:
    """A migrated database holding `count` tickets of October 2026 (plus three blind periods)."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    keep = [COLUMNS.index(c) for c in columns]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database)
        sql = f"INSERT INTO tickets ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        batch: list[tuple] = []
        for row in ticket_rows(count):
            batch.append(tuple(_sqlite_value(row[i]) for i in keep))
            if len(batch) == 20_000:
                conn.executemany(sql, batch)
                batch.clear()
        conn.executemany(sql, batch)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY tickets ({', '.join(columns)}) FROM STDIN") as copy:
                for row in ticket_rows(count):
                    copy.write_row([
                        (v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v)
                        for v in (row[i] for i in keep)
                    ])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE tickets")


# Until the CLI has `report`, the same call it will make: build_report, then json.dumps.
RUNNER = """
import json, sys
from datetime import datetime
from slawatch.report.month import ServiceTarget, build_report
from slawatch.store.engine import make_engine
url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
engine = make_engine(url)
targets = {f"svc{i:03d}": ServiceTarget(0.995 if i % 2 else 0.999) for i in range(200)}
with engine.connect() as conn:
    report = build_report(conn, "2026-10", targets=targets, priority_targets={}, timezone="Europe/Berlin", now=now)
sys.stdout.write(json.dumps(report))
"""
ROOT = Path(__file__).resolve().parents[2]


def _command(url: str, folder: Path) -> list[str]:
    """`slawatch report --month ... --format json` once the CLI has it, else RUNNER."""
    from slawatch.cli import main as cli

    if "report" not in getattr(cli, "commands", {}):
        return [sys.executable, "-c", RUNNER, url, NOW.isoformat()]
    services = "".join(f"    svc{i:03d}: {{availability_target: {0.995 if i % 2 else 0.999}}}\n" for i in range(200))
    config = folder / "slawatch.yaml"
    config.write_text(f"database:\n  url: {url}\nsla:\n  timezone: {TIMEZONE}\n  services:\n{services}")
    return [sys.executable, "-m", "slawatch", "report", "--month", MONTH, "--format", "json", "--config", str(config)]


def run_report(url: str) -> tuple[float, float, int, int]:
    """(wall seconds, peak RSS in MB, JSON bytes, tickets reported) of one report in a child process.

    RUSAGE_CHILDREN's maximum covers every child so far, so each measurement runs in a
    fresh measuring process (`_measure`).
    """
    with tempfile.TemporaryDirectory() as tmp:
        command = _command(url, Path(tmp))
        started = time.perf_counter()
        child = subprocess.run(command, capture_output=True, check=True, cwd=ROOT)
        elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, rss, len(child.stdout), json.loads(child.stdout)["overall"]["incidents"]


def _measure(url: str) -> tuple[float, float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", "import json, sys; from tests.bench.bench_report import run_report; "
         "print(json.dumps(run_report(sys.argv[1])))", url],
        capture_output=True, check=True, text=True, cwd=ROOT,
    )
    elapsed, rss, size, incidents = json.loads(out.stdout)
    return elapsed, rss, size, incidents


def bench(url: str, backend: str, count: int, runs: int) -> None:
    started = time.perf_counter()
    generate(url, count)
    print(f"{backend}: generated {count:,} tickets in {time.perf_counter() - started:.1f} s", flush=True)
    results = [_measure(url) for _ in range(runs)]
    assert all(r[3] == count + 3 for r in results), results  # the month's tickets and three blind ones
    wall = statistics.median(r[0] for r in results)
    rss = statistics.median(r[1] for r in results)
    print(
        f"{backend}: report --month {MONTH} --format json: wall {wall:.2f} s, peak RSS {rss:.0f} MB, "
        f"JSON {results[0][2] / 1e6:.1f} MB (median of {runs}; runs: "
        + ", ".join(f"{r[0]:.2f} s/{r[1]:.0f} MB" for r in results) + ")",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite", args.tickets, args.runs)
    if args.backend in ("postgresql", "both"):
        gen = fresh_postgres_url()
        url = next(gen)
        try:
            bench(url, "postgresql", args.tickets, args.runs)
        finally:
            gen.close()


if __name__ == "__main__":
    main()
