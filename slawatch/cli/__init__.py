"""The `slawatch` command: parse arguments, call the library, print. Nothing else.

One module per command group, assembled here:

    run         the daemon (migrates the schema at start)
    check       validate config and rule files
    db          schema management (`db upgrade`)
    alerts      pending and firing alerts, with matchers
    tickets     list (filters, matchers, streamed JSON), show, ack, resolve
    notifications  the outbox: list, retry dead letters
    oncall      who is on call, the chain a ticket would get, ICS calendars
    report      the monthly SLA report
    completion  shell completion scripts
    common      --config, settings, the clock, checked database access
    views       how tickets are printed; terminal: escaping and display widths

Command modules import the library only when their command runs, so `--help` and
shell completion start quickly. Only `run` and `db upgrade` change the schema; every
other command checks it first (`store.engine.require_current`).
"""

from __future__ import annotations

import click

from slawatch.cli import alerts, check, completion, db, notifications, oncall, report, run, tickets
from slawatch.cli.common import Env

__all__ = ["main"]


@click.group()
@click.version_option(package_name="slawatch")
@click.pass_context
def main(ctx: click.Context) -> None:
    """slawatch: Prometheus alert rules in, SLA-tracked incidents out.

    Every command takes --config FILE (default slawatch.yaml, or $SLAWATCH_CONFIG)
    and has its own --help with examples.

    \b
    Examples:
      slawatch run --config slawatch.yaml
      slawatch tickets list 'team="db"' --since 24h
      slawatch alerts --state firing
      slawatch report --month 2026-10
      eval "$(slawatch completion bash)"
    """
    ctx.ensure_object(Env)


for _module in (run, check, db, alerts, tickets, notifications, report, completion):
    main.add_command(_module.command)
main.add_command(oncall.oncall)
