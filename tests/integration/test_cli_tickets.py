"""`slawatch tickets list` over 2,500 tickets in a real database (SQLite and PostgreSQL):
no silent truncation, --limit, matchers, --since/--until, --rule/--service, JSON and
streamed JSON lines. The CLI runs through click's CliRunner with a fixed clock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result

from slawatch.cli import main
from slawatch.cli.common import Env
from slawatch.store.engine import make_engine, upgrade
from tests.support import tickets as seed
from tests.support.databases import fresh_postgres_url

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
COUNT = 2500
TEAMS = ("db", "web", "api", "search", "billing")


def _row(n: int) -> dict:
    """Ticket n was opened COUNT - n minutes before NOW (n = COUNT - 1 is the newest)."""
    critical = n % 4 == 0
    labels = {"team": TEAMS[n % 5], "severity": "critical" if critical else "warning", "service": f"svc{n % 10}"}
    return seed.ticket_row(n, NOW - timedelta(minutes=COUNT - n), rule=f"Rule{n % 3}",
                           priority="P0" if critical else "P2", labels=labels)


class Cli:
    def __init__(self, config: Path, url: str) -> None:
        self.config, self.url = config, url

    def __call__(self, *args: str) -> Result:
        runner = CliRunner()
        return runner.invoke(main, [*args, "--config", str(self.config)], obj=Env(clock=lambda: NOW))

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("cli-tickets")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp / 'slawatch.db'}"])
    else:
        urls = fresh_postgres_url()
    url = next(urls)
    engine = make_engine(url)
    upgrade(engine)
    ids = seed.insert(engine, [_row(n) for n in range(COUNT)])
    assert len(ids) == COUNT
    engine.dispose()
    config = tmp / "slawatch.yaml"
    config.write_text(f"database: {{url: '{url}'}}\n")
    yield Cli(config, url)
    if hasattr(urls, "close"):
        urls.close()


def _ids(table: str) -> list[int]:
    return [int(line.split()[0]) for line in table.splitlines()[1:] if line and line.split()[0].isdigit()]


def test_the_table_shows_fifty_newest_and_says_how_many_there_are(cli: Cli) -> None:
    out = cli.ok("tickets", "list").stdout
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["ID", "PRI", "STATUS", "RULE", "SERVICE"]
    ids = _ids(out)
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert lines[-1] == "showing 50 of 2,500 (--limit to see more)"


def test_limit_chooses_how_many_and_zero_shows_all(cli: Cli) -> None:
    out = cli.ok("tickets", "list", "--limit", "7").stdout
    assert len(_ids(out)) == 7 and out.splitlines()[-1] == "showing 7 of 2,500 (--limit to see more)"
    out = cli.ok("tickets", "list", "--limit", "0").stdout
    assert len(_ids(out)) == COUNT and "showing" not in out
    out = cli.ok("tickets", "list", "--limit", "5000").stdout
    assert len(_ids(out)) == COUNT and "showing" not in out


def test_json_has_every_ticket_unless_limited(cli: Cli) -> None:
    result = cli.ok("tickets", "list", "--format", "json")
    tickets = json.loads(result.stdout)
    assert len(tickets) == COUNT and result.stderr == ""
    assert len({t["id"] for t in tickets}) == COUNT
    assert tickets[0]["opened_at"] == (NOW - timedelta(minutes=1)).isoformat()
    limited = cli.ok("tickets", "list", "--format", "json", "--limit", "100")
    assert len(json.loads(limited.stdout)) == 100
    assert limited.stderr.strip() == "showing 100 of 2,500 (--limit to see more)"


def test_json_lines_are_one_ticket_per_line(cli: Cli) -> None:
    out = cli.ok("tickets", "list", "--format", "jsonl").stdout
    lines = out.splitlines()
    assert len(lines) == COUNT
    first = json.loads(lines[0])
    assert first["labels"]["alertname"] == first["rule"] and first["response"] in ("met", "breached", "pending")
    assert [json.loads(line)["id"] for line in lines] == sorted((json.loads(x)["id"] for x in lines), reverse=True)


def test_matchers_filter_by_labels_and_the_count_stays_exact(cli: Cli) -> None:
    out = cli.ok("tickets", "list", 'team="db"', 'severity=~"crit.*"').stdout
    assert len(_ids(out)) == 50
    assert out.splitlines()[-1] == "showing 50 of 125 (--limit to see more)"  # n % 20 == 0
    tickets = json.loads(cli.ok("tickets", "list", "--format", "json", 'team="db"', 'severity=~"crit.*"').stdout)
    assert len(tickets) == 125
    assert all(t["labels"]["team"] == "db" and t["labels"]["severity"] == "critical" for t in tickets)
    lines = cli.ok("tickets", "list", "--format", "jsonl", "{team=db, severity=critical}").stdout.splitlines()
    assert len(lines) == 125


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        (["team=db"], 500),
        (['team!="db"'], 2000),
        (['team=~"d.*|w.*"'], 1000),
        (['team=~"d"'], 0),  # anchored: "d" is not "db"
        (['team!~"db|web|api"'], 1000),
        (['team=~".+"', 'owner=""'], 2500),  # an absent label is ""
        (['owner!=""'], 0),
        (["Rule1"], 833),  # a bare word is the alertname
        (['alertname="Rule1"', 'team="db"'], 166),
        (['service="svc3"'], 250),
    ],
)
def test_matcher_counts(cli: Cli, matchers: list[str], expected: int) -> None:
    tickets = json.loads(cli.ok("tickets", "list", "--format", "json", *matchers).stdout)
    assert len(tickets) == expected
    table = cli.ok("tickets", "list", *matchers).stdout
    if expected > 50:
        assert table.splitlines()[-1] == f"showing 50 of {expected:,} (--limit to see more)"
    else:
        assert len(_ids(table)) == expected and "showing" not in table


def test_since_and_until_select_by_opening_time(cli: Cli) -> None:
    out = cli.ok("tickets", "list", "--since", "24h").stdout
    assert out.splitlines()[-1] == "showing 50 of 1,440 (--limit to see more)"  # one ticket a minute
    tickets = json.loads(cli.ok("tickets", "list", "--format", "json", "--since", "1h30m").stdout)
    assert len(tickets) == 90
    assert min(t["opened_at"] for t in tickets) == (NOW - timedelta(minutes=90)).isoformat()  # inclusive
    start, end = (NOW - timedelta(minutes=100)), (NOW - timedelta(minutes=40))
    window = json.loads(cli.ok("tickets", "list", "--format", "json", "--since", start.isoformat(),
                               "--until", end.isoformat()).stdout)
    assert len(window) == 60  # until is exclusive
    naive = json.loads(cli.ok("tickets", "list", "--format", "json", "--since",
                              start.replace(tzinfo=None).isoformat(), "--until", "40m").stdout)
    assert [t["id"] for t in naive] == [t["id"] for t in window]  # a time without offset is UTC
    both = json.loads(cli.ok("tickets", "list", "--format", "json", "--since", "24h", 'team="db"').stdout)
    assert len(both) == 288


def test_rule_service_status_and_priority_filter_in_sql(cli: Cli) -> None:
    assert len(json.loads(cli.ok("tickets", "list", "--format", "json", "--rule", "Rule0").stdout)) == 834
    assert len(json.loads(cli.ok("tickets", "list", "--format", "json", "--service", "svc3").stdout)) == 250
    assert len(json.loads(cli.ok("tickets", "list", "--format", "json", "--priority", "P0").stdout)) == 625
    assert json.loads(cli.ok("tickets", "list", "--format", "json", "--status", "resolved").stdout) == []
    out = cli.ok("tickets", "list", "--service", "svc4", "--priority", "P0", "--limit", "10").stdout
    assert out.splitlines()[-1] == "showing 10 of 125 (--limit to see more)"  # n % 20 == 4
    assert json.loads(cli.ok("tickets", "list", "--format", "json", "--service", "svc3", "--priority", "P0").stdout) == []


def test_bad_input_is_a_usage_error_naming_it(cli: Cli) -> None:
    result = cli("tickets", "list", 'team=="db"')
    assert result.exit_code == 2 and "bad matcher 'team==\"db\"'" in result.output
    result = cli("tickets", "list", "--since", "yesterday")
    assert result.exit_code == 2 and "'yesterday' is neither an ISO 8601 time" in result.output
    result = cli("tickets", "list", 'x=~"(unclosed"')
    assert result.exit_code == 2 and "invalid regular expression" in result.output


def test_json_lines_stream_and_a_closed_pipe_ends_quietly(cli: Cli) -> None:
    """`| head -1`: the first line arrives, then the reader goes away; no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "slawatch", "tickets", "list", "--format", "jsonl", "--config", str(cli.config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    assert first["id"] == COUNT or first["id"] > 0
    proc.stdout.close()
    assert proc.wait(timeout=60) in (0, 1)
    assert b"Traceback" not in proc.stderr.read()
