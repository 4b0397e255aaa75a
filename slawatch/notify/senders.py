"""Where messages go: Slack through slack-sdk's WebClient, or the console without a token.

Retries inside one call are slack-sdk's retry handlers (Retry-After honoured on 429,
5xx and connection errors retried); what still fails becomes SendFailed and the outbox
reschedules the row. Every top-level post carries Slack message metadata with the
outbox id, so after a crash the dispatcher can ask Slack whether a post it was making
arrived, instead of posting it twice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from slawatch.notify.messages import SlackMessage

METADATA_TYPE = "slawatch_notification"
_CHANNEL_ID_PREFIXES = ("C", "G", "D")


@dataclass(frozen=True)
class Posted:
    channel: str  # the channel id Slack answered with
    ts: str


class SendFailed(Exception):
    """A send that did not succeed; `ambiguous` when Slack may have received it anyway."""

    def __init__(self, message: str, retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class Sender(Protocol):
    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted: ...

    def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    def find(self, channel: str, thread_ts: str | None, outbox_id: int) -> Posted | None: ...

    def user_for_email(self, email: str) -> str | None: ...


class SlackSender:
    """slack-sdk WebClient with its retry handlers; the token never leaves this object."""

    def __init__(self, token: str, base_url: str, timeout: timedelta) -> None:
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=int(max(1, timeout.total_seconds())),
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=1),
                RateLimitErrorRetryHandler(max_retry_count=2),
                ServerErrorRetryHandler(max_retry_count=1),
            ],
        )
        self._channel_ids: dict[str, str] = {}
        self._users: dict[str, str | None] = {}

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted:
        response = self._call(
            self._client.chat_postMessage,
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"outbox_id": outbox_id}},
        )
        posted = Posted(str(response["channel"]), str(response["ts"]))
        self._channel_ids[channel] = posted.channel
        return posted

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self._call(self._client.chat_update, channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    def find(self, channel: str, thread_ts: str | None, outbox_id: int) -> Posted | None:
        """The message a crashed dispatcher may have posted, recognised by its metadata."""
        channel_id = channel if channel.startswith(_CHANNEL_ID_PREFIXES) else self._channel_ids.get(channel)
        if channel_id is None:
            return None  # a channel name we never posted to in this process: cannot look it up
        if thread_ts:
            response = self._call(
                self._client.conversations_replies, channel=channel_id, ts=thread_ts, include_all_metadata=True, limit=200
            )
        else:
            response = self._call(
                self._client.conversations_history, channel=channel_id, include_all_metadata=True, limit=200
            )
        for message in response.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if (message.get("metadata") or {}).get("event_type") == METADATA_TYPE and payload.get("outbox_id") == outbox_id:
                return Posted(channel_id, str(message["ts"]))
        return None

    def upload(self, channel: str, text: str, filename: str, content: str) -> None:
        """Post `text` with a file attached (files_upload_v2), e.g. the monthly HTML report."""
        self._call(
            self._client.files_upload_v2, channel=channel, initial_comment=text, filename=filename,
            title=filename, content=content,
        )

    def user_for_email(self, email: str) -> str | None:
        """users.lookupByEmail, cached (also the misses) for the life of the daemon."""
        if email not in self._users:
            try:
                self._users[email] = self._client.users_lookupByEmail(email=email)["user"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise _failed(exc) from None
                self._users[email] = None
        return self._users[email]

    @staticmethod
    def _call(method: Any, **kwargs: Any) -> Any:
        try:
            return method(**{k: v for k, v in kwargs.items() if v is not None})
        except SlackApiError as exc:
            raise _failed(exc) from None
        except (OSError, TimeoutError) as exc:  # connection refused/reset, timeouts
            raise SendFailed(f"connection error: {type(exc).__name__}", ambiguous=True) from None


def _failed(exc: SlackApiError) -> SendFailed:
    response = exc.response
    retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
    error = response.get("error") if isinstance(response.data, dict) else None
    return SendFailed(
        f"slack error {response.status_code}: {error or 'unknown'}",
        retry_after=float(retry_after) if retry_after else None,
        ambiguous=response.status_code >= 500,
    )


class ConsoleSender:
    """No Slack token: print each message's text to the console so the daemon still runs."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted:
        prefix = f"[{channel}{' thread' if thread_ts else ''}]"
        print(f"{prefix} {message.text}", file=self._out, flush=True)
        return Posted(channel, f"console.{outbox_id}")

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        print(f"[{channel} update] {message.text}", file=self._out, flush=True)

    def find(self, channel: str, thread_ts: str | None, outbox_id: int) -> Posted | None:
        return None

    def user_for_email(self, email: str) -> str | None:
        return None
