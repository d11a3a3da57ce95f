"""Many rows in one PostgreSQL statement with a parameter per column: `INSERT ... SELECT
FROM unnest(%(a)s::bigint[], %(b)s::text[], ...)`.

A multi-row VALUES list (SQLAlchemy's insertmanyvalues) has a placeholder per value, and
psycopg parses a statement that long afresh every time: half of a large batch's time went
to that parsing. With one array per column the statement is short, parsed once and cached,
however many rows it carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Connection, Integer, Result, Table, text
from sqlalchemy.sql.elements import TextClause

from analytics.database import json_text


def _array_type(column: Any) -> str:
    kind = column.type
    if isinstance(kind, BigInteger):
        return "bigint[]"
    if isinstance(kind, Integer):
        return "integer[]"
    if isinstance(kind, Boolean):
        return "boolean[]"
    return "text[]"  # strings, and JSON as text (cast to jsonb per row below)


@cache
def statement(table: Table, columns: tuple[str, ...], tail: str) -> TextClause:
    """INSERT of `columns` from one array per column; `tail` is what follows (ON CONFLICT
    ..., RETURNING ...)."""
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(table.c[name])})" for name in columns)
    values = ", ".join(
        f"u.{name}::jsonb" if isinstance(table.c[name].type, JSON) else f"u.{name}"
        for name in columns
    )
    names = ", ".join(columns)
    return text(
        f"INSERT INTO {table.name} ({names}) SELECT {values} "
        f"FROM unnest({arrays}) AS u({names}) {tail}"
    )


def columns_of(rows: Sequence[Mapping[str, Any]], table: Table) -> dict[str, list[Any]]:
    """One list per column (JSON columns as JSON text), in the rows' order."""
    names = list(rows[0])
    found: dict[str, list[Any]] = {name: [] for name in names}
    json_columns = {n for n in names if isinstance(table.c[n].type, JSON)}
    for row in rows:
        for name in names:
            value = row[name]
            found[name].append(json_text(value) if name in json_columns else value)
    return found


def insert(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], tail: str = ""
) -> Result[Any]:
    """Insert the rows (all with the same keys) in one statement; returns its result."""
    statement_ = statement(table, tuple(rows[0]), tail)
    return connection.execute(statement_, columns_of(rows, table))
