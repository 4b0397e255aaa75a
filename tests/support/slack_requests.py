"""Requests as Slack's interactivity sends them: a button click, signed with the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode


def click(action_id: str, ticket_id: int | str, user: dict[str, str] | None = None) -> bytes:
    """A form body as Slack posts it for a button click in a message."""
    payload = {
        "type": "block_actions",
        "user": user or {"id": "U123ABC", "username": "alice", "name": "alice", "team_id": "T1"},
        "actions": [{"action_id": action_id, "block_id": "b", "value": str(ticket_id), "type": "button"}],
        "response_url": "https://hooks.slack.invalid/actions/1",
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(body: bytes, timestamp: int, secret: str) -> dict[str, str]:
    """Headers as Slack signs a request: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
