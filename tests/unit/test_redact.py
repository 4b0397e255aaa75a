"""Credentials out of URLs and error text: passwords and secret query parameters masked, the rest kept."""

from __future__ import annotations

import pytest

from slawatch.redact import redact, safe_url, url_secrets


@pytest.mark.parametrize(
    "url, safe",
    [
        ("http://user:secret@127.0.0.1:9090", "http://user:***@127.0.0.1:9090"),
        ("https://user:secret@prom.example/prefix/api?x=1#top", "https://user:***@prom.example/prefix/api?x=1#top"),
        ("postgresql+psycopg://app:s%40cret@db:5432/slawatch", "postgresql+psycopg://app:***@db:5432/slawatch"),
        ("postgresql://app@db/s?password=secret&sslmode=require", "postgresql://app@db/s?password=***&sslmode=require"),
        ("https://h/api?access_token=secret&token=secret2", "https://h/api?access_token=***&token=***"),
        ("http://user:pa@ss:word@h/x", "http://user:***@h/x"),  # an unescaped @ in the password
        ("http://user:secret@h:99999", "http://user:***@h:99999"),  # invalid port: still masked
        ("http://user:@h", "http://user:***@h"),
        ("postgresql://postgres@127.0.0.1:5432/db", "postgresql://postgres@127.0.0.1:5432/db"),
        ("sqlite:///var/lib/slawatch.db", "sqlite:///var/lib/slawatch.db"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("not a url", "not a url"),
    ],
)
def test_safe_url_masks_the_password_and_secret_parameters_only(url: str, safe: str) -> None:
    assert safe_url(url) == safe


def test_url_secrets_are_the_password_as_written_and_decoded() -> None:
    assert url_secrets("postgresql://app:s%40cret@db/s") == ("s%40cret", "s@cret")
    assert url_secrets("http://user:secret@h/x@y") == ("secret",)
    assert url_secrets("http://user@h") == () and url_secrets("http://h") == ()


def test_redact_masks_every_url_in_an_error_message_and_the_given_secrets() -> None:
    message = (
        "InvalidURL('Failed to parse: http://user:secret@127.0.0.1:99999/api/v1/query'), "
        "proxy http://p:hunter22@proxy:3128 refused; auth header was Basic secret"
    )
    assert redact(message, ["secret"]) == (
        "InvalidURL('Failed to parse: http://user:***@127.0.0.1:99999/api/v1/query'), "
        "proxy http://p:***@proxy:3128 refused; auth header was Basic ***"
    )


def test_a_very_short_secret_is_masked_only_inside_urls() -> None:
    assert redact("a bad http://u:a@h call", ["a"]) == "a bad http://u:***@h call"
