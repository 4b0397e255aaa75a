"""Durations written the Prometheus way: `15s`, `1m30s`, `2h`, `1d`, `1w`, `500ms`.

Prometheus' model.ParseDuration accepts units y, w, d, h, m, s, ms, each at most once,
largest first. Rule files and slawatch's config both use this syntax, so one parser
serves both.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_PATTERN = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


class DurationError(ValueError):
    """A string that is not a Prometheus duration."""


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus duration; `0` is allowed, an empty string or `5 min` are not."""
    text = str(text).strip()
    if text == "0":
        return timedelta(0)
    match = _PATTERN.match(text)
    if not text or match is None:
        raise DurationError(
            f"not a valid duration string: {text!r} (expected e.g. 30s, 5m, 1h30m, 1d)"
        )
    total_ms = 0
    for value, unit in zip(match.groups(), _UNITS_MS):
        if value is not None:
            total_ms += int(value) * _UNITS_MS[unit]
    return timedelta(milliseconds=total_ms)


def format_duration(delta: timedelta) -> str:
    """Render a duration back in Prometheus syntax (`1h30m`, `0s`)."""
    total_ms = int(round(delta.total_seconds() * 1000))
    if total_ms == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = _UNITS_MS[unit]
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


_SECONDS = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def _validate(value: Any) -> timedelta:
    """Config values: a duration string, or a bare number of seconds (`30`, `1.5`)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15s, 1m, 2h")
    try:
        if isinstance(value, (int, float)):
            return timedelta(seconds=value)
        if isinstance(value, str) and _SECONDS.match(value.strip()):
            return timedelta(seconds=float(value))  # YAML scalars arrive as their text
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    except OverflowError:
        raise ValueError(f"duration out of range: {value}") from None


Duration = Annotated[timedelta, BeforeValidator(_validate)]
"""A pydantic field type for durations in config and rule files."""
