"""`slawatch db`: the schema. `db upgrade` (and `run`) are the only commands that migrate."""

from __future__ import annotations

import click

from slawatch.cli.common import config_option, load


@click.group("db")
def command() -> None:
    """Database schema management.

    \b
    Example:
      slawatch db upgrade --config slawatch.yaml
    """


@command.command("upgrade")
@config_option
def upgrade(config_file: str | None) -> None:
    """Apply Alembic migrations up to the newest schema.

    Needs a database user that may create and alter tables. Other commands only check
    the schema and ask for this one when it is behind.

    \b
    Example:
      slawatch db upgrade --config slawatch.yaml
    """
    from slawatch.store.engine import make_engine, safe_url
    from slawatch.store.engine import upgrade as migrate

    settings = load(config_file)
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    click.echo(f"database {safe_url(settings.database.url)} is at the newest schema")
