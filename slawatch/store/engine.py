"""Engine creation, schema upgrades, and the schema check of commands that must not migrate.

Alembic is the only way the schema changes, and only `slawatch run` and `slawatch db
upgrade` change it. Every other command (`tickets`, `alerts`, `report`) first compares
the database's revision with the revisions this slawatch ships (`require_current`), so
a read-only database user can run them and an older CLI never races a newer daemon's
schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, NestedTransaction, create_engine, event
from sqlalchemy.engine import make_url

from slawatch.redact import safe_url  # re-exported: callers that mask database URLs import it here

__all__ = [
    "MIGRATIONS", "SchemaMismatch", "current_revisions", "expected_revisions", "make_engine", "require_current",
    "safe_url", "savepoint", "upgrade",
]

# Inside the package: in the source tree a link to the top-level migrations/, in a wheel a copy.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine with settings each backend needs for a daemon that writes every tick.

    `read_only` (the CLI's readers): no directory is created for a SQLite file and its
    journal mode is left as the daemon set it, so reading never writes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not read_only:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            if not read_only:
                cur.execute("PRAGMA journal_mode=WAL")  # readers (CLI) never block the daemon
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def savepoint(conn: Connection) -> NestedTransaction:
    """A SAVEPOINT inside the caller's transaction: a failing statement in it (a unique
    index conflict) rolls back to it and the rest of the transaction goes on.

    pysqlite begins its transaction lazily at the first write, so a SAVEPOINT issued
    before any write would itself start the transaction and its RELEASE would commit
    it. On SQLite the write transaction is therefore begun explicitly first.
    """
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return conn.begin_nested()


def _alembic_config() -> Config:
    if not (MIGRATIONS / "env.py").exists():
        raise RuntimeError(f"Alembic migrations not found in the slawatch package ({MIGRATIONS}); reinstall slawatch")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class SchemaMismatch(Exception):
    """The database's schema revision is not the one this slawatch was built for."""

    def __init__(self, current: tuple[str, ...], expected: tuple[str, ...], newer: bool) -> None:
        self.current, self.expected, self.newer = current, expected, newer
        at = ", ".join(current) if current else "none (an empty database)"
        fix = "upgrade slawatch" if newer else "run 'slawatch db upgrade'"
        super().__init__(f"database schema is at {at}, this slawatch expects {', '.join(expected)}: {fix}")


def expected_revisions() -> tuple[str, ...]:
    """The head revision(s) of the migrations this slawatch ships."""
    return tuple(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revision(s) the database is at; () for a database never migrated. Only reads."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        return ()  # connecting would create the file
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def require_current(engine: Engine) -> None:
    """Raise SchemaMismatch unless the database is at this slawatch's head revision(s).

    A revision this slawatch does not know was written by a newer one (`newer`); a known
    one that is not the head is behind. Nothing is changed either way.
    """
    current, expected = current_revisions(engine), expected_revisions()
    if current == expected:
        return
    script = ScriptDirectory.from_config(_alembic_config())
    raise SchemaMismatch(current, expected, newer=any(not _known(script, rev) for rev in current))


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
