"""Retention: which rows are old enough to delete, in batches, inside transactions the
Store opens (`ivr db prune`).

Old means: a call whose every event happened before the cut-off, with all of those events
(by its summary's last event: a call whose early events went and later ones stayed would
be summarized again, by `ivr db resummarize`, from a part of them; one that straddles the
cut-off goes whole at a later prune); a finished (completed or failed) callback that
finished before the cut-off. A call with no summary (none should be without one) goes by
its own start, an event of such a call by when it happened. Open callbacks are kept,
however old, with their calls: someone is still owed a call. Summaries and the reports'
rollups are kept: they hold no caller's number, and the reports of pruned days stay.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, exists, func, select

from analytics.callback_line import FINISHED
from analytics.tables import call_summaries, callbacks, calls, events

BATCH = 5_000
TABLES = ("events", "calls", "callbacks")


def _old_call(
    call_sid: ColumnElement[Any], happened_ms: ColumnElement[Any], before_ms: int
) -> ColumnElement[bool]:
    """`call_sid` is of a call all of whose events happened before `before_ms` and that
    no one is owed a callback for; `happened_ms` goes by when the call has no summary."""
    summarized = call_summaries.c.call_sid == call_sid
    over = exists().where(summarized, call_summaries.c.last_event_at_ms < before_ms)
    old = over | ((happened_ms < before_ms) & ~exists().where(summarized))
    # Its callback's events are still to come: the call goes with them, later.
    owed = exists().where(callbacks.c.call_sid == call_sid, callbacks.c.status.not_in(FINISHED))
    return old & ~owed


def _old(table: str, before_ms: int) -> tuple[Table, Any, ColumnElement[bool]]:
    """The table, its key column and the condition that makes a row old."""
    if table == "events":
        return events, events.c.id, _old_call(events.c.call_sid, events.c.at_ms, before_ms)
    if table == "calls":
        old = _old_call(calls.c.call_sid, calls.c.started_at_ms, before_ms)
        return calls, calls.c.call_sid, old
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
