"""Many rows in one SQLite statement, handed to the driver as they are.

Through SQLAlchemy, every row of a batch went through its parameter processing on the way
to sqlite3 (one dictionary of bind values per row, then each value's processor): about a
third of the background writer's time went there. Here SQLAlchemy still compiles the
statement, once per set of columns, and the rows go to sqlite3 as tuples in the compiled
statement's order, JSON columns as JSON text (as the engine's serializer writes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Row, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.dml import Insert

from analytics.database import json_text

_DIALECT = sqlite.dialect()
ROWS_PER_INSERT = 100  # 9 columns a row: under SQLite's oldest limit of 999 parameters


@cache
def _compiled(statement: Insert, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The SQL of the statement for these columns and the column of each `?`, in order."""
    compiled = statement.compile(dialect=_DIALECT, column_keys=list(columns))
    order = tuple(compiled.positiontup or ())
    stray = [name for name in order if name not in columns]
    if stray:  # a bind value of the statement's own (a literal): not from the rows
        raise ValueError(f"{statement.table} statement binds {stray}, not row columns")
    return str(compiled), order


@cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.c if isinstance(c.type, JSON))


@cache
def _as_json(table: Table, columns: tuple[str, ...]) -> tuple[bool, ...]:
    """Which of these columns take JSON text: looked up once, not for every value."""
    return tuple(name in _json_columns(table) for name in columns)


def _values(table: Table, columns: tuple[str, ...], row: Mapping[str, Any]) -> tuple[Any, ...]:
    # None too, as SQLAlchemy's JSON type writes it: JSON's null, not SQL's NULL.
    return tuple(
        json_text(row[name]) if is_json else row[name]
        for name, is_json in zip(columns, _as_json(table, columns), strict=True)
    )


def execute_many(
    connection: Connection, statement: Insert, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run the INSERT (... ON CONFLICT ...) once per row, all rows with the same keys."""
    if not rows:
        return
    table = statement.table
    assert isinstance(table, Table)
    sql, order = _compiled(statement, tuple(rows[0]))
    connection.exec_driver_sql(sql, [_values(table, order, row) for row in rows])


@lru_cache(maxsize=32)
def _values_sql(table: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)} {tail}"


def insert_returning(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], tail: str
) -> list[Row[Any]]:
    """INSERT of the rows (all with the same keys) in statements of many rows each, `tail`
    after the VALUES (ON CONFLICT ..., RETURNING ...); the rows RETURNING gave."""
    found: list[Row[Any]] = []
    columns = tuple(rows[0]) if rows else ()
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        sql = _values_sql(table.name, columns, len(chunk), tail)
        values = tuple(value for row in chunk for value in _values(table, columns, row))
        found += connection.exec_driver_sql(sql, values).all()
    return found
