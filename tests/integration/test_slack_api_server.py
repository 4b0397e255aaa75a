"""The local Slack API server behaves like Slack for the real slack_sdk.WebClient."""

from __future__ import annotations

import threading
import time
from http.client import RemoteDisconnected
from typing import Iterator
from urllib.error import HTTPError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from tests.support.slack_api import UPLOAD, SlackApiServer, fake_id

TOKEN = "xoxb-slawatch-test"


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    """A fresh server per test."""
    with SlackApiServer(token=TOKEN) as server:
        yield server
        assert server.errors == [], "the fake itself raised"


@pytest.fixture
def client(slack: SlackApiServer, monkeypatch: pytest.MonkeyPatch) -> WebClient:
    """The real WebClient, pointed at the fake (slack-sdk ignores NO_PROXY, so unset proxies)."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    return WebClient(token=TOKEN, base_url=slack.base_url, timeout=5)


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# -- messages -------------------------------------------------------------------


def test_post_message_returns_a_channel_id_and_ts_and_is_recorded(
    slack: SlackApiServer, client: WebClient
) -> None:
    """chat.postMessage answers ok with channel id, ts and message; the call is recorded."""
    response = client.chat_postMessage(channel="#alerts", text="P0 api down", blocks=[{"type": "divider"}])

    channel = slack.channel_id("alerts")
    assert channel == fake_id("C", "alerts") and channel.startswith("C")
    assert response["ok"] is True
    assert response["channel"] == channel
    assert response["message"]["text"] == "P0 api down"
    assert response["message"]["ts"] == response["ts"]
    (call,) = slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "#alerts"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.status == 200 and call.delivered
    (message,) = slack.messages("#alerts")
    assert (message.channel, message.ts, message.text) == (channel, response["ts"], "P0 api down")
    assert message.blocks == [{"type": "divider"}]


def test_ts_values_are_unique_and_increasing_and_names_map_to_one_id(
    slack: SlackApiServer, client: WebClient
) -> None:
    """Each post gets a larger ts; "#ops", "ops" and the id itself are the same channel."""
    first = client.chat_postMessage(channel="#ops", text="one")
    second = client.chat_postMessage(channel="ops", text="two")
    third = client.chat_postMessage(channel=first["channel"], text="three")

    timestamps = [r["ts"] for r in (first, second, third)]
    assert len(set(timestamps)) == 3
    assert [float(t) for t in timestamps] == sorted(float(t) for t in timestamps)
    assert first["channel"] == second["channel"] == third["channel"]
    assert [m.text for m in slack.messages("ops")] == ["one", "two", "three"]
    assert slack.messages("#elsewhere") == []


def test_a_message_to_a_user_id_goes_to_a_dm_channel(slack: SlackApiServer, client: WebClient) -> None:
    """Posting to a user id answers with a stable D… conversation id, as Slack does."""
    response = client.chat_postMessage(channel="U0ONCALL01", text="you are paged")

    assert response["channel"] == fake_id("D", "U0ONCALL01")
    assert [m.text for m in slack.messages("U0ONCALL01")] == ["you are paged"]


def test_form_encoded_and_json_bodies_are_both_accepted(slack: SlackApiServer, client: WebClient) -> None:
    """The same method works with a form body (params=) and a JSON body (json=)."""
    client.api_call("chat.postMessage", params={"channel": "C0FORM0001", "text": "form"})
    client.api_call("chat.postMessage", json={"channel": "C0FORM0001", "text": "json"})

    kinds = [c.headers["Content-Type"] for c in slack.calls_to("chat.postMessage")]
    assert kinds[0] == "application/x-www-form-urlencoded"
    assert kinds[1].startswith("application/json")
    assert [m.text for m in slack.messages("C0FORM0001")] == ["form", "json"]


def test_a_post_without_text_or_blocks_is_no_text(client: WebClient) -> None:
    """chat.postMessage with nothing to show answers no_text."""
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", json={"channel": "#alerts"})
    assert error_of(excinfo) == "no_text"


def test_a_thread_reply_records_its_thread_ts(slack: SlackApiServer, client: WebClient) -> None:
    """A reply carries thread_ts; threads() maps the parent ts to its replies."""
    parent = client.chat_postMessage(channel="#alerts", text="ticket 42 opened")
    client.chat_postMessage(channel="#alerts", text="acknowledged", thread_ts=parent["ts"])
    reply = client.chat_postMessage(channel="#alerts", text="recovered", thread_ts=parent["ts"])

    assert reply["message"]["thread_ts"] == parent["ts"]
    threads = slack.threads()
    assert list(threads) == [parent["ts"]]
    assert [m.text for m in threads[parent["ts"]]] == ["acknowledged", "recovered"]
    assert slack.messages()[0].thread_ts is None


def test_chat_update_changes_a_known_message(slack: SlackApiServer, client: WebClient) -> None:
    """chat.update of a posted ts answers ok with channel and ts; the message follows it."""
    posted = client.chat_postMessage(channel="#alerts", text="firing")

    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="resolved")

    assert (updated["channel"], updated["ts"], updated["text"]) == (posted["channel"], posted["ts"], "resolved")
    (message,) = slack.messages()
    assert message.text == "resolved"
    assert message.params["text"] == "firing"
    assert [u["text"] for u in message.updates] == ["resolved"]


def test_chat_update_of_an_unknown_ts_is_message_not_found(slack: SlackApiServer, client: WebClient) -> None:
    """An unknown ts raises SlackApiError message_not_found (HTTP 200, ok false)."""
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel="#alerts", ts="1700000000.000100", text="x")

    assert error_of(excinfo) == "message_not_found"
    assert excinfo.value.response.status_code == 200
    assert not slack.calls_to("chat.update")[0].delivered


# -- users, auth, unknown methods ---------------------------------------------------


def test_lookup_by_email_finds_registered_users_only(slack: SlackApiServer, client: WebClient) -> None:
    """A registered email gives the user; any other is users_not_found."""
    slack.add_user("alice@example.com", "U0ALICE001")

    found = client.users_lookupByEmail(email="Alice@Example.com")
    assert found["user"]["id"] == "U0ALICE001"
    assert found["user"]["profile"]["email"] == "alice@example.com"
    with pytest.raises(SlackApiError) as excinfo:
        client.users_lookupByEmail(email="bob@example.com")
    assert error_of(excinfo) == "users_not_found"


def test_a_wrong_token_is_invalid_auth(slack: SlackApiServer) -> None:
    """Another token gets HTTP 200 with ok false, invalid_auth; no token gets not_authed."""
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(token="xoxb-wrong", base_url=slack.base_url).chat_postMessage(channel="#a", text="x")
    assert error_of(excinfo) == "invalid_auth"
    assert excinfo.value.response.status_code == 200
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(base_url=slack.base_url).auth_test()
    assert error_of(excinfo) == "not_authed"
    assert slack.messages() == []


def test_a_token_parameter_is_accepted_like_the_header(slack: SlackApiServer) -> None:
    """Slack also takes the token as a form parameter."""
    response = WebClient(base_url=slack.base_url).api_call("auth.test", params={"token": TOKEN})
    assert response["ok"] is True


def test_auth_test_names_the_bot_user(slack: SlackApiServer, client: WebClient) -> None:
    """auth.test answers ok with the configured bot user id."""
    response = client.auth_test()
    assert (response["user_id"], response["bot_id"]) == (slack.bot_user_id, slack.bot_id)


def test_an_unknown_method_is_unknown_method(slack: SlackApiServer, client: WebClient) -> None:
    """Methods the fake does not serve answer unknown_method, as Slack does."""
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("conversations.frobnicate")
    assert error_of(excinfo) == "unknown_method"
    assert slack.calls[0].method == "conversations.frobnicate"


# -- fault injection --------------------------------------------------------------


def test_a_429_is_retried_after_retry_after_by_the_rate_limit_handler(
    slack: SlackApiServer, client: WebClient
) -> None:
    """429 + Retry-After: 1, then success: two attempts at least a second apart."""
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    slack.fail_next("chat.postMessage", 1, status=429, retry_after=1)

    response = client.chat_postMessage(channel="#alerts", text="P1")

    assert response["ok"] is True
    attempts = slack.calls_to("chat.postMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[0].error == "ratelimited"
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len(slack.messages()) == 1


def test_a_429_without_a_retry_handler_raises_with_retry_after(
    slack: SlackApiServer, client: WebClient
) -> None:
    """Without the handler, SlackApiError carries status 429 and the Retry-After header."""
    slack.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#alerts", text="P1")

    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "7"
    assert error_of(excinfo) == "ratelimited"
    assert slack.messages() == []


def test_a_500_is_retried_by_the_server_error_handler(slack: SlackApiServer, client: WebClient) -> None:
    """HTTP 500 once, then success, when ServerErrorRetryHandler is attached."""
    client.retry_handlers.append(
        ServerErrorRetryHandler(max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.05))
    )
    slack.fail_next("chat.postMessage", 1, status=500)

    assert client.chat_postMessage(channel="#alerts", text="P0")["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 200]


def test_a_500_without_a_handler_raises_slack_api_error(slack: SlackApiServer, client: WebClient) -> None:
    """The default handlers do not retry HTTP 500: one attempt, SlackApiError."""
    slack.fail_next("chat.postMessage", 1, status=500)

    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="#alerts", text="P0")

    assert excinfo.value.response.status_code == 500
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_an_injected_error_is_http_200_ok_false_for_n_calls_only(
    slack: SlackApiServer, client: WebClient
) -> None:
    """fail_next(error=...) fails exactly the next n calls of that method."""
    slack.fail_next("chat.postMessage", 2, error="invalid_auth")

    for _ in range(2):
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="#alerts", text="x")
        assert error_of(excinfo) == "invalid_auth"
        assert excinfo.value.response.status_code == 200
    client.auth_test()  # other methods are unaffected
    assert client.chat_postMessage(channel="#alerts", text="x")["ok"] is True
    calls = slack.calls_to("chat.postMessage")
    assert [c.delivered for c in calls] == [False, False, True]


def test_fail_next_rejects_a_fractional_retry_after(slack: SlackApiServer) -> None:
    """slack-sdk int()s Retry-After, so only whole seconds are allowed."""
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage", status=429, retry_after=0.5)  # type: ignore[arg-type]


def test_down_closes_connections_and_up_restores(slack: SlackApiServer, client: WebClient) -> None:
    """While down the client raises RemoteDisconnected (after its one default retry)."""
    slack.down()

    with pytest.raises(RemoteDisconnected):
        client.chat_postMessage(channel="#alerts", text="lost?")

    attempts = slack.calls_to("chat.postMessage")
    assert [c.status for c in attempts] == [None, None]  # ConnectionErrorRetryHandler retried once
    assert slack.messages() == []
    slack.up()
    assert client.chat_postMessage(channel="#alerts", text="back")["ok"] is True
    assert [m.text for m in slack.messages()] == ["back"]


def test_down_without_retry_handlers_is_one_attempt(slack: SlackApiServer) -> None:
    """With retry_handlers=[] a down server costs exactly one attempt."""
    bare = WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])
    slack.down()

    with pytest.raises(ConnectionError):
        bare.auth_test()
    assert [c.status for c in slack.calls] == [None]


# -- files --------------------------------------------------------------------------


def test_files_upload_v2_round_trip_records_the_content(slack: SlackApiServer, client: WebClient) -> None:
    """getUploadURLExternal, the upload POST and completeUploadExternal: all recorded."""
    response = client.files_upload_v2(
        channel="C0REPORT01",
        filename="sla-2024-05.md",
        title="SLA May",
        content="# SLA report\n",
        initial_comment="monthly report",
    )

    assert response["file"]["title"] == "SLA May"
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]
    assert slack.calls[0].params == {"filename": "sla-2024-05.md", "length": "13"}
    assert "Authorization" not in slack.calls[1].headers
    (uploaded,) = slack.files()
    assert uploaded.content == b"# SLA report\n"
    assert (uploaded.filename, uploaded.title, uploaded.channels) == ("sla-2024-05.md", "SLA May", ["C0REPORT01"])
    assert uploaded.initial_comment == "monthly report" and uploaded.completed


def test_a_failed_upload_post_raises_urllib_http_error(slack: SlackApiServer, client: WebClient) -> None:
    """slack-sdk sends the upload POST without retry handlers: a 500 there is an HTTPError."""
    slack.fail_next(UPLOAD, 1, status=500)

    with pytest.raises(HTTPError):
        client.files_upload_v2(channel="C0REPORT01", filename="r.txt", content="x")
    assert slack.calls_to("files.completeUploadExternal") == []


# -- recording helpers --------------------------------------------------------------


def test_wait_for_calls_returns_once_enough_calls_arrived(slack: SlackApiServer, client: WebClient) -> None:
    """wait_for_calls sees calls made from another thread; clear() forgets them."""
    sender = threading.Thread(
        target=lambda: [client.chat_postMessage(channel="#a", text=str(i)) for i in range(3)]
    )
    sender.start()
    calls = slack.wait_for_calls("chat.postMessage", 3, timeout=5)
    sender.join(timeout=5)

    assert len(calls) == 3
    slack.clear()
    assert slack.calls == [] and slack.messages() == []


def test_wait_for_calls_is_bounded(slack: SlackApiServer) -> None:
    """Too few calls: an AssertionError after the timeout, not a hang."""
    started = time.monotonic()
    with pytest.raises(AssertionError, match="chat.update"):
        slack.wait_for_calls("chat.update", 1, timeout=0.2)
    assert time.monotonic() - started < 2
