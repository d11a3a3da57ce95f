"""The per-call summary table, kept in step with the event log.

Every write of events re-derives the summaries of the calls it touched from all of their
events (read back by the `call_sid` index, inside the same transaction), so a summary is
right whatever order its events arrived in. `ivr.outcomes.summarize` does the thinking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from functools import cache
from typing import Any

from sqlalchemy import Connection, select, update

from analytics import pg_bulk, rollups
from analytics.database import dialect_insert
from analytics.moments import from_epoch_ms
from analytics.records import EventRow
from analytics.tables import call_summaries, events
from ivr.outcomes import CallSummary, summarize

PATH_SEPARATOR = " > "
_MAX_PATH = 4_000  # characters; a path longer than this (a caller looping for an hour) is cut
_READ_BATCH = 500


def summary_row(
    call_sid: str, flow_id: str, flow_version: str, summary: CallSummary
) -> dict[str, Any]:
    """The `call_summaries` row of one call."""
    started = from_epoch_ms(summary.started_at_ms)
    row = {
        name: getattr(summary, name)
        for name in call_summaries.columns.keys()  # noqa: SIM118 (names, not columns)
        if hasattr(summary, name) and name != "path"
    }
    return {
        **row,
        "call_sid": call_sid,
        "flow_id": flow_id,
        "flow_version": flow_version,
        "hour": started.hour,
        "weekday": started.weekday(),
        "ended_by": "status" if summary.ended_at_ms is not None else None,
        "path": PATH_SEPARATOR.join(summary.path)[:_MAX_PATH],
    }


def rows_for(rows: Collection[EventRow], short_abandon_s: float) -> list[dict[str, Any]]:
    """Summary rows of the calls these event rows belong to (all of each call's events)."""
    per_call: dict[str, list[EventRow]] = defaultdict(list)
    for row in rows:
        per_call[row.call_sid].append(row)
    result = []
    for call_sid, call_rows in per_call.items():
        started = next((r for r in call_rows if r.kind == "call_started"), call_rows[0])
        summary = summarize((r.to_event() for r in call_rows), short_abandon_s)
        result.append(summary_row(call_sid, started.flow_id, started.flow_version, summary))
    return result


@cache
def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of every column, built once per dialect (building
    its `excluded` columns cost more than running it)."""
    statement = dialect_insert(dialect, call_summaries)
    columns = {c.name: statement.excluded[c.name] for c in call_summaries.c if c.name != "call_sid"}
    return statement.on_conflict_do_update(index_elements=[call_summaries.c.call_sid], set_=columns)


@cache
def _pg_upsert_tail(columns: tuple[str, ...]) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "call_sid")
    return f"ON CONFLICT (call_sid) DO UPDATE SET {updates}"


def refresh(
    connection: Connection,
    dialect: str,
    call_sids: Collection[str],
    short_abandon_s: float,
) -> None:
    """Re-derive and upsert the summaries of these calls from their stored events."""
    sids = sorted(set(call_sids))
    for start in range(0, len(sids), _READ_BATCH):
        chunk = sids[start : start + _READ_BATCH]
        found = connection.execute(
            select(events).where(events.c.call_sid.in_(chunk)).order_by(events.c.call_sid)
        ).all()
        stored = [EventRow.read(r) for r in found]
        rows = rows_for(stored, short_abandon_s)
        if not rows:
            continue
        # A late call_started can move a call to an earlier day: both days change.
        before = connection.scalars(
            select(call_summaries.c.started_at_ms).where(call_summaries.c.call_sid.in_(chunk))
        ).all()
        if dialect == "postgresql":
            pg_bulk.insert(connection, call_summaries, rows, _pg_upsert_tail(tuple(rows[0])))
        else:
            connection.execute(_upsert(dialect), rows)
        rollups.mark_dirty(connection, dialect, [*before, *(r["started_at_ms"] for r in rows)])


def close_stale(connection: Connection, dialect: str, cutoff_ms: int) -> int:
    """Calls with no status callback and no event since `cutoff_ms` are over: stamp their
    end at their last event (their outcome was already worked out as of then)."""
    done = connection.execute(
        update(call_summaries)
        .where(
            call_summaries.c.ended_at_ms.is_(None),
            call_summaries.c.last_event_at_ms < cutoff_ms,
        )
        .values(ended_at_ms=call_summaries.c.last_event_at_ms, ended_by="timeout")
        .returning(call_summaries.c.started_at_ms)
    )
    started = done.scalars().all()
    rollups.mark_dirty(connection, dialect, started)
    return len(started)
