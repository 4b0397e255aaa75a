"""The message that reports an undeliverable notification in the fallback channel. Pure."""

from __future__ import annotations

from typing import Any, Mapping

from slawatch.notify.messages import SlackMessage, escape_mrkdwn

__all__ = ["dead_letter_message"]


def dead_letter_message(payload: Mapping[str, Any]) -> SlackMessage:
    """`payload`: failed_id, kind, channel, error, and ticket_id/priority/summary when known."""
    ticket = f" for ticket #{payload['ticket_id']}" if payload.get("ticket_id") else ""
    summary = payload.get("summary") or ""
    text = escape_mrkdwn(
        f"slawatch could not deliver a {payload.get('kind', 'notification')}{ticket} to {payload.get('channel')}: "
        f"{payload.get('error')}"
    )
    body = f":warning: {text}"
    if payload.get("others"):
        body += escape_mrkdwn(f"\nThe {payload['others']} other notification(s) queued for {payload.get('channel')} failed too.")
    if summary:
        body += f"\n>{escape_mrkdwn(str(payload.get('priority') or ''))} {escape_mrkdwn(str(summary))}"
    body += f"\n_outbox row {int(payload.get('failed_id', 0))}: `slawatch notifications retry {int(payload.get('failed_id', 0))}`_"
    return SlackMessage(text, [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}])
