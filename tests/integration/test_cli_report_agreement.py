"""`tickets list`, `tickets show` and the monthly report agree on every ticket's outcomes.

The report counts met / breached / pending in SQL; the CLI judges each ticket with
`sla.outcomes`. Here both judge the same tickets at the same instant, on SQLite and
PostgreSQL: the explicit edge cases (boundaries, manual resolutions, a clear still in
verification before and after the deadline) and a few hundred random tickets."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from slawatch.cli import main
from slawatch.cli.common import Env
from slawatch.report.month import build_report
from slawatch.store.engine import make_engine, upgrade
from tests.support import tickets as seed

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
MONTH, ZONE = "2026-10", "Europe/Berlin"
M = timedelta(minutes=1)


@dataclass(frozen=True)
class Case:
    """A P0 ticket (respond in 15 min, recover in 2 h) opened `age` before NOW; the other
    instants are offsets from its opening (None: not happened)."""

    name: str
    age: timedelta
    ack: timedelta | None = None
    recovered: timedelta | None = None
    resolved: timedelta | None = None
    manual: bool = False
    expected: tuple[str, str] | None = None  # (response, recovery), where the case pins it


CASES = [
    Case("on-time", 5 * 60 * M, ack=5 * M, recovered=60 * M, resolved=65 * M, expected=("met", "met")),
    Case("late", 5 * 60 * M, ack=20 * M, recovered=180 * M, resolved=185 * M, expected=("breached", "breached")),
    Case("ack-at-the-deadline", 5 * 60 * M, ack=15 * M, recovered=120 * M, resolved=125 * M, expected=("met", "met")),
    Case("manual-early", 5 * 60 * M, resolved=10 * M, manual=True, expected=("met", "met")),
    Case("manual-late", 5 * 60 * M, resolved=180 * M, manual=True, expected=("breached", "breached")),
    Case("manual-after-a-clear", 5 * 60 * M, ack=5 * M, recovered=100 * M, resolved=150 * M, manual=True,
         expected=("met", "met")),
    Case("blip-never-acked", 60 * M, recovered=5 * M, resolved=10 * M, expected=("met", "met")),
    Case("blip-resolved-after-response-due", 60 * M, recovered=12 * M, resolved=17 * M, expected=("breached", "met")),
    Case("fresh", 5 * M, expected=("pending", "pending")),
    Case("unacked-past-response", 30 * M, expected=("breached", "pending")),
    Case("unacked-past-both", 3 * 60 * M, expected=("breached", "breached")),
    Case("acked-open", 60 * M, ack=10 * M, expected=("met", "pending")),
    Case("verifying-cleared-before-due", 125 * M, ack=5 * M, recovered=115 * M, expected=("met", "pending")),
    Case("verifying-cleared-after-due", 130 * M, ack=5 * M, recovered=125 * M, expected=("met", "breached")),
    Case("verifying-not-yet-due", 60 * M, ack=5 * M, recovered=50 * M, expected=("met", "pending")),
]


def _random_cases(n: int, seed_value: int = 15) -> list[Case]:
    rng = random.Random(seed_value)
    out = []
    for i in range(n):
        age = timedelta(seconds=rng.randrange(60, 10 * 86400))
        until = age.total_seconds()

        def maybe(p: float, lo: float, hi: float, until: float = until) -> timedelta | None:
            at = rng.uniform(lo, hi)
            return timedelta(seconds=at) if rng.random() < p and at < until else None

        ack = maybe(0.7, 0, 2400)
        recovered = maybe(0.7, 0, 3 * 3600)
        resolved = None
        manual = rng.random() < 0.15
        if recovered is not None and rng.random() < 0.8 and recovered.total_seconds() + 300 < until:
            resolved = recovered + timedelta(minutes=5)
        elif manual:
            resolved = maybe(0.9, 0, 4 * 3600)
        if ack is not None and resolved is not None and ack > resolved:
            ack = resolved
        out.append(Case(f"random-{i}", age, ack, recovered, resolved, manual=manual and resolved is not None))
    return out


def _write(engine, cases: list[Case]) -> dict[int, Case]:  # type: ignore[no-untyped-def]
    ids = seed.insert(engine, [
        seed.ticket_row(n, NOW - c.age, rule=f"Rule{n % 4}", labels={"service": f"svc{n % 3}", "case": c.name})
        for n, c in enumerate(cases)
    ])
    for ticket_id, c in zip(ids, cases):
        opened = NOW - c.age
        values = {}
        if c.ack is not None:
            values.update(acknowledged_at=opened + c.ack, acknowledged_by="alice", status="acknowledged")
        if c.recovered is not None:
            values["recovered_at"] = opened + c.recovered
        if c.resolved is not None:
            values.update(resolved_at=opened + c.resolved, status="resolved",
                          resolution="manual" if c.manual else "verified", resolved_by="alice" if c.manual else None)
        if values:
            seed.update(engine, ticket_id, **values)
    return dict(zip(ids, cases))


def _report_outcomes(report: dict) -> dict[tuple[int, str], str]:
    """(ticket id, deadline) -> breached | pending, from the report; missing means met."""
    out = {(b["ticket_id"], b["deadline"]): "breached" for b in report["breaches"]}
    out.update({(p["ticket_id"], p["deadline"]): "pending" for p in report["pending"]})
    return out


def test_cli_and_report_judge_every_ticket_alike(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    cases = _write(engine, CASES + _random_cases(300))
    with engine.connect() as conn:
        report = build_report(conn, MONTH, targets={}, priority_targets={}, timezone=ZONE, now=NOW)
    engine.dispose()
    by_report = _report_outcomes(report)
    config = tmp_path / "slawatch.yaml"
    config.write_text(f"database: {{url: '{db_url}'}}\n")

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, [*args, "--config", str(config)], obj=Env(clock=lambda: NOW))
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    listed = {t["id"]: t for t in json.loads(cli("tickets", "list", "--format", "json"))}
    assert set(listed) == set(cases) and report["overall"]["incidents"] == len(cases)
    for ticket_id, case in cases.items():
        for deadline in ("response", "recovery"):
            expected = by_report.get((ticket_id, deadline), "met")
            assert listed[ticket_id][deadline] == expected, (case, deadline, listed[ticket_id])
        if case.expected is not None:
            assert (listed[ticket_id]["response"], listed[ticket_id]["recovery"]) == case.expected, case

    for ticket_id, case in cases.items():
        if case.expected is None and ticket_id % 10:
            continue  # every edge case, and a tenth of the random ones
        shown = json.loads(cli("tickets", "show", str(ticket_id), "--format", "json"))
        text = cli("tickets", "show", str(ticket_id))
        for deadline in ("response", "recovery"):
            expected = by_report.get((ticket_id, deadline), "met")
            assert shown[deadline] == expected, (case, deadline)
            assert f"  {deadline}:{' ' * (13 - len(deadline))}{expected}, due " in text, (case, text)

    table = cli("tickets", "list", "--limit", "0").splitlines()
    header = table[0]
    at, width = header.index("RESPONSE"), len("RESPONSE  RECOVERY")
    for line in table[1:]:
        ticket_id = int(line.split()[0])
        response, recovery = line[at:at + width + 10].split()[:2]
        assert (response, recovery) == (listed[ticket_id]["response"], listed[ticket_id]["recovery"])

    p0 = report["priorities"]["P0"]
    for deadline in ("response", "recovery"):
        for outcome in ("met", "breached", "pending"):
            assert p0[f"{deadline}_{outcome}"] == sum(1 for t in listed.values() if t[deadline] == outcome)
