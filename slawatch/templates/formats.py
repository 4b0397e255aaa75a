"""How slawatch writes a duration or a ratio for people: in Slack, the report and its charts.

One formatter each, so a message and the report agree on what "1h 5m" and "99.9 %" mean.
Their callers differ in layout only: a table lines its durations up (`padded`), a
sentence does not; report figures are fractional seconds (`rounded`), a message's are
instants apart and never round up. (Prometheus' duration syntax is `config.durations`.)
"""

from __future__ import annotations

import math
from datetime import timedelta

__all__ = ["AVAILABILITY_DIGITS", "human_duration", "percent"]

AVAILABILITY_DIGITS = 3
"""Decimals of an availability or its target (`99.942 %`): with one, 99.86 % and a
99.9 % target would show as the same number."""

def human_duration(value: timedelta | float | None, *, padded: bool = False, rounded: bool = False) -> str:
    """The two largest units from the first non-zero one: `45s`, `1h 5m`, `2d 3h`; `n/a` for None.

    `padded` always shows the second unit, zero-padded (`1h 05m`, `1h 00m`, `12m 30s`), so
    a column of durations lines up; otherwise a zero second unit is left out (`1h`, `1d`).
    `rounded` goes to the nearest second (59.6 s is `1m 00s`); otherwise the fraction is
    dropped (59.6 s is `59s`: a deadline "in 5m" has at least five minutes left).
    """
    if value is None:
        return "n/a"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    total = round(seconds) if rounded else int(seconds)
    sign, total = ("-", -total) if total < 0 else ("", total)
    amounts = [(total // 86_400, "d"), (total % 86_400 // 3_600, "h"), (total % 3_600 // 60, "m"), (total % 60, "s")]
    first = next((i for i, (n, _) in enumerate(amounts) if n), len(amounts) - 1)
    parts = [f"{amounts[first][0]}{amounts[first][1]}"]
    for n, unit in amounts[first + 1 : first + 2]:
        if padded:
            parts.append(f"{n:02d}{unit}")
        elif n:
            parts.append(f"{n}{unit}")
    return sign + " ".join(parts)


def percent(ratio: float | None, digits: int = 1, *, trim: bool = False) -> str:
    """`0.975` -> `97.5 %`; a ratio below 1 never shows as `100.0 %`; `n/a` for None.

    `trim` drops trailing zeros (`99.5 %`, `100 %`), for axis ticks rather than figures.
    """
    if ratio is None:
        return "n/a"
    value = float(ratio) * 100
    shown = f"{value:.{digits}f}"
    if value < 100 and float(shown) >= 100:  # never round a shortfall up to 100 %
        shown = f"{math.floor(value * 10 ** digits) / 10 ** digits:.{digits}f}"
    if trim and "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return f"{shown} %"
