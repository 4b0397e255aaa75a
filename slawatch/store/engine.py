"""Engine creation and schema upgrades (Alembic is the only way the schema changes)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, NestedTransaction, create_engine, event
from sqlalchemy.engine import make_url

from slawatch.redact import safe_url  # re-exported: callers that mask database URLs import it here

__all__ = ["MIGRATIONS", "make_engine", "safe_url", "savepoint", "upgrade"]
# Inside the package: in the source tree a link to the top-level migrations/, in a wheel a copy.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def make_engine(url: str) -> Engine:
    """An engine with settings each backend needs for a daemon that writes every tick."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
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


def _alembic_config(engine: Engine) -> Config:
    if not (MIGRATIONS / "env.py").exists():
        raise RuntimeError(f"Alembic migrations not found in the slawatch package ({MIGRATIONS}); reinstall slawatch")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
