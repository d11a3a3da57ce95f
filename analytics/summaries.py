"""The per-call summary table, kept in step with the event log.

Every write of events re-derives the summaries of the calls it touched from all of their
events, inside the same transaction, so a summary is right whatever order its events
arrived in. `ivr.outcomes.summarize` does the thinking.

The events come from an `EventCache` of the calls this process wrote lately when it is
known to hold them all: each summary row keeps the number of events it was worked out
from (`event_count`), every write of a call's events takes the call's lock (PostgreSQL;
SQLite writes one at a time anyway), and the count in the row equals the cached count
only when no one else has added an event since. A call with no events but those being
added needs no cache: a count by the `call_sid` index tells. When another server added
events since (its webhooks alternate between servers), those the cache lacks are read
back (from the first gap in its seqs on), if with the cached ones they make the stored
count. Otherwise all are read back by that index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from analytics import event_reads, pg_bulk, rollups, sqlite_bulk
from analytics.database import dialect_insert
from analytics.moments import from_epoch_ms
from analytics.records import EventRow
from analytics.tables import call_summaries, events
from ivr.actions import Event
from ivr.outcomes import CallSummary, summarize

PATH_SEPARATOR = " > "
_MAX_PATH = 4_000  # characters; a path longer than this (a caller looping for an hour) is cut
_READ_BATCH = 500
CACHE_CALLS = 2_000  # calls whose events a process keeps (calls in progress, mostly)

_Known = list[tuple[EventRow, Event]]  # a call's events, as stored and as the engine's


class EventCache:
    """The events of the calls this process wrote last, newest kept; a call whose end
    (Twilio's status callback) is written leaves it."""

    def __init__(self, capacity: int = CACHE_CALLS) -> None:
        self.capacity = capacity
        self._calls: OrderedDict[str, _Known] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, call_sid: str) -> _Known | None:
        with self._lock:
            return self._calls.get(call_sid)

    def put(self, call_sid: str, known: _Known, ended: bool) -> None:
        with self._lock:
            if ended:
                self._calls.pop(call_sid, None)
                return
            self._calls[call_sid] = known
            self._calls.move_to_end(call_sid)
            while len(self._calls) > self.capacity:
                self._calls.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


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
    per_call: dict[str, _Known] = defaultdict(list)
    for row in rows:
        per_call[row.call_sid].append((row, row.to_event()))
    return [_row_of(call_sid, known, short_abandon_s) for call_sid, known in per_call.items()]


def _row_of(call_sid: str, known: _Known, short_abandon_s: float) -> dict[str, Any]:
    started = next((r for r, _ in known if r.kind == "call_started"), known[0][0])
    summary = summarize((e for _, e in known), short_abandon_s)
    row = summary_row(call_sid, started.flow_id, started.flow_version, summary)
    row["event_count"] = len(known)
    return row


# Built once: building `IN (...)` afresh for every write cost more than running it.
_SUMMARIES_NOW = select(
    call_summaries.c.call_sid, call_summaries.c.started_at_ms, call_summaries.c.event_count
).where(call_summaries.c.call_sid.in_(bindparam("sids", expanding=True)))
_STORED_COUNTS = (
    select(events.c.call_sid, func.count())
    .where(events.c.call_sid.in_(bindparam("sids", expanding=True)))
    .group_by(events.c.call_sid)
)


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
    *,
    new_rows: Sequence[EventRow] = (),
    known_events: EventCache | None = None,
) -> None:
    """Re-derive and upsert the summaries of these calls from their events. `new_rows`
    are the rows this transaction has just added (with `known_events`, the cache their
    calls' other events may come from)."""
    added: dict[str, _Known] = defaultdict(list)
    for row in new_rows:
        added[row.call_sid].append((row, row.to_event()))
    sids = sorted(set(call_sids))
    for start in range(0, len(sids), _READ_BATCH):
        chunk = sids[start : start + _READ_BATCH]
        # What the summaries say now: the day each call is on (a late call_started can
        # move it to an earlier day: both days change) and how many events they count.
        before = {
            sid: (started_ms, count)
            for sid, started_ms, count in connection.execute(_SUMMARIES_NOW, {"sids": chunk})
        }
        known: dict[str, _Known] = {}
        behind: dict[str, _Known] = {}  # cached, but another server has added events since
        for sid in chunk:
            cached = known_events.get(sid) if known_events is not None else None
            if cached is None or sid not in before:
                continue
            if before[sid][1] == len(cached):
                known[sid] = cached + added.get(sid, [])
            elif before[sid][1] > len(cached):
                behind[sid] = cached
        # A call without a summary yet (one this transaction began, mostly) may have no
        # other events than those just added: counting them is cheaper than reading back.
        # A summary row means earlier events, so the others are read back at once.
        new_calls = [sid for sid in chunk if sid not in before and sid in added]
        if new_calls:
            stored_counts = connection.execute(_STORED_COUNTS, {"sids": new_calls})
            for sid, stored in stored_counts:
                if stored == len(added[sid]):
                    known[sid] = added[sid]
        # The others' events are read back: those after the cached ones' first gap for a
        # call this process wrote before, all of them for the rest, in one statement.
        cached_seqs = {sid: {row.seq for row, _ in cached} for sid, cached in behind.items()}
        after = {sid: _unbroken_to(seqs) for sid, seqs in cached_seqs.items()}
        after.update((sid, 0) for sid in chunk if sid not in known and sid not in behind)
        found = event_reads.events_after(connection, dialect, after)
        for sid, cached in behind.items():
            later, stored = found.pop(sid, []), before[sid][1]
            caught_up = _caught_up(cached, cached_seqs[sid], later, stored, added.get(sid, []))
            if caught_up is not None:
                known[sid] = caught_up
        everything = [sid for sid in behind if sid not in known]  # an event behind the cache
        found.update(event_reads.events_after(connection, dialect, dict.fromkeys(everything, 0)))
        for sid, stored_rows in found.items():
            known[sid] = [(row, row.to_event()) for row in stored_rows]
        rows = [_row_of(sid, events_of, short_abandon_s) for sid, events_of in known.items()]
        if not rows:
            continue
        if dialect == "postgresql":
            pg_bulk.insert(connection, call_summaries, rows, _pg_upsert_tail(tuple(rows[0])))
        else:
            sqlite_bulk.execute_many(connection, _upsert(dialect), rows)
        if known_events is not None:
            for summary in rows:
                sid = summary["call_sid"]
                known_events.put(sid, known[sid], ended=summary["ended_by"] is not None)
        days = [started for started, _ in before.values()]
        rollups.mark_dirty(connection, dialect, [*days, *(r["started_at_ms"] for r in rows)])


def _unbroken_to(seqs: set[int]) -> int:
    """The last seq of the unbroken run 1, 2, 3... in `seqs` (the cached events'): those not
    cached lie after it. Not simply the last cached seq: the other server's writer can
    commit an earlier webhook's events after this one's later ones (each gathers its
    writes for a moment), which would then be missed, the count not add up, and every
    event of the call be read back."""
    last = 0
    while last + 1 in seqs:
        last += 1
    return last


def _caught_up(
    cached: _Known, seqs: set[int], later: list[EventRow], stored: int, added: _Known
) -> _Known | None:
    """The call's events when another process wrote some since this one last did (a call
    whose webhooks go to several servers in turn): the cached ones and those stored after
    the cached ones' first gap that are not cached; None unless that makes as many as are
    stored (an event behind them arrived too), when all are read back instead. `seqs`:
    the cached events' seqs."""
    mine = {row.seq for row, _ in added}
    others = [row for row in later if row.seq not in seqs and row.seq not in mine]
    if len(cached) + len(others) != stored:
        return None
    return cached + [(row, row.to_event()) for row in others] + added


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
