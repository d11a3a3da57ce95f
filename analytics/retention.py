"""Retention: which rows are old enough to delete, in batches, inside transactions the
Store opens (`ivr db prune`).

Old means: an event that happened before the cut-off, a call that started before it, a
finished (completed or failed) callback that finished before it. Open callbacks are kept,
however old: someone is still owed a call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, select

from analytics.callback_line import FINISHED
from analytics.tables import callbacks, calls, events

BATCH = 5_000
TABLES = ("events", "calls", "callbacks")


def _old(table: str, before_ms: int) -> tuple[Table, Any, ColumnElement[bool]]:
    """The table, its key column and the condition that makes a row old."""
    if table == "events":
        return events, events.c.id, events.c.at_ms < before_ms
    if table == "calls":
        return calls, calls.c.call_sid, calls.c.started_at_ms < before_ms
    condition = callbacks.c.status.in_(FINISHED) & (callbacks.c.finished_at_ms < before_ms)
    return callbacks, callbacks.c.id, condition


def count(connection: Connection, before_ms: int) -> dict[str, int]:
    found = {}
    for name in TABLES:
        table, _, old = _old(name, before_ms)
        query = select(func.count()).select_from(table).where(old)
        found[name] = int(connection.scalar(query) or 0)
    return found


def delete_batch(connection: Connection, name: str, before_ms: int, batch: int) -> int:
    """Delete up to `batch` old rows of one table; returns how many went. A subquery with
    LIMIT, as both SQLite and PostgreSQL take it (neither has DELETE ... LIMIT in common)."""
    table, key, old = _old(name, before_ms)
    chosen = select(key).where(old).limit(batch)
    return int(connection.execute(delete(table).where(key.in_(chosen))).rowcount)
