"""Read-only commands never change the schema: a database behind, ahead or never migrated
gets the clear message and exit 1, and a read-only PostgreSQL role can use them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, make_url, text

from slawatch.cli import main
from slawatch.cli.common import Env
from slawatch.store.engine import MIGRATIONS, current_revisions, expected_revisions, make_engine, upgrade
from tests.support import tickets as seed
from tests.support.databases import fresh_postgres_url

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
HEAD = expected_revisions()[0]
READERS = (["tickets", "list"], ["tickets", "list", "--format", "jsonl"], ["tickets", "show", "1"], ["alerts"],
           ["report", "--month", "2026-10"])
WRITERS = (["tickets", "ack", "1", "--by", "alice"], ["tickets", "resolve", "1", "--by", "alice", "--note", "x"])


def cli(url: str, tmp: Path, *args: str) -> Result:
    config = tmp / f"slawatch-{uuid.uuid4().hex[:6]}.yaml"
    config.write_text(f"database: {{url: '{url}'}}\n")
    return CliRunner().invoke(main, [*args, "--config", str(config)], obj=Env(clock=lambda: NOW))


def _alembic(url: str, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
    engine.dispose()


def _seed(url: str) -> None:
    engine = make_engine(url)
    seed.insert(engine, [seed.ticket_row(1, NOW - timedelta(minutes=5), labels={"service": "api", "team": "db"})])
    engine.dispose()


def test_a_never_migrated_database_gets_the_message_and_stays_empty(db_url: str, tmp_path: Path) -> None:
    for args in READERS + WRITERS:
        result = cli(db_url, tmp_path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip() == (
            f"error: database schema is at none (an empty database), this slawatch expects {HEAD}: "
            "run 'slawatch db upgrade'"
        ), args
    if db_url.startswith("sqlite"):
        assert not Path(make_url(db_url).database).exists()  # not even created
    else:
        engine = make_engine(db_url)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        engine.dispose()


def test_a_schema_behind_is_reported_and_not_upgraded(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    for args in READERS + WRITERS:
        result = cli(db_url, tmp_path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip() == (
            f"error: database schema is at 0003, this slawatch expects {HEAD}: run 'slawatch db upgrade'"
        ), args
    assert current_revisions(engine) == ("0003",)
    assert cli(db_url, tmp_path, "db", "upgrade").exit_code == 0
    assert current_revisions(engine) == (HEAD,)
    assert cli(db_url, tmp_path, "tickets", "list").exit_code == 0
    engine.dispose()


def test_a_schema_ahead_asks_to_upgrade_slawatch(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    _seed(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    for args in READERS + WRITERS:
        result = cli(db_url, tmp_path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip() == f"error: database schema is at 0999, this slawatch expects {HEAD}: upgrade slawatch"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM tickets")).scalar_one() == "open"  # ack did not run
    engine.dispose()


@pytest.fixture
def read_only_role() -> Iterator[tuple[str, str]]:
    """(admin URL, read-only URL) of a fresh, migrated PostgreSQL database with one ticket.

    The role may log in and SELECT, nothing else: it could not migrate if it tried.
    """
    urls = fresh_postgres_url()
    admin_url = next(urls)
    role = f"slawatch_ro_{uuid.uuid4().hex[:8]}"
    database = make_url(admin_url).database
    upgrade_engine = make_engine(admin_url)
    upgrade(upgrade_engine)
    upgrade_engine.dispose()
    _seed(admin_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
    try:
        yield admin_url, make_url(admin_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
        admin.dispose()
        urls.close()  # drops the database
        server = create_engine(make_url(admin_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        server.dispose()


@pytest.mark.postgres
def test_a_read_only_role_lists_tickets_and_gets_the_message_when_behind(
    read_only_role: tuple[str, str], tmp_path: Path
) -> None:
    admin_url, reader_url = read_only_role
    for args in READERS:
        result = cli(reader_url, tmp_path, *args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    assert "ServiceDown" in cli(reader_url, tmp_path, "tickets", "list").stdout
    assert cli(reader_url, tmp_path, "tickets", "list", 'team="db"', "--format", "json").stdout.count('"id"') == 1

    _alembic(admin_url, "downgrade", "-1")  # the daemon's schema is now one revision behind this CLI
    behind = current_revisions(make_engine(admin_url))
    assert behind != (HEAD,) and behind
    for args in READERS:
        result = cli(reader_url, tmp_path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip() == (
            f"error: database schema is at {behind[0]}, this slawatch expects {HEAD}: run 'slawatch db upgrade'"
        )
    assert current_revisions(make_engine(admin_url)) == behind
