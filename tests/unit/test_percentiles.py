"""Nearest-rank percentiles and how the report finds them without sorting the month:
sample bands, ranks, offsets inside a band, and the exact fallback when a band misses.

The SQL that executes this (queries.scan / queries.issues) is played here by a few lines
of Python over lists (`_execute`); tests/integration/test_report_data.py runs the real
statements on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slawatch.report import percentiles
from slawatch.report.percentiles import QUANTILES, Band, Target

MEDIAN, P90 = QUANTILES["median"], QUANTILES["p90"]
GROUPS = ("P0", "P1")


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([7.0], MEDIAN, 7.0),
        ([1.0, 2.0], MEDIAN, 1.0),  # ceil(0.5 * 2) = 1st
        ([1.0, 2.0, 3.0], MEDIAN, 2.0),
        ([1.0, 2.0, 3.0, 4.0], MEDIAN, 2.0),  # nearest rank never interpolates
        ([float(i) for i in range(1, 11)], P90, 9.0),  # ceil(0.9 * 10) = 9th
        ([float(i) for i in range(1, 12)], P90, 10.0),  # ceil(9.9) = 10th
        ([5.0, 1.0], P90, 5.0),  # ceil(1.8) = 2nd
        ([], MEDIAN, None),
    ],
)
def test_percentiles_are_nearest_rank(values, q, expected) -> None:
    assert percentiles.percentile(sorted(values), q) == expected


def test_nearest_rank_uses_exact_fractions() -> None:
    # 0.9 * 10 is 9.000000000000002 in floating point; the rank must still be 9.
    assert percentiles.nearest_rank(10, Fraction(9, 10)) == 9
    assert percentiles.nearest_rank(1, Fraction(1, 2)) == 1
    with pytest.raises(ValueError, match="at least one"):
        percentiles.nearest_rank(0, MEDIAN)


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=300), st.sampled_from([MEDIAN, P90]))
def test_nearest_rank_value_has_at_least_q_of_values_at_or_below_it(values, q) -> None:
    ordered = sorted(values)
    value = percentiles.percentile(ordered, q)
    assert sum(v <= value for v in ordered) >= q * len(ordered)
    assert sum(v < value for v in ordered) < q * len(ordered)


def test_a_band_from_an_empty_sample_is_unbounded() -> None:
    assert percentiles.sample_band([], MEDIAN) == (None, None)


@pytest.mark.parametrize("q", [MEDIAN, P90])
def test_a_band_from_a_whole_population_holds_its_percentile(q) -> None:
    values = [float(v) for v in range(1, 1001)]
    lo, hi = percentiles.sample_band(values, q)
    assert lo is not None and hi is not None and lo <= percentiles.percentile(values, q) <= hi


def test_a_band_near_the_ends_of_the_sample_is_open_there() -> None:
    lo, hi = percentiles.sample_band([1.0, 2.0, 3.0], P90)
    assert hi is None


def test_bands_from_every_twentieth_value_hold_the_percentiles_of_skewed_data() -> None:
    rng = random.Random(3)
    population = [rng.lognormvariate(6, 1.2) for _ in range(40_000)]
    sample = sorted(population[::20])
    ordered = sorted(population)
    for q in (MEDIAN, P90):
        lo, hi = percentiles.sample_band(sample, q)
        exact = percentiles.percentile(ordered, q)
        assert lo <= exact <= hi
        inside = sum(lo <= v <= hi for v in population)
        assert inside < len(population) * 0.1  # a band is a small slice, not the month


def test_targets_are_every_metric_group_and_quantile_in_a_stable_order() -> None:
    assert percentiles.targets(("mtta", "mttr"), ("P0", None)) == [
        Target("mtta", "P0", "median"), Target("mtta", "P0", "p90"),
        Target("mtta", None, "median"), Target("mtta", None, "p90"),
        Target("mttr", "P0", "median"), Target("mttr", "P0", "p90"),
        Target("mttr", None, "median"), Target("mttr", None, "p90"),
    ]


@pytest.mark.parametrize(
    ("population", "step"), [(0, 1), (1, 1), (50_000, 1), (50_001, 2), (1_000_000, 20), (1_000_001, 21)]
)
def test_the_sample_step_keeps_the_sample_within_sample_size(population: int, step: int) -> None:
    assert percentiles.sample_step(population) == step
    assert population // step <= percentiles.SAMPLE_SIZE


def test_bands_come_from_each_groups_own_sampled_values_and_skip_missing_ones() -> None:
    """A group's band is placed on its own values; group None pools every row; None is no duration."""
    rows = [("P0", float(v), None) for v in range(1, 1001)] + [("P1", None, float(v)) for v in range(5001, 6001)]
    wanted = percentiles.targets(("mtta", "mttr"), ("P0", "P1", None))
    found = percentiles.bands(rows, ("mtta", "mttr"), wanted)
    assert set(found) == set(wanted)
    p0 = found[Target("mtta", "P0", "median")]
    assert p0 == Band(*percentiles.sample_band([float(v) for v in range(1, 1001)], MEDIAN))
    assert found[Target("mtta", None, "median")] == p0  # P1 has no MTTA values
    assert found[Target("mtta", "P1", "p90")] == Band(None, None)  # no values: unbounded
    assert 5001 <= found[Target("mttr", None, "p90")].lo <= 5900 <= found[Target("mttr", None, "p90")].hi


def test_ranks_are_nearest_ranks_and_leave_out_targets_without_values() -> None:
    median, p90 = Target("mtta", None, "median"), Target("mtta", None, "p90")
    assert percentiles.ranks({median: 10, p90: 10, Target("mttr", None, "p90"): 0}) == {median: 5, p90: 9}


def test_offsets_count_from_the_bands_start_and_drop_bands_that_start_above_the_percentile() -> None:
    inside, above, unbounded = Target("m", "P0", "median"), Target("m", "P1", "median"), Target("m", None, "p90")
    ranked = {inside: 50, above: 50, unbounded: 90}
    assert percentiles.offsets(ranked, {inside: 40, above: 50}) == {inside: 9, unbounded: 89}


def test_settle_keeps_picks_and_sorts_in_full_only_where_a_band_missed() -> None:
    picked, missed = Target("m", "P0", "median"), Target("m", "P1", "median")
    asked: list[tuple[Target, int]] = []

    def exact(x: Target, rank: int) -> float | None:
        asked.append((x, rank))
        return 7.0

    assert percentiles.settle({picked: 3, missed: 4}, {picked: 1.5, missed: None}, exact) == {picked: 1.5, missed: 7.0}
    assert asked == [(missed, 4)]


# -- the whole algorithm against sorting --------------------------------------------------------

Row = tuple[str, Any]


def _values(rows: Sequence[Row], group: str | None) -> list[Any]:
    return sorted(v for g, v in rows if v is not None and group in (None, g))


def _execute(rows: Sequence[Row], bands: dict[Target, Band]) -> dict[Target, float | None]:
    """The report's steps with the SQL played by list operations: count below each band,
    keep the values inside, pick at each offset, sort in full where nothing was picked."""
    below, inside = {}, {}
    for x, band in bands.items():
        values = _values(rows, x.group)
        below[x] = sum(v < band.lo for v in values) if band.lo is not None else 0
        inside[x] = [v for v in values if (band.lo is None or v >= band.lo) and (band.hi is None or v <= band.hi)]
    ranked = percentiles.ranks({x: len(_values(rows, x.group)) for x in bands})
    offsets = percentiles.offsets(ranked, below)
    picked = {x: inside[x][i] if i < len(inside[x]) else None for x, i in offsets.items()}
    return percentiles.settle(ranked, picked, lambda x, rank: _values(rows, x.group)[rank - 1])


def _sorted_in_full(rows: Sequence[Row], wanted: Sequence[Target]) -> dict[Target, float | None]:
    found = {x: percentiles.percentile(_values(rows, x.group), QUANTILES[x.quantile]) for x in wanted}
    return {x: value for x, value in found.items() if value is not None}


WANTED = percentiles.targets(("d",), (*GROUPS, None))
ROWS = st.lists(st.tuples(st.sampled_from(GROUPS), st.none() | st.integers(0, 40) | st.floats(-1e6, 1e6)), max_size=400)


@settings(max_examples=300, deadline=None)
@given(ROWS, st.integers(1, 50))
def test_percentiles_via_sampled_bands_equal_sorting(rows: list[Row], step: int) -> None:
    """Sample every step-th row, place bands, count, pick: the nearest-rank percentile of every group."""
    sample = [r for i, r in enumerate(rows, start=1) if i % step == 0]
    bands = percentiles.bands(sample, ("d",), WANTED)
    assert _execute(rows, bands) == _sorted_in_full(rows, WANTED)


BOUND = st.none() | st.integers(-5, 45) | st.floats(-1e6, 1e6)


@settings(max_examples=300, deadline=None)
@given(ROWS, st.lists(st.tuples(BOUND, BOUND), min_size=len(WANTED), max_size=len(WANTED)))
def test_percentiles_equal_sorting_whatever_the_bands(rows: list[Row], bounds: list[tuple[Any, Any]]) -> None:
    """Bands that start above, end below, are empty or inverted only cost the full sort."""
    bands = {x: Band(lo, hi) for x, (lo, hi) in zip(WANTED, bounds)}
    assert _execute(rows, bands) == _sorted_in_full(rows, WANTED)
