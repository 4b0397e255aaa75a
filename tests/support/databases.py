"""Real databases for tests: a SQLite file in a temp dir, or a fresh PostgreSQL database.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user postgres). Each test run
creates its own databases with a random name and drops them afterwards, so runs never
see each other's rows. Without the server a test fails under CI and skips elsewhere.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("SLAWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def require(reason: str) -> None:
    """Fail under CI (the server must be there), skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must provide it (.ci/run installs and starts it)")
    pytest.skip(reason)


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def fresh_postgres_url() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    name = f"slawatch_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        require(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slawatch.db'}"
    else:
        yield from fresh_postgres_url()
