"""Where messages go: Slack through slack-sdk's WebClient, or the console without a token.

The outbox decides every retry: the WebClient has no retry handlers, because slack-sdk
would re-send chat.postMessage by itself after a connection error or a 5xx, outside the
"was it already sent?" guard, and would sleep through a 429 inside the dispatcher thread,
holding up every other channel. Failures come back as `SendFailed` with Slack's error
code and a class: transient (retry with backoff, at least Retry-After), permanent
(dead-letter now), or unknown (retry, then dead-letter after a few attempts).

Every top-level post carries Slack message metadata with the outbox id, so after a crash
the dispatcher can ask Slack whether a post it was making arrived (`find`), instead of
posting it twice. `find` needs the channel's id; names are resolved once beforehand
(`channel_id`). Scopes: chat:write; channels:read and groups:read to resolve names;
channels:history and groups:history for the lookup; users:read.email for emails.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slawatch.notify.messages import SlackMessage

__all__ = [
    "AUTH_ERRORS", "CHANNEL_ERRORS", "ConsoleSender", "ErrorClass", "Posted", "SendFailed", "Sender", "SlackSender",
    "classify_error", "is_channel_id",
]

METADATA_TYPE = "slawatch_notification"
_CHANNEL_ID_PREFIXES = ("C", "G", "D")
LOOKUP_PAGES = 10  # history pages searched for a post after a crash (200 messages each)

AUTH_ERRORS = frozenset({"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed",
                         "no_permission", "team_access_not_granted", "org_login_required"})
"""Errors that mean the bot cannot post anywhere: the daemon reports itself unready."""
CHANNEL_ERRORS = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
"""Errors about the channel, not the message: every queued row for it fails the same way."""
_PERMANENT = AUTH_ERRORS | {
    "channel_not_found", "is_archived", "not_in_channel", "msg_too_long", "message_not_found",
    "cant_update_message", "edit_window_closed", "invalid_blocks", "invalid_blocks_format", "invalid_arguments",
    "no_text", "too_many_attachments", "restricted_action", "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel", "missing_scope",
    "ekm_access_denied", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
    "duplicate_channel_not_found", "channel_type_not_supported", "thread_not_found", "user_not_found",
}
_TRANSIENT = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
              "request_timeout", "team_added_to_org"}


class ErrorClass(enum.StrEnum):
    TRANSIENT = "transient"  # retried with backoff, never dead-lettered
    PERMANENT = "permanent"  # dead-lettered at once
    UNKNOWN = "unknown"  # retried, dead-lettered after `slack.max_attempts`


def classify_error(code: str | None, status: int) -> ErrorClass:
    """A Slack error code (and HTTP status) -> how the outbox treats it."""
    if status == 429 or status >= 500 or code in _TRANSIENT:
        return ErrorClass.TRANSIENT
    if code in _PERMANENT:
        return ErrorClass.PERMANENT
    return ErrorClass.UNKNOWN


def is_channel_id(channel: str) -> bool:
    return channel.startswith(_CHANNEL_ID_PREFIXES) and channel.isalnum() and channel.isupper()


@dataclass(frozen=True)
class Posted:
    channel: str  # the channel id Slack answered with
    ts: str


class SendFailed(Exception):
    """A call that did not succeed.

    `ambiguous`: Slack may have received it anyway (a 5xx, a timeout, a lost reply), so
    a resend must first ask whether it arrived. `code` is Slack's error string.
    """

    def __init__(
        self, message: str, retry_after: float | None = None, ambiguous: bool = False,
        code: str | None = None, error_class: ErrorClass = ErrorClass.TRANSIENT,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.code = code
        self.error_class = error_class


class Sender(Protocol):
    def post(self, channel: str, message: SlackMessage, thread_ts: str | None, outbox_id: int) -> Posted: ...

    def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    def find(self, channel_id: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None: ...

    def channel_id(self, name: str) -> str | None: ...

    def user_for_email(self, email: str) -> str | None: ...


class SlackSender:
    """slack-sdk WebClient without retry handlers; the token never leaves this object."""

    def __init__(self, token: str, base_url: str, timeout: timedelta) -> None:
        self._client = WebClient(
            token=token, base_url=base_url, timeout=int(max(1, timeout.total_seconds())), retry_handlers=[]
        )
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
        return Posted(str(response["channel"]), str(response["ts"]))

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self._call(self._client.chat_update, channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    def find(self, channel_id: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None:
        """The message a crashed dispatcher may have posted since `since`, recognised by its metadata.

        Raises SendFailed when Slack cannot be asked (then nobody knows, and nothing is resent).
        """
        method = self._client.conversations_replies if thread_ts else self._client.conversations_history
        cursor = None
        for _ in range(LOOKUP_PAGES):
            response = self._call(
                method, channel=channel_id, ts=thread_ts, include_all_metadata=True, limit=200,
                oldest=f"{since.timestamp():.6f}", cursor=cursor,
            )
            for message in response.get("messages", []):
                meta = message.get("metadata") or {}
                if meta.get("event_type") == METADATA_TYPE and (meta.get("event_payload") or {}).get("outbox_id") == outbox_id:
                    return Posted(channel_id, str(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                return None
        raise SendFailed(f"lookup of outbox row {outbox_id} did not finish in {LOOKUP_PAGES} pages", ambiguous=True)

    def channel_id(self, name: str) -> str | None:
        """A channel name (`#alerts`) -> its id, by conversations.list; None if no such channel."""
        wanted = name.lstrip("#")
        cursor = None
        while True:
            response = self._call(
                self._client.conversations_list, types="public_channel,private_channel", limit=1000,
                exclude_archived=False, cursor=cursor,
            )
            for channel in response.get("channels", []):
                if channel.get("name") == wanted:
                    return str(channel["id"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
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
                self._users[email] = self._call(self._client.users_lookupByEmail, email=email)["user"]["id"]
            except SendFailed as exc:
                if exc.code != "users_not_found":
                    raise
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
        code=error,
        error_class=classify_error(error, response.status_code),
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

    def find(self, channel_id: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None:
        return None

    def channel_id(self, name: str) -> str | None:
        return name  # the console has no ids: the name serves as one

    def user_for_email(self, email: str) -> str | None:
        return None
