"""Median and p90 of a month's durations without sorting the month, pure.

Percentiles are nearest-rank: the q-percentile of n values is the k-th smallest with
k = ceil(q * n), always one of the observed values (median of 1, 2, 3, 4 is 2; p90 of
ten values is the 9th), never interpolated. `percentile` is that definition over sorted
values; everything else here computes the same value from counts, because sorting a
million durations is what the report cannot afford.

The algorithm, executed in SQL by `queries` (which only runs it):

1. `sample_step`: a bounded sample of the month (the tickets whose id is a multiple of
   the step, at most `SAMPLE_SIZE` of them).
2. `bands`: from the sorted sample, a band of values [lo, hi] that almost surely holds
   each percentile of the whole month (`sample_band`).
3. One scan of the month counts, per band, the values below it and collects the few
   inside it; `ranks` says which rank each percentile has among all the values.
4. `offsets`: the percentile is the (rank - below)-th value inside the band. A band
   that starts above the percentile shows as a negative offset and is not asked; one
   that ends below it has fewer values inside than the offset, so SQL finds nothing.
5. `settle`: what SQL picked, and for every band that missed, the value found by
   sorting that one percentile's values in full. A band that misses costs time, never
   correctness: the result is always the exact nearest-rank percentile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

QUANTILES: dict[str, Fraction] = {"median": Fraction(1, 2), "p90": Fraction(9, 10)}
"""The reported percentiles by name; exact fractions, so ceil(0.9 * 10) is 9, not 10."""

SAMPLE_SIZE = 50_000
"""Rows sampled to place the bands; bounds the memory and time of the Python side."""


@dataclass(frozen=True)
class Target:
    """One order statistic: `metric` (mtta|mttr) of `group` (a priority, None = all) at `quantile`."""

    metric: str
    group: str | None
    quantile: str


@dataclass(frozen=True)
class Band:
    """Values in [lo, hi]; None is unbounded on that side."""

    lo: Any = None
    hi: Any = None


def targets(metrics: Iterable[str], groups: Iterable[str | None]) -> list[Target]:
    """Every (metric, group, quantile) the report shows, in a stable order."""
    return [Target(m, g, q) for m in metrics for g in groups for q in QUANTILES]


def nearest_rank(n: int, q: Fraction) -> int:
    """The 1-based rank of the q-percentile among n values: ceil(q * n), at least 1."""
    if n < 1:
        raise ValueError(f"n: need at least one value, got {n}")
    return max(1, math.ceil(q * n))


def percentile(sorted_values: Sequence[float], q: Fraction) -> float | None:
    """Nearest-rank percentile of already sorted values; None for no values."""
    if not sorted_values:
        return None
    return sorted_values[nearest_rank(len(sorted_values), q) - 1]


def sample_step(population: int) -> int:
    """Sample every step-th row so that at most `SAMPLE_SIZE` rows of `population` are read."""
    return max(1, math.ceil(population / SAMPLE_SIZE))


def sample_band(
    sorted_sample: Sequence[float], q: Fraction, z: float = 4.0
) -> tuple[float | None, float | None]:
    """Bounds that almost surely hold the q-percentile of the population a sample came from.

    The percentile sits near position q*m of a sorted sample of m values, give or take
    z standard deviations of a sample quantile's rank (sqrt(m q (1-q))). None means
    unbounded on that side. The caller verifies the band by counting, so a band that
    misses costs time, never correctness.
    """
    m = len(sorted_sample)
    if m == 0:
        return None, None
    centre = float(q) * m
    half = z * math.sqrt(m * float(q) * (1 - float(q))) + 1
    low, high = math.floor(centre - half), math.ceil(centre + half)
    lo = sorted_sample[low - 1] if low >= 1 else None
    hi = sorted_sample[high - 1] if high <= m else None
    return lo, hi


def bands(
    rows: Iterable[Sequence[Any]], metrics: Sequence[str], wanted: Iterable[Target]
) -> dict[Target, Band]:
    """Where each wanted percentile lies, from sampled rows `(group, value of each metric…)`.

    A row's values are in the order of `metrics`; None (no such duration) is skipped.
    """
    rows = list(rows)
    sorted_values: dict[tuple[str, str | None], list[Any]] = {}

    def values(metric: str, group: str | None) -> list[Any]:
        if (metric, group) not in sorted_values:
            column = metrics.index(metric) + 1
            sorted_values[(metric, group)] = sorted(
                r[column] for r in rows if r[column] is not None and group in (None, r[0])
            )
        return sorted_values[(metric, group)]

    return {x: Band(*sample_band(values(x.metric, x.group), QUANTILES[x.quantile])) for x in wanted}


def ranks(counts: Mapping[Target, int]) -> dict[Target, int]:
    """The nearest rank of every percentile that has values (`counts`: how many values it is of)."""
    return {x: nearest_rank(n, QUANTILES[x.quantile]) for x, n in counts.items() if n}


def offsets(ranked: Mapping[Target, int], below: Mapping[Target, int]) -> dict[Target, int]:
    """The 0-based position of each percentile among the values inside its band.

    Left out: bands with more values below them than the rank (the band starts above
    the percentile), which `settle` then finds by sorting.
    """
    found = {x: rank - 1 - below.get(x, 0) for x, rank in ranked.items()}
    return {x: offset for x, offset in found.items() if offset >= 0}


def settle(
    ranked: Mapping[Target, int],
    picked: Mapping[Target, float | None],
    exact: Callable[[Target, int], float | None],
) -> dict[Target, float | None]:
    """Each percentile: the value picked inside its band, or, where the band missed (no
    pick), `exact(target, rank)`, the rank-th smallest value by a full sort."""
    out = {}
    for x, rank in ranked.items():
        value = picked.get(x)
        out[x] = value if value is not None else exact(x, rank)
    return out
