"""The schema check of commands that must not migrate, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from slawatch.store.engine import (
    SchemaMismatch,
    current_revisions,
    expected_revisions,
    make_engine,
    require_current,
    upgrade,
)


def test_a_database_at_the_head_passes(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    require_current(engine)
    assert current_revisions(engine) == expected_revisions()
    engine.dispose()


def test_an_empty_database_is_behind_and_stays_empty(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(SchemaMismatch) as caught:
        require_current(engine)
    assert str(caught.value) == (
        f"database schema is at none (an empty database), this slawatch expects {expected_revisions()[0]}: "
        "run 'slawatch db upgrade'"
    )
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()


def test_an_older_schema_is_behind_and_is_not_upgraded(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    with pytest.raises(SchemaMismatch) as caught:
        require_current(engine)
    assert not caught.value.newer
    assert str(caught.value).startswith("database schema is at 0003, this slawatch expects ")
    assert str(caught.value).endswith(": run 'slawatch db upgrade'")
    assert current_revisions(engine) == ("0003",)
    engine.dispose()


def test_a_revision_this_slawatch_does_not_know_is_newer(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(SchemaMismatch) as caught:
        require_current(engine)
    assert caught.value.newer
    assert str(caught.value) == (
        f"database schema is at 0999, this slawatch expects {expected_revisions()[0]}: upgrade slawatch"
    )
    engine.dispose()


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "not-yet" / "slawatch.db"
    engine = make_engine(f"sqlite:///{db}", read_only=True)
    with pytest.raises(SchemaMismatch, match="none"):
        require_current(engine)
    assert not db.parent.exists()
    engine.dispose()
