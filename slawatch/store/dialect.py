"""The few SQL expressions that differ between SQLite and PostgreSQL, compiled per dialect.

Seconds between two timestamps, one label out of the JSON `labels` text, a JSON array
aggregate, and the elements of such an array as a table: everything else the report and the ticket filters
ask is portable SQLAlchemy Core.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, Float, String, Text, cast, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["Collect", "Label", "Seconds", "elements"]


class Seconds(FunctionElement[float]):
    """(a - b) in seconds."""

    type = Float()
    inherit_cache = True


@compiles(Seconds, "sqlite")
def _seconds_sqlite(element: Seconds, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({a}) - julianday({b})) * 86400.0)"


@compiles(Seconds, "postgresql")
def _seconds_postgresql(element: Seconds, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"date_part('epoch', {a} - {b})"  # double precision; EXTRACT gives slow numeric


class Label(FunctionElement[str]):
    """The value of one label in the JSON `labels` text."""

    type = String()
    inherit_cache = True


@compiles(Label, "sqlite")
def _label_sqlite(element: Label, compiler: Any, **kw: Any) -> str:
    labels, name = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_extract({labels}, '$.' || {name})"


@compiles(Label, "postgresql")
def _label_postgresql(element: Label, compiler: Any, **kw: Any) -> str:
    labels, name = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({labels} AS JSON) ->> {name})"


class Collect(FunctionElement[str]):
    """Aggregate: the values of all rows as a JSON array (use with FILTER, cast to text)."""

    type = String()
    inherit_cache = True


@compiles(Collect, "sqlite")
def _collect_sqlite(element: Collect, compiler: Any, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clause_expr.element, **kw)})"


@compiles(Collect, "postgresql")
def _collect_postgresql(element: Collect, compiler: Any, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clause_expr.element, **kw)})"


def elements(conn: Connection, array: str) -> Any:
    """The elements of a JSON array of scalars given as text: a table with a `value` column."""
    if conn.dialect.name == "postgresql":
        return func.json_array_elements_text(cast(literal(array, Text()), JSON())).table_valued("value")
    return func.json_each(literal(array, Text())).table_valued("value")
