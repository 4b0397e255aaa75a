"""Alembic environment: runs on the connection slawatch hands over (`slawatch db upgrade`)."""

from alembic import context
from sqlalchemy import create_engine

from slawatch.store.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///slawatch.db"
    with create_engine(url).begin() as conn:  # plain `alembic` CLI use
        _migrate(conn)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
    )
    with context.begin_transaction():
        context.run_migrations()


run()
