"""`slawatch report`: the monthly SLA report. Reads only: the schema is checked, never migrated."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from slawatch.cli.common import config_option, fail, load, now, reading

if TYPE_CHECKING:
    from slawatch.config.settings import Settings


@click.command("report")
@config_option
@click.option("--month", "month", is_flag=False, flag_value="", default="", metavar="YYYY-MM",
              help="The month (default: the last full month in the SLA timezone).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "json", "csv"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="Write to FILE instead of the terminal.")
@click.option("--service", help="Only this service (the `service` label).")
@click.option("--post-slack", "post_slack", is_flag=False, flag_value="-", default=None, metavar="[CHANNEL]",
              help="Post the summary with the HTML report attached (default channel: slack.channel).")
def command(config_file: str | None, month: str, fmt: str, output: str | None, service: str | None,
            post_slack: str | None) -> None:
    """Monthly SLA attainment: per priority, breaches, availability per service.

    \b
    Examples:
      slawatch report --month 2026-10
      slawatch report --month 2026-10 --format html --output sla-2026-10.html
      slawatch report --service api --format json | jq .priorities.P0
      slawatch report --post-slack '#sla'
    """
    from slawatch.report.month import ServiceTarget, build_report, last_full_month
    from slawatch.report.render import render
    from slawatch.source import PrometheusSource

    settings = load(config_file)
    at = now()
    tz = settings.sla.timezone
    month = month or last_full_month(at, tz)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        fail(f"--month {month!r} is not YYYY-MM", code=2)
    targets = {n: ServiceTarget(s.availability_target, s.availability_query) for n, s in settings.sla.services.items()}
    priority_targets = {p.value: pol.target_attainment for p, pol in settings.sla.policy().priorities.items()}
    source = None
    if any(t.availability_query for t in targets.values()):
        source = PrometheusSource(settings.prometheus.url, settings.prometheus.timeout)
    try:
        with reading(settings) as conn:
            data = build_report(conn, month, targets=targets, priority_targets=priority_targets, timezone=tz, now=at,
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
        _post(settings, post_slack, month, data)


def _post(settings: Settings, post_slack: str, month: str, data: dict[str, Any]) -> None:
    from slawatch.notify.senders import SendFailed, SlackSender
    from slawatch.report.render import render, slack_summary

    token = settings.slack.bot_token()
    if not token:
        fail("--post-slack needs a Slack token (SLACK_BOT_TOKEN or slack.token)")
    channel = settings.slack.channel if post_slack in ("", "-") else post_slack
    try:
        SlackSender(token, settings.slack.base_url, settings.slack.timeout).upload(
            channel, slack_summary(data), f"slawatch-{month}.html", render(data, "html")
        )
    except SendFailed as exc:
        fail(f"posting to Slack failed: {exc}")
