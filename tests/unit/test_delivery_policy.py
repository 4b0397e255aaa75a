"""The delivery policy's pure decisions, as tables: how a Slack error is classified
(`senders.classify_error`), what a failed attempt does to its row (`dispatcher.failure_action`),
how long it waits (`dispatcher.backoff`), and the dead-letter report's escaping
(`deadletter.dead_letter_message`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.model import OutboxStatus
from slawatch.notify.deadletter import dead_letter_message
from slawatch.notify.dispatcher import MAX_BACKOFF, Failure, backoff, failure_action
from slawatch.notify.senders import ErrorClass, SendFailed, classify_error

TRANSIENT, PERMANENT, UNKNOWN = ErrorClass.TRANSIENT, ErrorClass.PERMANENT, ErrorClass.UNKNOWN
PENDING, SENDING = OutboxStatus.PENDING, OutboxStatus.SENDING

# -- classify_error ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("ratelimited", 429, TRANSIENT),  # what Slack answers when rate limiting
        (None, 429, TRANSIENT),  # a 429 without a body
        ("internal_error", 500, TRANSIENT),
        (None, 503, TRANSIENT),
        ("channel_not_found", 503, TRANSIENT),  # a 5xx is an outage, whatever the body says
        ("ratelimited", 200, TRANSIENT),  # the code alone is enough
        ("service_unavailable", 200, TRANSIENT),
        ("channel_not_found", 200, PERMANENT),
        ("is_archived", 200, PERMANENT),
        ("not_in_channel", 200, PERMANENT),
        ("invalid_auth", 200, PERMANENT),
        ("msg_too_long", 200, PERMANENT),
        ("no_such_error_code_yet", 200, UNKNOWN),
        (None, 200, UNKNOWN),
        (None, 404, UNKNOWN),
    ],
)
def test_classify_error_sorts_slack_errors_into_transient_permanent_and_unknown(
    code: str | None, status: int, expected: ErrorClass
) -> None:
    assert classify_error(code, status) is expected


# -- failure_action ------------------------------------------------------------------------


def failed(error_class: ErrorClass, code: str | None = None, ambiguous: bool = False) -> SendFailed:
    return SendFailed(f"slack error: {code}", ambiguous=ambiguous, code=code, error_class=error_class)


@given(attempts=st.integers(min_value=1, max_value=10**6), max_attempts=st.integers(min_value=1, max_value=100),
       ambiguous=st.booleans())
def test_a_transient_error_is_never_dead_lettered_however_many_attempts(
    attempts: int, max_attempts: int, ambiguous: bool
) -> None:
    """An outage of Slack loses nothing: a transient error is retried for as long as it lasts."""
    action = failure_action(failed(TRANSIENT, "ratelimited", ambiguous), attempts, max_attempts, sending=True)
    assert not action.dead_letter and action.reason == "transient_error"


@pytest.mark.parametrize(
    "exc, attempts, expected",
    [
        (failed(PERMANENT, "channel_not_found"), 1,
         Failure(True, PENDING, "permanent_error", "slack error: channel_not_found", "channel_not_found")),
        (failed(UNKNOWN, "odd_error"), 4, Failure(False, PENDING, "unknown_error", "slack error: odd_error", "odd_error")),
        (failed(UNKNOWN, "odd_error"), 5,
         Failure(True, PENDING, "too_many_attempts", "slack error: odd_error", "odd_error")),
        (RuntimeError("boom"), 4, Failure(False, PENDING, "exception", "RuntimeError: boom", "RuntimeError")),
        (RuntimeError("boom"), 5, Failure(True, PENDING, "too_many_attempts", "RuntimeError: boom", "RuntimeError")),
        (KeyError("at"), 7, Failure(True, PENDING, "too_many_attempts", "KeyError: 'at'", "KeyError")),
    ],
    ids=["permanent at once", "unknown retried", "unknown at max", "exception retried", "exception at max",
         "exception past max"],
)
def test_failure_action_dead_letters_permanent_errors_at_once_and_the_rest_after_max_attempts(
    exc: Exception, attempts: int, expected: Failure
) -> None:
    """`slack.max_attempts` = 5 here; `attempts` counts the attempt that just failed."""
    assert failure_action(exc, attempts, 5, sending=False) == expected


@pytest.mark.parametrize(
    "exc, sending, status",
    [
        (failed(TRANSIENT, "internal_error", ambiguous=True), True, SENDING),  # a 5xx: Slack may have it
        (failed(TRANSIENT, "ratelimited", ambiguous=False), True, PENDING),  # a 429: Slack said no
        (failed(PERMANENT, "msg_too_long", ambiguous=False), True, PENDING),
        (failed(UNKNOWN, "odd_error", ambiguous=True), False, SENDING),  # ambiguity is the exception's
        (RuntimeError("after the mark"), True, SENDING),  # a plain exception: as the row was marked
        (RuntimeError("before the mark"), False, PENDING),
    ],
    ids=["ambiguous", "answered", "permanent answered", "ambiguous unknown", "exception sending",
         "exception pending"],
)
def test_failure_action_keeps_a_row_sending_only_when_slack_may_have_it(
    exc: Exception, sending: bool, status: OutboxStatus
) -> None:
    """Ambiguous (Slack may have received it) -> `sending`, looked up before any resend;
    otherwise `pending`, sent again plainly."""
    assert failure_action(exc, 1, 5, sending).status is status


# -- backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attempts, retry_after, expected",
    [(1, None, 1), (2, None, 2), (3, None, 4), (10, None, 60), (1, 30.0, 30), (7, 5.0, 60), (1, 120.0, 120),
     (48, None, 60), (100_000, 2.0, 60)],
    ids=["first", "second", "third", "capped", "retry-after wins", "backoff wins", "retry-after past the cap",
         "after 40 minutes of outage", "after days of outage"],
)
def test_backoff_doubles_is_capped_and_honours_retry_after(attempts: int, retry_after: float | None,
                                                           expected: int) -> None:
    assert backoff(attempts, retry_after) == timedelta(seconds=expected)


@given(attempts=st.integers(min_value=1, max_value=10**4),
       retry_after=st.none() | st.floats(min_value=0, max_value=3600))
def test_backoff_never_shrinks_stays_capped_and_never_undercuts_retry_after(
    attempts: int, retry_after: float | None
) -> None:
    delay = backoff(attempts, retry_after)
    assert backoff(attempts, None) <= MAX_BACKOFF
    assert backoff(attempts + 1, retry_after) >= delay >= timedelta(seconds=retry_after or 0)


# -- dead_letter_message -------------------------------------------------------------------


def test_the_dead_letter_report_escapes_label_text_so_a_summary_pings_nobody() -> None:
    """Summary, error and channel come from labels and Slack: `<!channel>` in them is shown as
    text (no `<` reaches Slack), `&` is escaped, and the retry command names the row."""
    message = dead_letter_message({
        "failed_id": 42, "kind": "opening", "channel": "#db <!here>", "error": "slack error: <@U0BOSS>",
        "ticket_id": 7, "priority": "P0", "summary": "<!channel> db & cache are down", "others": 3,
    })
    (block,) = message.blocks
    body = block["text"]["text"]
    for text in (message.text, body):
        assert "<" not in text and ">" not in text.replace("\n>", "\n")  # the quote marker is mrkdwn
        assert "&lt;!here&gt;" in text and "&lt;@U0BOSS&gt;" in text
    assert "&lt;!channel&gt; db &amp; cache are down" in body
    assert "3 other notification(s)" in body and "`slawatch notifications retry 42`" in body
