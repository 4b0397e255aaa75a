"""Bounded polling for tests: every wait has a deadline and says what it last saw."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.1,
    message: str = "condition was not met",
    *,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    The predicate is called at least once. After ``timeout`` seconds an
    AssertionError is raised carrying ``message`` and the last value observed.
    Exceptions of the types in ``ignore`` count as "not yet" (the last one is
    reported); any other exception propagates at once.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{message} (after {timeout:g}s; last observed: {last!r})")
        time.sleep(min(interval, remaining))
