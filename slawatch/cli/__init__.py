"""The `slawatch` command: parse arguments, call the library, print. Nothing else."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

import click

from slawatch import logs

__all__ = ["main"]
from slawatch.config.located import InputError
from slawatch.config.settings import Settings, load_settings

config_option = click.option(
    "--config",
    "config_file",
    envvar="SLAWATCH_CONFIG",
    default=None,
    metavar="FILE",
    help="Config file (default: slawatch.yaml, or $SLAWATCH_CONFIG).",
)


def _settings(config_file: str | None) -> Settings:
    try:
        return load_settings(config_file)
    except InputError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="slawatch")
def main() -> None:
    """slawatch: Prometheus alert rules in, SLA-tracked incidents out."""


@main.command()
@config_option
def run(config_file: str | None) -> None:
    """Run the daemon: evaluate rule groups on schedule until SIGTERM."""
    from slawatch.daemon import build

    settings = _settings(config_file)
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


@main.command()
@config_option
@click.option("--prometheus", "ask_prometheus", is_flag=True, help="Also have Prometheus parse every expr.")
def check(config_file: str | None, ask_prometheus: bool) -> None:
    """Validate the config and every rule file; exit 1 on any problem."""
    from slawatch.cli.check import check_all

    report = check_all(config_file, ask_prometheus)
    for line in report.lines():
        click.echo(line, err=not line.startswith("OK"))
    sys.exit(1 if report.errors else 0)


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: str | None) -> None:
    """Apply Alembic migrations up to the newest schema."""
    from slawatch.store.engine import make_engine, safe_url, upgrade

    settings = _settings(config_file)
    upgrade(make_engine(settings.database.url))
    click.echo(f"database {safe_url(settings.database.url)} is at the newest schema")


@main.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def alerts(config_file: str | None, fmt: str) -> None:
    """List pending and firing alerts, like `amtool alert`."""
    from slawatch.cli.alerts import list_alerts, render_json, render_table

    settings = _settings(config_file)
    rows = list_alerts(settings.database.url)
    click.echo(render_json(rows) if fmt == "json" else render_table(rows, datetime.now(timezone.utc)))


@main.group()
def tickets() -> None:
    """List, inspect, acknowledge and resolve tickets."""


def _engine(config_file: str | None):  # type: ignore[no-untyped-def]
    from slawatch.store.engine import make_engine, upgrade

    engine = make_engine(_settings(config_file).database.url)
    upgrade(engine)
    return engine


@tickets.command("list")
@config_option
@click.option("--status", type=click.Choice(["open", "acknowledged", "resolved"]))
@click.option("--priority", type=click.Choice(["P0", "P1", "P2"]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def tickets_list(config_file: str | None, status: str | None, priority: str | None, fmt: str) -> None:
    """Tickets, newest first."""
    from slawatch.cli import views as ticket_view
    from slawatch.store import tickets as store

    now = datetime.now(timezone.utc)
    with _engine(config_file).connect() as conn:
        rows = store.listing(conn, status, priority)
    if fmt == "json":
        click.echo(ticket_view.render_json([ticket_view.to_dict(t, now) for t in rows]))
    else:
        click.echo(ticket_view.render_table(rows, now))


@tickets.command("show")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def tickets_show(config_file: str | None, ticket_id: int, fmt: str) -> None:
    """One ticket with its series and timeline."""
    from slawatch.cli import views as ticket_view
    from slawatch.store import tickets as store

    with _engine(config_file).connect() as conn:
        ticket = store.get(conn, ticket_id)
        if ticket is None:
            click.echo(f"ticket {ticket_id} does not exist", err=True)
            sys.exit(1)
        detail = ticket_view.detail_dict(
            ticket, store.series(conn, ticket), store.events(conn, ticket_id), datetime.now(timezone.utc)
        )
    click.echo(ticket_view.render_json(detail) if fmt == "json" else ticket_view.render_detail(detail))


def _act(config_file: str | None, action) -> None:  # type: ignore[no-untyped-def]
    """Run a ticket action; its Slack thread reply is queued for the daemon to send."""
    from slawatch.incidents.actions import ActionRefused
    from slawatch.notify.announce import Announcer

    settings = _settings(config_file)
    announcer = Announcer(settings.slack, settings.oncall)
    try:
        with _engine(config_file).begin() as conn:
            ticket = action(conn, datetime.now(timezone.utc), announcer)
    except ActionRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"ticket {ticket.id} is {ticket.status}")


@tickets.command("ack")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--by", required=True, help="Who acknowledges (recorded as the responder).")
def tickets_ack(config_file: str | None, ticket_id: int, by: str) -> None:
    """Acknowledge a ticket: the response time is now."""
    from slawatch.incidents.actions import acknowledge

    _act(config_file, lambda conn, now, announcer: acknowledge(conn, ticket_id, by, now, announcer))


@tickets.command("resolve")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--by", required=True)
@click.option("--note", required=True, help="Why it is resolved by hand.")
def tickets_resolve(config_file: str | None, ticket_id: int, by: str, note: str) -> None:
    """Resolve a ticket by hand (recorded as a manual resolution)."""
    from slawatch.incidents.actions import resolve

    _act(config_file, lambda conn, now, announcer: resolve(conn, ticket_id, by, note, now, announcer))


@main.command()
@config_option
@click.option("--month", "month", is_flag=False, flag_value="", default="", metavar="YYYY-MM",
              help="The month (default: the last full month in the SLA timezone).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "json", "csv"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="Write to FILE instead of the terminal.")
@click.option("--service", help="Only this service (the `service` label).")
@click.option("--post-slack", "post_slack", is_flag=False, flag_value="-", default=None, metavar="[CHANNEL]",
              help="Post the summary with the HTML report attached (default channel: slack.channel).")
def report(config_file: str | None, month: str, fmt: str, output: str | None, service: str | None,
           post_slack: str | None) -> None:
    """Monthly SLA attainment: per priority, breaches, availability per service."""
    import re

    from slawatch.report.month import ServiceTarget, build_report, last_full_month
    from slawatch.report.render import render, slack_summary
    from slawatch.source import PrometheusSource

    settings = _settings(config_file)
    now = datetime.now(timezone.utc)
    tz = settings.sla.timezone
    month = month or last_full_month(now, tz)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        click.echo(f"error: --month {month!r} is not YYYY-MM", err=True)
        sys.exit(2)
    targets = {n: ServiceTarget(s.availability_target, s.availability_query) for n, s in settings.sla.services.items()}
    priority_targets = {p.value: pol.target_attainment for p, pol in settings.sla.policy().priorities.items()}
    source = None
    if any(t.availability_query for t in targets.values()):
        source = PrometheusSource(settings.prometheus.url, settings.prometheus.timeout)
    try:
        with _engine(config_file).connect() as conn:
            data = build_report(conn, month, targets=targets, priority_targets=priority_targets, timezone=tz, now=now,
                                service=service, query=source.query if source else None)
    finally:
        if source is not None:
            source.close()
    text = render(data, fmt)  # type: ignore[arg-type]
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=not text.endswith("\n"))
    if post_slack is not None:
        from slawatch.notify.senders import SendFailed, SlackSender

        token = settings.slack.bot_token()
        if not token:
            click.echo("error: --post-slack needs a Slack token (SLACK_BOT_TOKEN or slack.token)", err=True)
            sys.exit(1)
        channel = settings.slack.channel if post_slack in ("", "-") else post_slack
        try:
            SlackSender(token, settings.slack.base_url, settings.slack.timeout).upload(
                channel, slack_summary(data), f"slawatch-{month}.html", render(data, "html")
            )
        except SendFailed as exc:
            click.echo(f"error: posting to Slack failed: {exc}", err=True)
            sys.exit(1)


from slawatch.cli.notifications import notifications as _notifications  # noqa: E402

main.add_command(_notifications)
main.add_command(__import__("slawatch.cli.oncall", fromlist=["oncall"]).oncall)  # its own module: slawatch/cli/oncall.py
