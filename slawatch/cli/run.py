"""`slawatch run`: the daemon. It migrates the schema at start (`run` and `db upgrade` are
the only commands that change it)."""

from __future__ import annotations

import os
import sys

import click

from slawatch.cli.common import config_option, load


@click.command("run")
@config_option
def command(config_file: str | None) -> None:
    """Run the daemon: evaluate rule groups on schedule until SIGTERM.

    Applies pending schema migrations first. SIGHUP reloads the config and rules
    (keeping the last good rules if the new ones are invalid); SIGTERM or SIGINT
    finishes the tick in flight and exits 0.

    \b
    Examples:
      slawatch run
      SLAWATCH_DATABASE_URL=postgresql+psycopg://slawatch@db/slawatch slawatch run --config slawatch.yaml
    """
    from slawatch import logs
    from slawatch.config.located import InputError
    from slawatch.daemon import build

    settings = load(config_file)
    logs.configure(settings.log.level, settings.log.format)
    try:
        daemon = build(config_file)
    except InputError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    code = daemon.serve()
    # A tick still in flight after the shutdown grace holds only an uncommitted
    # transaction; exit now rather than wait for its thread (SIGTERM must take < 10 s).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
