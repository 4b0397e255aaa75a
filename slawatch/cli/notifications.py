"""`slawatch notifications`: the outbox as an operator sees it; retry what was dead-lettered."""

from __future__ import annotations

import json

import click

from slawatch.cli.common import config_option, current_engine, fail, load, now, reading
from slawatch.model import OutboxStatus

__all__ = ["command"]


@click.group("notifications")
def command() -> None:
    """Queued, sent and failed Slack notifications.

    \b
    Examples:
      slawatch notifications list --status failed
      slawatch notifications retry 42
    """


@command.command("list")
@config_option
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@click.option("--limit", type=int, default=None, help="At most N rows (newest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def notifications_list(config_file: str | None, status: str | None, limit: int | None, fmt: str) -> None:
    """Outbox rows, newest first, with their last error.

    \b
    Example:
      slawatch notifications list --status failed --format json
    """
    from slawatch.cli.terminal import table
    from slawatch.store import outbox

    with reading(load(config_file)) as conn:
        rows = outbox.listing(conn, OutboxStatus(status) if status else None, limit)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=lambda v: v.isoformat()))
        return
    header = ("ID", "TICKET", "KIND", "CHANNEL", "STATUS", "ATTEMPTS", "CREATED (UTC)", "LAST ERROR")
    body = [
        (str(r["id"]), str(r["ticket_id"] or "-"), r["kind"], r["channel"], r["status"], str(r["attempts"]),
         r["created_at"].strftime("%Y-%m-%d %H:%M:%S"), r["last_error"] or "")
        for r in rows
    ]
    click.echo(table(header, body))


@command.command("retry")
@config_option
@click.argument("row_id", type=int)
def notifications_retry(config_file: str | None, row_id: int) -> None:
    """Queue a failed (dead-lettered) notification again; the daemon sends it.

    \b
    Example:
      slawatch notifications retry 42
    """
    from slawatch.store import outbox

    engine = current_engine(load(config_file), read_only=False)
    try:
        with engine.begin() as conn:
            if not outbox.retry(conn, row_id, now()):
                fail(f"notification {row_id} does not exist or has not failed")
    finally:
        engine.dispose()
    click.echo(f"notification {row_id} queued again")
