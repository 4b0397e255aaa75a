"""The monthly report's SQL (SQLAlchemy Core): every count, sum and order statistic.

A month is the tickets opened in [start, end) (optionally of one service). Outcomes are
computed per row in SQL with the rules of `sla.outcomes` / `sla.deadlines`: responded =
acknowledged_at, else resolved_at; recovered = recovered_at, else resolved_at of a
manual resolution; met / breached / pending as in `sla.deadlines.response_met`/`recovery_met`.

Shaped for 1,000,000 tickets a month on SQLite, whose cost is per row and per
expression (no hash aggregation, a slow sorter), and for PostgreSQL alike:
- counts that need no outcome come from covering indexes (migration 0004);
- the month's rows are read once (`scan`), per priority along the (priority, opened_at)
  index, with per-row values computed once in a subquery fenced by OFFSET 0;
- that scan also collects, as JSON text, the ids of the few tickets that missed (or
  have not yet met) a deadline, and the durations inside each percentile band; `issues`
  reads those tickets by primary key and lists, counts and ranks their breaches;
- median and p90 (nearest rank) without sorting the month, by the algorithm of
  `percentiles`, which these statements execute: `sample` reads the sampled rows, `scan`
  counts the values below each band and keeps those inside, `issues` picks the value at
  each band's offset, and `exact_percentile` sorts one percentile in full where a band
  missed.
Durations are seconds from julianday() on SQLite (millisecond resolution) and
date_part('epoch', ...) on PostgreSQL (microseconds), so the two may differ in the
last reported digit when timestamps carry sub-millisecond parts.

`service` is the tickets.service column (migration 0004), or the `service` label where
that is NULL (rows written by a daemon older than the column). On PostgreSQL all
statements of a report read one snapshot (`prepare`). Needs SQLite 3.35 or newer
(MATERIALIZED, aggregate FILTER, JSON functions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any, Mapping, Sequence

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from slawatch.model import Priority, Resolution
from slawatch.report.percentiles import Band, Target
from slawatch.store.dialect import Collect, Label, Seconds, elements
from slawatch.store.schema import UtcDateTime
from slawatch.store.schema import tickets as t

MET, BREACHED, PENDING = 0, 1, 2
_NEVER = datetime(9999, 12, 31, tzinfo=timezone.utc)
PRIORITIES = tuple(p.value for p in Priority)
METRICS = ("mtta", "mttr")

# The column is added by migration 0004; an older daemon leaves it NULL, and then the
# `service` label is read instead.
_SERVICE_COLUMN: ColumnElement[str] = t.c.service if "service" in t.c else column("service", String(), _selectable=t)


@dataclass(frozen=True)
class Window:
    """Tickets opened in [start, end) (aware UTC), judged at `now`, optionally one service."""

    start: datetime
    end: datetime
    now: datetime
    service: str | None = None


@dataclass
class Durations:
    """Per priority: how many durations there are, and their sum."""

    mtta_n: int = 0
    mtta_sum: float = 0.0
    mttr_n: int = 0
    mttr_sum: float = 0.0


@dataclass(frozen=True)
class Scanned:
    """What one pass over the month found: sums per priority, and what `issues` reads next."""

    durations: dict[str, Durations]
    below: dict[Target, int]  # how many of each target's values lie below its band
    missed: str  # JSON array of the ids of tickets with a deadline breached or pending
    inside: dict[Target, str]  # JSON array of the durations inside each target's band


@dataclass(frozen=True)
class Item:
    """A breached or pending deadline of one ticket."""

    deadline: str  # response | recovery
    state: int  # BREACHED | PENDING
    ticket_id: int
    rule: str
    service: str | None
    priority: str
    due: datetime
    done_at: datetime | None
    late_seconds: float | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


@dataclass
class Issues:
    items: list[Item] = field(default_factory=list)
    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (priority, deadline, state) -> n
    worst_rules: list[tuple[str, int]] = field(default_factory=list)
    worst_services: list[tuple[str, int]] = field(default_factory=list)
    picks: dict[Target, float | None] = field(default_factory=dict)


# Outcome expressions over a ticket's columns `c` (mirroring sla.response_met and
# sla.recovery_met), and the filters every query shares.


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


def _service() -> ColumnElement[str]:
    return func.coalesce(_SERVICE_COLUMN, Label(t.c.labels, "service"), type_=String())


def _responded(c: Any) -> ColumnElement[datetime]:
    return func.coalesce(c.acknowledged_at, c.resolved_at, type_=UtcDateTime())


def _recovered(c: Any) -> ColumnElement[datetime]:
    manual = case((c.resolution == Resolution.MANUAL.value, c.resolved_at))
    return func.coalesce(c.recovered_at, manual, type_=UtcDateTime())


def _response_state(c: Any, now: datetime) -> ColumnElement[int]:
    responded = _responded(c)
    return case(
        (responded.is_not(None), case((responded <= c.response_due, MET), else_=BREACHED)),
        (_at(now) > c.response_due, BREACHED),
        else_=PENDING,
    )


def _recovery_state(c: Any, now: datetime) -> ColumnElement[int]:
    recovered, due = _recovered(c), c.recovery_due
    return case(
        (and_(c.resolved_at.is_not(None), recovered.is_not(None)), case((recovered <= due, MET), else_=BREACHED)),
        (and_(_at(now) > due, or_(recovered.is_(None), recovered > due)), BREACHED),
        else_=PENDING,
    )


def _unmet(c: Any) -> ColumnElement[bool]:
    """Response or recovery not met (breached or pending): a cheaper `state != MET`."""
    never = _at(_NEVER)
    return or_(
        func.coalesce(c.acknowledged_at, c.resolved_at, never, type_=UtcDateTime()) > c.response_due,
        c.resolved_at.is_(None),
        func.coalesce(_recovered(c), never, type_=UtcDateTime()) > c.recovery_due,
    )


def _metric(c: Any, name: str) -> ColumnElement[float]:
    """MTTA: ack - open, for acknowledged tickets; MTTR: recovery - open, for resolved ones."""
    if name == "mtta":
        return Seconds(c.acknowledged_at, c.opened_at)
    return case((c.resolved_at.is_not(None), Seconds(_recovered(c), c.opened_at)))


def _service_is(name: str) -> ColumnElement[bool]:
    return or_(_SERVICE_COLUMN == name, and_(_SERVICE_COLUMN.is_(None), Label(t.c.labels, "service") == name))


def _opened_in(w: Window, start: datetime | None = None, end: datetime | None = None) -> list[ColumnElement[bool]]:
    conds = [t.c.opened_at >= _at(start or w.start), t.c.opened_at < _at(end or w.end)]
    return conds + ([_service_is(w.service)] if w.service is not None else [])


def _in_band(value: ColumnElement[float], band: Band) -> ColumnElement[bool]:
    conds = [value >= band.lo] if band.lo is not None else []
    conds += [value <= band.hi] if band.hi is not None else []
    return and_(*(conds or [value.is_not(None)]))


def _concat(arrays: Sequence[str | None]) -> str:
    """JSON arrays (as text; NULL or [] when empty) joined into one, as text."""
    parts = [a.strip()[1:-1] for a in arrays if a is not None and a.strip() not in ("", "[]")]
    return "[" + ",".join(parts) + "]"


def prepare(conn: Connection) -> None:
    """Set up the report's transaction on PostgreSQL: one snapshot for all its statements
    (when the connection has not started a transaction yet), read only, and no JIT,
    which would spend seconds compiling these statements' many expressions."""
    if conn.dialect.name != "postgresql":
        return
    if not conn.in_transaction():
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    conn.execute(text("SET LOCAL jit = off"))


def priority_counts(conn: Connection, w: Window) -> dict[str, int]:
    """Tickets opened in the window, per priority (from the (priority, opened_at) index)."""
    query = select(t.c.priority, func.count()).where(t.c.priority.in_(PRIORITIES), *_opened_in(w)).group_by(t.c.priority)
    return {p: n for p, n in conn.execute(query)}


def daily_counts(conn: Connection, w: Window, day_starts: Sequence[datetime]) -> list[tuple[int, str, int]]:
    """(day index, priority, tickets opened) for the days starting at `day_starts`: one
    index range per day, so no per-row date arithmetic and no sort."""
    arms = [
        select(literal(i, Integer()).label("day"), t.c.priority, func.count().label("n"))
        .where(t.c.priority.in_(PRIORITIES), *_opened_in(w, lo, hi))
        .group_by(t.c.priority)
        for i, (lo, hi) in enumerate(pairwise([*day_starts, w.end]))
    ]
    return [(r.day, r.priority, r.n) for r in conn.execute(union_all(*arms))]


def service_counts(conn: Connection, w: Window) -> dict[str, tuple[int, int]]:
    """(tickets, P0 tickets) opened in the window per service.

    The names come from a loose index scan (one seek per name), so the counts are read
    from the (service, opened_at, priority) index in its order, without a sort.
    """
    p0 = func.sum(case((t.c.priority == Priority.P0.value, 1), else_=0))
    if w.service is not None:
        n, n_p0 = conn.execute(select(func.count(), p0).where(*_opened_in(w))).one()
        return {w.service: (n, n_p0 or 0)} if n else {}
    names = select(func.min(_SERVICE_COLUMN).label("name")).cte("names", recursive=True)
    following = select(func.min(_SERVICE_COLUMN)).where(_SERVICE_COLUMN > names.c.name).scalar_subquery()
    names = names.union_all(select(following).where(names.c.name.is_not(None)))
    labelled = (
        select(_SERVICE_COLUMN.label("name"), func.count().label("n"), p0.label("p0"))
        .where(_SERVICE_COLUMN.in_(select(names.c.name)), *_opened_in(w))
        .group_by(_SERVICE_COLUMN)
    )
    label = Label(t.c.labels, "service")
    unlabelled = (
        select(label.label("name"), func.count().label("n"), p0.label("p0"))
        .where(_SERVICE_COLUMN.is_(None), label.is_not(None), *_opened_in(w))
        .group_by(label)
    )
    both = union_all(labelled, unlabelled).subquery()
    query = select(both.c.name, func.sum(both.c.n), func.sum(both.c.p0)).group_by(both.c.name)
    return {name: (int(n), int(p0)) for name, n, p0 in conn.execute(query)}


def sample(conn: Connection, w: Window, step: int) -> list[tuple[str, Any, Any]]:
    """(priority, mtta, mttr) of the window's tickets whose id is a multiple of `step`.

    SQLite tests the id on the index entry, so only the sampled rows are read.
    """
    query = select(t.c.priority, _metric(t.c, "mtta"), _metric(t.c, "mttr")).where(*_opened_in(w), t.c.id % step == 0)
    return [tuple(r) for r in conn.execute(query).all()]


def scan(conn: Connection, w: Window, bands: Mapping[Target, Band]) -> Scanned:
    """One pass over the month: MTTA/MTTR count and sum per priority, the values below
    and inside each band, and the ids of the tickets with a deadline not met."""
    targets = list(bands)
    arms = []
    for priority in PRIORITIES:
        rows = (
            select(t.c.id, _metric(t.c, "mtta").label("mtta"), _metric(t.c, "mttr").label("mttr"),
                   _unmet(t.c).label("unmet"))
            .where(t.c.priority == priority, *_opened_in(w))
            .offset(0)  # computed once per row, not once per reference
            .subquery()
        )
        inside, below = [], []
        for x in targets:
            band, value, mine = bands[x], rows.c[x.metric], x.group in (priority, None)
            inside.append(cast(Collect(value).filter(_in_band(value, band)), Text()) if mine else null())
            below.append(func.count().filter(value < band.lo) if mine and band.lo is not None else literal(0))
        arms.append(
            select(
                literal(priority, String()).label("priority"),
                func.count(rows.c.mtta), func.sum(rows.c.mtta), func.count(rows.c.mttr), func.sum(rows.c.mttr),
                cast(Collect(rows.c.id).filter(rows.c.unmet), Text()).label("missed"),
                *(c.label(f"inside_{i}") for i, c in enumerate(inside)),
                *(c.label(f"below_{i}") for i, c in enumerate(below)),
            )
        )
    durations: dict[str, Durations] = {}
    below: dict[Target, int] = {x: 0 for x in targets}
    missed: list[str | None] = []
    inside_of: dict[Target, list[str | None]] = {x: [] for x in targets}
    for row in conn.execute(union_all(*arms)).all():
        priority, mtta_n, mtta_sum, mttr_n, mttr_sum, missed_ids, *rest = row
        inside_json, below_n = rest[: len(targets)], rest[len(targets):]
        durations[priority] = Durations(mtta_n, float(mtta_sum or 0), mttr_n, float(mttr_sum or 0))
        missed.append(missed_ids)
        for x, found, n in zip(targets, inside_json, below_n):
            inside_of[x].append(found)
            below[x] += n
    return Scanned(durations, below, _concat(missed), {x: _concat(found) for x, found in inside_of.items()})


def issues(conn: Connection, w: Window, scanned: Scanned, offsets: Mapping[Target, int]) -> Issues:
    """Breached and pending deadlines, their counts, the worst rules and services, and
    for each target in `offsets` the value at that 0-based offset inside its band."""
    ids = elements(conn, scanned.missed)
    missed = (
        select(
            t.c.id, t.c.rule, _service().label("service"), t.c.priority,
            _response_state(t.c, w.now).label("rs"), _recovery_state(t.c, w.now).label("cs"),
            t.c.response_due, t.c.recovery_due, _responded(t.c).label("responded"),
            case((t.c.resolved_at.is_not(None), _recovered(t.c))).label("recovered"),
            t.c.acknowledged_by, t.c.acknowledged_at,
        )
        .where(t.c.id.in_(select(cast(ids.c.value, Integer())).select_from(ids)))
        .cte("missed")
        .prefix_with("MATERIALIZED")
    )
    targets = list(offsets)
    arms = [_items(missed, w.now, "response"), _items(missed, w.now, "recovery")]
    arms += [_counts(missed, "response"), _counts(missed, "recovery")]
    arms += [_worst(missed, "rule"), _worst(missed, "service")]
    arms += [_pick(elements(conn, scanned.inside[x]), i, offset) for i, (x, offset) in enumerate(offsets.items())]
    query = union_all(*arms).order_by(literal_column("ticket_id"), literal_column("due"), literal_column("kind"))
    out = Issues()
    for r in conn.execute(query).all():
        if r.kind in ("response", "recovery"):
            out.items.append(Item(
                r.kind, r.state, r.ticket_id, r.rule, r.service, r.priority, r.due, r.done_at,
                None if r.late_seconds is None else float(r.late_seconds), r.acknowledged_by, r.acknowledged_at,
            ))
        elif r.kind.startswith("count:"):
            out.counts[(r.priority, r.kind[6:], r.state)] = int(r.n)
        elif r.kind in ("rule", "service"):
            (out.worst_rules if r.kind == "rule" else out.worst_services).append((r.rule, int(r.n)))
        else:
            out.picks[targets[r.ticket_id]] = None if r.n is None else float(r.n)
    out.worst_rules.sort(key=lambda x: (-x[1], x[0]))
    out.worst_services.sort(key=lambda x: (-x[1], x[0]))
    return out


def _row(kind: str, **values: Any) -> Any:
    """One arm of the issues UNION ALL: every arm has the same columns, NULL where unused."""
    types: dict[str, TypeEngine[Any]] = {
        "ticket_id": Integer(), "rule": String(), "service": String(), "priority": String(), "state": Integer(),
        "due": UtcDateTime(), "done_at": UtcDateTime(), "late_seconds": Float(), "acknowledged_by": String(),
        "acknowledged_at": UtcDateTime(), "n": Float(),
    }
    cols = [literal(kind, String()).label("kind")]
    cols += [(values[c] if c in values else cast(null(), ty)).label(c) for c, ty in types.items()]
    return select(*cols)


def _items(missed: Any, now: datetime, deadline: str) -> Any:
    """One row per breached or pending `deadline`; late by done - due, or now - due if not done."""
    state = missed.c.rs if deadline == "response" else missed.c.cs
    due = missed.c.response_due if deadline == "response" else missed.c.recovery_due
    done = missed.c.responded if deadline == "response" else missed.c.recovered
    late = case((state == BREACHED, Seconds(func.coalesce(done, _at(now), type_=UtcDateTime()), due)))
    return _row(
        deadline, ticket_id=missed.c.id, rule=missed.c.rule, service=missed.c.service, priority=missed.c.priority,
        state=state, due=due, done_at=done, late_seconds=late, acknowledged_by=missed.c.acknowledged_by,
        acknowledged_at=missed.c.acknowledged_at,
    ).where(state != MET)


def _counts(missed: Any, deadline: str) -> Any:
    state = missed.c.rs if deadline == "response" else missed.c.cs
    return (
        _row(f"count:{deadline}", priority=missed.c.priority, state=state, n=func.count())
        .where(state != MET)
        .group_by(missed.c.priority, state)
    )


def _worst(missed: Any, by: str) -> Any:
    """The ten rules (or services) with the most breached deadlines."""
    key = missed.c[by]
    breaches = func.sum(case((missed.c.rs == BREACHED, 1), else_=0) + case((missed.c.cs == BREACHED, 1), else_=0))
    top = (
        select(key.label("key"), breaches.label("n"))
        .where(key.is_not(None))
        .group_by(key)
        .having(breaches > 0)
        .order_by(breaches.desc(), key)
        .limit(10)
        .subquery()
    )
    return _row(by, rule=top.c.key, n=top.c.n)


def _pick(values: Any, index: int, offset: int) -> Any:
    """The value at `offset` among a band's values, in order."""
    value = cast(values.c.value, Float())
    picked = select(value).select_from(values).order_by(value).limit(1).offset(offset).scalar_subquery()
    return _row("pick", ticket_id=literal(index, Integer()), n=picked)


def exact_percentile(conn: Connection, w: Window, x: Target, rank: int) -> float | None:
    """The `rank`-th smallest value, by sorting them all: the fallback for a missed band."""
    value = _metric(t.c, x.metric)
    query = select(value).where(*_opened_in(w), value.is_not(None)).order_by(value).limit(1).offset(rank - 1)
    if x.group is not None:
        query = query.where(t.c.priority == x.group)
    found = conn.execute(query).scalar()
    return None if found is None else float(found)


def p0_intervals(conn: Connection, w: Window) -> list[tuple[str | None, datetime, datetime]]:
    """(service, opened, recovered or now) of P0 tickets that may overlap the window.

    Unresolved ones, and ones resolved after the start: a ticket recovers before it is
    resolved, so no other can overlap (both halves read the (priority, resolved_at) index).
    """
    end = func.coalesce(_recovered(t.c), t.c.resolved_at, _at(w.now), type_=UtcDateTime())
    base = select(_service(), t.c.opened_at, end).where(t.c.priority == Priority.P0.value, t.c.opened_at < _at(w.end))
    if w.service is not None:
        base = base.where(_service_is(w.service))
    query = union_all(base.where(t.c.resolved_at.is_(None)), base.where(t.c.resolved_at > _at(w.start)))
    return [(s, start, stop) for s, start, stop in conn.execute(query)]


def blind_intervals(conn: Connection, w: Window, rule: str, group_key: str) -> list[tuple[datetime, datetime]]:
    """(opened, recovered or now) of the monitoring-blind tickets that may overlap the window
    (found through the (group_key, status) index of their internal group)."""
    end = func.coalesce(_recovered(t.c), t.c.resolved_at, _at(w.now), type_=UtcDateTime())
    query = select(t.c.opened_at, end).where(
        t.c.group_key == group_key, t.c.rule == rule, t.c.opened_at < _at(w.end),
        or_(t.c.resolved_at.is_(None), t.c.resolved_at > _at(w.start)),
    )
    return [(start, stop) for start, stop in conn.execute(query)]
