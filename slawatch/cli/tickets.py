"""`slawatch tickets`: list (filters, matchers, streaming JSON), show, ack, resolve.

`list` and `show` only read and `ack`/`resolve` only write ticket data: each checks the
schema first and none migrates. A listing never truncates silently: the table says
`showing 50 of 2,000`, and JSON has every row unless `--limit` is given. Rows are
streamed from the database (a server-side cursor on PostgreSQL), so `--format jsonl`
over a million tickets runs in constant memory.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from slawatch.cli.common import (
    INSTANT,
    config_option,
    current_engine,
    fail,
    load,
    matcher_arguments,
    now,
    reading,
    write_lines,
)

if TYPE_CHECKING:
    from slawatch.matchers import Matcher
    from slawatch.store.tickets import LabelPredicate, TicketFilter

TABLE_LIMIT = 50


@click.group("tickets")
def command() -> None:
    """List, inspect, acknowledge and resolve tickets.

    \b
    Examples:
      slawatch tickets list --status open 'team="db"'
      slawatch tickets show 42
      slawatch tickets ack 42 --by alice
    """


def _label_filter(matchers: list[Matcher]) -> tuple[dict[str, str], LabelPredicate | None]:
    """Exact label values SQL can narrow by, and the predicate that decides."""
    from slawatch.matchers import MatchType, matches

    if not matchers:
        return {}, None
    exact = {m.name: m.value for m in matchers if m.type is MatchType.EQUAL and m.value}
    return exact, lambda labels: matches(matchers, labels)


@command.command("list")
@config_option
@matcher_arguments
@click.option("--status", type=click.Choice(["open", "acknowledged", "resolved"]))
@click.option("--priority", type=click.Choice(["P0", "P1", "P2"]))
@click.option("--rule", metavar="NAME", help="Only tickets of this alerting rule.")
@click.option("--service", metavar="NAME", help="Only tickets of this service (the `service` label).")
@click.option("--since", type=INSTANT, help="Opened at or after TIME: ISO 8601 (UTC by default) or a duration ago (24h).")
@click.option("--until", type=INSTANT, help="Opened before TIME, as --since.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N",
              help=f"At most N tickets, 0 for all [default: {TABLE_LIMIT} in a table, all as json/jsonl].")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl"]), default="table", show_default=True,
              help="jsonl: one JSON object per line, streamed.")
def list_command(
    config_file: str | None, matchers: list[Matcher], status: str | None, priority: str | None, rule: str | None,
    service: str | None, since: datetime | None, until: datetime | None, limit: int | None, fmt: str,
) -> None:
    """Tickets, newest first, filtered by status, priority, rule, service, opening time
    and Alertmanager matchers over their labels.

    MATCHER is name="value", name!="value", name=~"regex" or name!~"regex" (as amtool:
    quotes optional, regexes fully anchored, an absent label is ""); a bare first word
    means alertname="WORD". All filters must hold. A table shows 50 tickets and says
    how many there are; JSON has them all.

    \b
    Examples:
      slawatch tickets list --status open --priority P0
      slawatch tickets list 'team="db"' 'severity=~"crit.*"' --since 24h
      slawatch tickets list --service api --since 2026-10-01 --until 2026-11-01 --format json
      slawatch tickets list --format jsonl | jq -r 'select(.response == "breached") | .id'
    """
    from slawatch.store.tickets import TicketFilter

    settings = load(config_file)
    at = now()
    exact, predicate = _label_filter(matchers)
    which = TicketFilter(status, priority, rule, service, since, until, label_values=exact)
    if limit is None:
        limit = TABLE_LIMIT if fmt == "table" else 0
    with reading(settings) as conn:
        if fmt == "table":
            _table(conn, which, predicate, limit or None, at)
        else:
            _json(conn, which, predicate, limit or None, at, fmt)


def _table(conn: Any, which: TicketFilter, predicate: LabelPredicate | None, limit: int | None, at: datetime) -> None:
    from slawatch.cli import views
    from slawatch.store import tickets as store

    rows = list(store.stream(conn, which, limit=limit, labels_match=predicate))
    click.echo(views.render_table(rows, at))
    total = len(rows) if limit is None or len(rows) < limit else store.count(conn, which, predicate)
    if total > len(rows):
        click.echo(views.footer(len(rows), total))


def _json(
    conn: Any, which: TicketFilter, predicate: LabelPredicate | None, limit: int | None, at: datetime, fmt: str
) -> None:
    from slawatch.cli import views
    from slawatch.store import tickets as store

    shown = 0

    def items(rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
        nonlocal shown
        for t in rows:
            shown += 1
            yield views.to_dict(t, at)

    # closing(): the cursor is released here, before the connection, even when the pipe breaks
    with closing(store.stream(conn, which, limit=limit, labels_match=predicate)) as rows:
        write_lines(views.json_array(items(rows)) if fmt == "json" else views.json_lines(items(rows)))
    if limit is not None and shown == limit:
        total = store.count(conn, which, predicate)
        if total > shown:  # stdout stays a clean document; the truncation is said on stderr
            click.echo(views.footer(shown, total), err=True)


@command.command("show")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show_command(config_file: str | None, ticket_id: int, fmt: str) -> None:
    """One ticket with its outcomes (met / breached / pending), series and timeline.

    \b
    Examples:
      slawatch tickets show 42
      slawatch tickets show 42 --format json | jq .timeline
    """
    from slawatch.cli import views
    from slawatch.store import tickets as store

    settings = load(config_file)
    with reading(settings) as conn:
        ticket = store.get(conn, ticket_id)
        if ticket is None:
            fail(f"ticket {ticket_id} does not exist")
        detail = views.detail_dict(ticket, store.series(conn, ticket), store.events(conn, ticket_id), now())
    click.echo(views.render_json(detail) if fmt == "json" else views.render_detail(detail))


def _act(config_file: str | None, action: Callable[..., Any]) -> None:
    """Run a ticket action; its Slack thread reply is queued for the daemon to send."""
    from slawatch.incidents.actions import ActionRefused
    from slawatch.notify.announce import Announcer

    settings = load(config_file)
    announcer = Announcer(settings.slack, settings.oncall)
    engine = current_engine(settings, read_only=False)
    try:
        with engine.begin() as conn:
            ticket = action(conn, now(), announcer)
    except ActionRefused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"ticket {ticket.id} is {ticket.status}")


@command.command("ack")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--by", required=True, help="Who acknowledges (recorded as the responder).")
def ack_command(config_file: str | None, ticket_id: int, by: str) -> None:
    """Acknowledge a ticket: the response time is now.

    Refused (exit 1) if the ticket is already acknowledged or resolved.

    \b
    Example:
      slawatch tickets ack 42 --by alice
    """
    from slawatch.incidents.actions import acknowledge

    _act(config_file, lambda conn, at, announcer: acknowledge(conn, ticket_id, by, at, announcer))


@command.command("resolve")
@config_option
@click.argument("ticket_id", type=int)
@click.option("--by", required=True, help="Who resolves it.")
@click.option("--note", required=True, help="Why it is resolved by hand.")
def resolve_command(config_file: str | None, ticket_id: int, by: str, note: str) -> None:
    """Resolve a ticket by hand (recorded as a manual resolution).

    \b
    Example:
      slawatch tickets resolve 42 --by alice --note "rolled back the deploy"
    """
    from slawatch.incidents.actions import resolve

    _act(config_file, lambda conn, at, announcer: resolve(conn, ticket_id, by, note, at, announcer))
