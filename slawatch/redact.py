"""Credentials out of URLs and error text, before anything is logged or shown. Pure.

A URL may carry a secret in its userinfo (`http://user:secret@prometheus:9090`,
`postgresql+psycopg://app:secret@db/slawatch`) or in its query (`?password=`,
`?access_token=`). Every URL slawatch logs or prints goes through `safe_url`; text
written by HTTP and database libraries, which quote URLs as they please (requests puts
the whole URL in some of its exceptions), goes through `redact`, which masks every URL
in it and any secret it is given. The user name stays: it says which account was used.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import unquote

__all__ = ["MASK", "MIN_SECRET", "redact", "safe_url", "url_secrets"]

MASK = "***"
MIN_SECRET = 4
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
_SECRET_PARAMS = re.compile(
    r"(?i)(^|[?&;])((?:password|passwd|pwd|secret|token|access_token|api_key|apikey|auth|signature|sig)=)[^&;#]*"
)


def safe_url(url: str) -> str:
    """`url` with the password of its userinfo and secret query parameters masked.

    Works on any `scheme://[user[:password]@]host...` text, valid URL or not (a URL that
    fails to parse is exactly the kind that ends up in an error message).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        authority = f"{user}:{MASK}@{host}" if colon else authority
    path, question, query = tail.partition("?")
    if question:
        query, hash_, fragment = query.partition("#")
        masked = _SECRET_PARAMS.sub(lambda m: m.group(1) + m.group(2) + MASK, query)
        tail = f"{path}?{masked}{hash_}{fragment}"
    return f"{scheme}://{authority}{tail}"


def url_secrets(url: str) -> tuple[str, ...]:
    """The password in `url`'s userinfo, as written and percent-decoded (for `redact`)."""
    _scheme, sep, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    userinfo, at, _host = authority.rpartition("@")
    _user, colon, password = userinfo.partition(":")
    if not (sep and at and colon and password):
        return ()
    return tuple(dict.fromkeys((password, unquote(password))))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL in it made safe and each of `secrets` masked wherever it appears.

    A secret shorter than MIN_SECRET is masked only inside URLs: replacing every `a` of a
    message would mangle it and show where the password's letters are.
    """
    text = _URL.sub(lambda m: safe_url(m.group()), text)
    for secret in sorted((s for s in secrets if len(s) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
