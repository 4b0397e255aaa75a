"""The migrated schema on SQLite and PostgreSQL: unbounded label text, and the watcher's index.

The watcher's plan is read with EXPLAIN over 20,000 tickets of which 20 are unresolved
(after ANALYZE), the shape of a database after some months: both planners read the
partial index instead of the table. tests/bench/bench_watcher.py prints the plans and
timings over 100,000 tickets.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, String, Text, event, insert, inspect

from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.schema import metadata, tickets
from tests.support.databases import fresh_postgres_url

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def ticket_rows(count: int, unresolved: int) -> Iterator[dict[str, Any]]:
    """`count` tickets a minute apart; the newest `unresolved` are open or acknowledged."""
    for i in range(count):
        opened = T0 + timedelta(minutes=i)
        still_open = i >= count - unresolved
        yield {
            "identity": f"{i:016x}", "open_identity": f"{i:016x}" if still_open else None, "group_key": f"rules.yaml;g{i % 50}",
            "rule_key": "R", "rule": "R", "priority": "P1",
            "status": ("open" if i % 2 else "acknowledged") if still_open else "resolved",
            "labels": "{}", "annotations": "{}", "series_count": 1, "opened_at": opened,
            "response_due": opened + timedelta(minutes=30), "recovery_due": opened + timedelta(hours=4),
            "response_warn_at": opened + timedelta(minutes=24), "recovery_warn_at": opened + timedelta(hours=3),
            "verification_seconds": 300.0,
        }


def watcher_plan(engine: Engine, now: datetime) -> tuple[list[store.TicketRow], str]:
    """The watcher's query run for real, and the plan of exactly that statement."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            due = store.to_watch(conn, now)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (statement, parameters), = seen
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        plan = "\n".join(" ".join(map(str, row)) for row in conn.exec_driver_sql(explain + statement, parameters))
    return due, plan


def test_the_unresolved_index_is_partial_with_the_watchers_predicate(engine: Engine) -> None:
    (index,) = [i for i in inspect(engine).get_indexes("tickets") if i["name"] == "ix_tickets_unresolved"]
    assert index["column_names"] == ["response_warn_at", "recovery_warn_at"]
    predicate = str(index["dialect_options"][f"{engine.dialect.name}_where"])
    assert "'open'" in predicate and "'acknowledged'" in predicate and "status" in predicate


def test_the_watcher_reads_unresolved_tickets_through_the_partial_index(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(tickets), list(ticket_rows(20_000, unresolved=20)))
        conn.exec_driver_sql("ANALYZE")
    due, plan = watcher_plan(engine, T0 + timedelta(days=30))
    assert len(due) == 20 and {t.status for t in due} == {"open", "acknowledged"}
    if engine.dialect.name == "sqlite":
        assert "USING INDEX ix_tickets_unresolved" in plan, plan
    else:
        assert "Index Scan using ix_tickets_unresolved" in plan and "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_every_text_column_of_the_schema_is_unbounded_text_in_postgresql() -> None:
    """schema.py and the migrations agree; label-derived columns are `text`, not varchar(255).

    PostgreSQL only: SQLite never enforced lengths, and 0005 leaves its tables as they are.
    """
    for url in fresh_postgres_url():
        engine = make_engine(url)
        try:
            upgrade(engine)
            found = inspect(engine)
            for table in metadata.sorted_tables:
                actual = {c["name"]: c["type"] for c in found.get_columns(table.name)}
                for column in table.columns:
                    if isinstance(column.type, Text):
                        assert isinstance(actual[column.name], Text), (table.name, column.name, actual[column.name])
                    elif isinstance(column.type, String):
                        assert actual[column.name].length == column.type.length, (table.name, column.name)
        finally:
            engine.dispose()
