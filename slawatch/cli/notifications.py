"""`slawatch notifications`: the outbox as an operator sees it; retry what was dead-lettered."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from slawatch.model import OutboxStatus

__all__ = ["notifications"]


@click.group()
def notifications() -> None:
    """Queued, sent and failed Slack notifications.

    \b
    Example:
      slawatch notifications list --status failed
      slawatch notifications retry 42
    """


def _engine(config_file: str | None):  # type: ignore[no-untyped-def]
    from slawatch.cli import _settings
    from slawatch.store.engine import make_engine, upgrade

    engine = make_engine(_settings(config_file).database.url)
    upgrade(engine)
    return engine


@notifications.command("list")
@click.option("--config", "config_file", envvar="SLAWATCH_CONFIG", default=None, metavar="FILE")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@click.option("--limit", type=int, default=None, help="At most N rows (newest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def notifications_list(config_file: str | None, status: str | None, limit: int | None, fmt: str) -> None:
    """Outbox rows, newest first, with their last error."""
    from slawatch.store import outbox

    with _engine(config_file).connect() as conn:
        rows = outbox.listing(conn, OutboxStatus(status) if status else None, limit)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=_json_default))
        return
    header = ("ID", "TICKET", "KIND", "CHANNEL", "STATUS", "ATTEMPTS", "CREATED (UTC)", "LAST ERROR")
    body = [
        (str(r["id"]), str(r["ticket_id"] or "-"), r["kind"], _safe(r["channel"]), r["status"], str(r["attempts"]),
         r["created_at"].strftime("%Y-%m-%d %H:%M:%S"), _safe(r["last_error"] or ""))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    click.echo("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *body]))


@notifications.command("retry")
@click.option("--config", "config_file", envvar="SLAWATCH_CONFIG", default=None, metavar="FILE")
@click.argument("row_id", type=int)
def notifications_retry(config_file: str | None, row_id: int) -> None:
    """Queue a failed (dead-lettered) notification again; the daemon sends it."""
    from slawatch.store import outbox

    with _engine(config_file).begin() as conn:
        if not outbox.retry(conn, row_id, datetime.now(timezone.utc)):
            click.echo(f"error: notification {row_id} does not exist or has not failed", err=True)
            sys.exit(1)
    click.echo(f"notification {row_id} queued again")


def _safe(text: str) -> str:
    """Control characters shown escaped: error texts may quote label values."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
