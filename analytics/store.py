"""The call store: calls, their event log and the callback line, on SQLite or PostgreSQL.

One code path for both. Every method is one transaction; every failure is a StoreError.
Times come in as epoch milliseconds (`now_ms`): the store reads no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from alembic.util import CommandError
from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, text, update
from sqlalchemy.engine import URL

from analytics import (
    callback_line,
    pg_bulk,
    queue_board,
    retention,
    rollups,
    sqlite_bulk,
    summaries,
)
from analytics.database import (
    WRITE,
    current_revision,
    database_url,
    dialect_insert,
    make_engine,
    upgrade,
)
from analytics.errors import StoreError, translated
from analytics.moments import epoch_ms
from analytics.records import Booking, Callback, CallIdentity, EventRow, event_rows
from analytics.tables import call_summaries, callbacks, calls, events
from ivr.actions import Event
from ivr.outcomes import SHORT_ABANDON_S
from ivr.state import CallState

_BATCH = 500  # rows per INSERT: far below SQLite's limit on bound parameters
_PG_BATCH = 5_000  # rows per INSERT on PostgreSQL: one array parameter per column
_EVENTS_TAIL = "ON CONFLICT (call_sid, seq) DO NOTHING RETURNING call_sid, seq"
_CLAIM_TRIES = 20  # claims lost to a faster agent before giving up for now
# Read on a caller's first request and on every status callback: built once.
_CALL_STATE = select(calls.c.state).where(calls.c.call_sid == bindparam("sid"))


class Store:
    """Built from a database URL: `sqlite:///ivr.db` or `postgresql+psycopg://user@host/db`."""

    def __init__(self, url: str | URL, *, short_abandon_s: float = SHORT_ABANDON_S) -> None:
        self._url = database_url(url)
        self.short_abandon_s = short_abandon_s  # hang-ups this soon are short abandons
        self.url = self._url.render_as_string(hide_password=True)
        self.engine: Engine = make_engine(self._url)
        # The events of calls written lately: their summaries need not read them back.
        self._known_events = summaries.EventCache()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    # --- schema and health ---------------------------------------------------------

    def upgrade(self) -> None:
        """Apply the migrations the database lacks (idempotent; safe from many processes)."""
        with translated("apply the migrations", self.url):
            try:
                upgrade(self.engine)
            except CommandError as err:  # e.g. a revision from a newer release of this program
                raise StoreError(
                    f"could not apply the migrations to the database at {self.url}: {err}"
                ) from err

    def revision(self) -> str | None:
        """The schema revision the database is at; None before the first upgrade."""
        with translated("read the schema revision", self.url):
            return current_revision(self.engine)

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self._read("reach the database") as connection:
                connection.execute(text("SELECT 1"))
        except StoreError:
            return False
        return True

    # --- calls -----------------------------------------------------------------------

    def save_call(self, state: CallState, now_ms: int) -> None:
        """Insert or update the call's row with its latest state. An update older than the
        stored one (`now_ms` below `updated_at_ms`, e.g. a late replay) changes nothing."""
        with self._write(f"save call {state.call_sid}") as connection:
            self._save_calls(connection, [(state, now_ms)])

    def load_call(self, call_sid: str) -> CallState | None:
        with self._read_one(f"load call {call_sid}") as connection:
            data = connection.scalar(_CALL_STATE, {"sid": call_sid})
        return None if data is None else CallState.from_json(data)

    def set_call_status(self, call_sid: str, status: str, now_ms: int, *, ended: bool) -> bool:
        """Keep Twilio's last CallStatus; `ended` also stamps the end (once). False when the
        call is unknown."""
        with self._write(f"set the status of call {call_sid}") as connection:
            if ended:
                connection.execute(
                    update(calls)
                    .where(calls.c.call_sid == call_sid, calls.c.ended_at_ms.is_(None))
                    .values(ended_at_ms=now_ms)
                )
            found = connection.execute(
                update(calls).where(calls.c.call_sid == call_sid).values(status=status)
            )
        return found.rowcount > 0

    # --- events ----------------------------------------------------------------------

    def record(self, state: CallState, new_events: Sequence[Event], now_ms: int) -> int:
        """Save the call's state and append its events in one transaction; returns how
        many events were new."""
        return self.apply([(state, now_ms)], event_rows(state, new_events))

    def apply(
        self,
        saves: Sequence[tuple[CallState, int]],
        rows: Sequence[EventRow],
        bookings: Sequence[Booking] = (),
    ) -> int:
        """Save call states (each with its `now_ms`), append event rows and book callbacks
        (in order), all in one transaction; returns how many events were new. The
        background writer and replays of the spool use this."""
        if not saves and not rows and not bookings:
            return 0
        latest = _latest_saves(saves)
        named = sorted(latest)
        more = f" and {len(named) - 5} more" if len(named) > 5 else ""
        calls_named = ", ".join(named[:5]) + more
        action = f"save call {calls_named} and " if saves else "save "
        booked = f" and book {len(bookings)} callback(s)" if bookings else ""
        with self._write(f"{action}{len(rows)} event(s){booked}") as connection:
            sids = {*latest, *(r.call_sid for r in rows), *(b.call_sid for b in bookings)}
            _lock_calls(connection, self.dialect, sids)
            self._save_calls(connection, list(latest.values()))
            new = self._insert_events(connection, rows)
            for b in bookings:
                callback_line.book(
                    connection,
                    b.call_sid,
                    b.queue,
                    b.number,
                    b.place_at_ms,
                    b.not_before_ms,
                    b.requested_at_ms,
                )
            return new

    def append_events(self, call: CallIdentity, new_events: Sequence[Event]) -> int:
        """Append events of a call (a CallState or CallRef); duplicates of (call_sid, seq)
        are ignored. Returns how many rows were new."""
        return self.append_rows(event_rows(call, new_events))

    def append_rows(self, rows: Sequence[EventRow]) -> int:
        if not rows:
            return 0
        with self._write(f"append {len(rows)} event(s)") as connection:
            _lock_calls(connection, self.dialect, {r.call_sid for r in rows})
            return self._insert_events(connection, rows)

    def events_for(self, call_sid: str) -> list[EventRow]:
        """The call's events in order (by seq)."""
        query = select(events).where(events.c.call_sid == call_sid).order_by(events.c.seq)
        with self._read(f"read the events of call {call_sid}") as connection:
            found = connection.execute(query).all()
        return [EventRow.read(r) for r in found]

    def outcome_of(self, call_sid: str) -> str | None:
        """The call's outcome (SPEC §5) as its events stand; None for an unknown call."""
        query = select(call_summaries.c.outcome).where(call_summaries.c.call_sid == call_sid)
        with self._read_one(f"read the outcome of call {call_sid}") as connection:
            return connection.scalar(query)

    def close_stale(self, cutoff_ms: int) -> int:
        """Close calls that had no status callback and no event since `cutoff_ms`;
        returns how many."""
        with self._write("close calls whose end was never reported") as connection:
            return summaries.close_stale(connection, self.dialect, cutoff_ms)

    def roll_up(self, days: int | None = None, *, ended_by_ms: int | None = None) -> int:
        """Build the report rollups of the days whose calls changed (at most `days` of
        them, oldest first; with `ended_by_ms`, only days over by then), one transaction
        a day; returns how many were built. A day marked again while this runs waits for
        the next call."""
        with self._read("find the days to roll up") as connection:
            todo = rollups.dirty_days(connection, limit=days, ended_by_ms=ended_by_ms)
        built = 0
        for day in todo:
            with self._write("roll up the reports of a day") as connection:
                built += rollups.rebuild_day(connection, day)
        return built

    def resummarize(self) -> int:
        """Re-derive every call's summary from its events (after changing the
        short-abandon threshold, say); returns how many calls."""
        with self._read("list the calls") as connection:
            sids = list(connection.scalars(select(events.c.call_sid).distinct()))
        for start in range(0, len(sids), _BATCH):
            with self._write("summarise calls") as connection:
                summaries.refresh(
                    connection, self.dialect, sids[start : start + _BATCH], self.short_abandon_s
                )
        return len(sids)

    # --- callbacks -------------------------------------------------------------------

    def waiting_callers(self, queues: Sequence[str], since_ms: int) -> list[tuple[str, str, int]]:
        """(call_sid, queue, queued_at_ms) of live callers waiting, longest first."""
        with self._read("read who is waiting") as connection:
            return queue_board.waiting(connection, queues, since_ms)

    def queue_history(self, queue: str, since_ms: int) -> tuple[list[tuple[int, float]], list[int]]:
        """The queue's answers since `since_ms` ((at_ms, waited s), oldest first) and the
        place in line (ms) of its pending callbacks."""
        with self._read(f"read the recent answers of queue {queue}") as connection:
            answers = queue_board.recent_answers(connection, queue, since_ms)
            waiting = queue_board.pending_callbacks(connection, queue)
        return answers, waiting

    def add_callback(
        self,
        call_sid: str,
        queue: str,
        number: str,
        place_at_ms: int,
        not_before_ms: int | None,
        now_ms: int,
    ) -> int:
        """Put a callback in line at the caller's place (`place_at_ms`: when they joined
        the queue). A call has at most one open callback per queue: asking again (a retried
        request, another number) updates it. Returns its id."""
        with self._write(f"book a callback for call {call_sid}") as connection:
            _lock_calls(connection, self.dialect, {call_sid})
            return callback_line.book(
                connection, call_sid, queue, number, place_at_ms, not_before_ms, now_ms
            )

    def claim_next_callback(
        self, queues: Sequence[str], agent_id: str, now_ms: int
    ) -> Callback | None:
        """The oldest pending callback of these queues (by place in line) that may be
        placed now, claimed for this agent. No two agents ever get the same one."""
        if not queues:
            return None
        for _ in range(_CLAIM_TRIES):
            with self._write(f"claim a callback for agent {agent_id}") as connection:
                claimed = callback_line.claim_next(connection, queues, agent_id, now_ms)
            if claimed is not False:
                return claimed if isinstance(claimed, Callback) else None
        raise StoreError(f"could not claim a callback for agent {agent_id}: too much contention")

    def finish_callback(
        self, callback_id: int, status: str, now_ms: int, retry_at_ms: int | None = None
    ) -> bool:
        """dialing | completed | failed | pending (back in line, keeping its place).
        False when there is no such callback; ValueError on another status."""
        with self._write(f"update callback {callback_id}") as connection:
            return callback_line.finish(connection, callback_id, status, now_ms, retry_at_ms)

    def callback(self, callback_id: int) -> Callback | None:
        with self._read(f"read callback {callback_id}") as connection:
            return callback_line.get(connection, callback_id)

    def callbacks_for(self, call_sid: str) -> list[Callback]:
        with self._read_one(f"read the callbacks of call {call_sid}") as connection:
            return callback_line.of_call(connection, call_sid)

    def protect_callback_number(self, callback_id: int, protect: Callable[[str], str]) -> None:
        """Replace a callback's number by its stored form (masked or hashed)."""
        with self._write(f"erase the number of callback {callback_id}") as connection:
            number = connection.scalar(
                select(callbacks.c.number).where(callbacks.c.id == callback_id)
            )
            if number is not None and protect(number) != number:
                connection.execute(
                    update(callbacks)
                    .where(callbacks.c.id == callback_id)
                    .values(number=protect(number))
                )

    # --- operations ------------------------------------------------------------------

    def outcome_counts(self) -> dict[str, int]:
        """Calls kept, by outcome ('' for calls without one yet)."""
        query = select(calls.c.outcome, func.count()).group_by(calls.c.outcome)
        with self._read("count calls by outcome") as connection:
            return {str(outcome or ""): int(n) for outcome, n in connection.execute(query)}

    def callbacks_pending(self) -> dict[str, int]:
        """Callbacks waiting for an agent, by queue."""
        query = (
            select(callbacks.c.queue, func.count())
            .where(callbacks.c.status == "pending")
            .group_by(callbacks.c.queue)
        )
        with self._read("count pending callbacks") as connection:
            return {str(queue): int(n) for queue, n in connection.execute(query)}

    def prune(
        self, before_ms: int, *, dry_run: bool = False, batch: int = retention.BATCH
    ) -> dict[str, int]:
        """Delete events, calls and finished callbacks from before `before_ms`, `batch`
        rows per transaction; returns the rows (to be) deleted per table."""
        if dry_run:
            with self._read("count what is old enough to prune") as connection:
                return retention.count(connection, before_ms)
        deleted = dict.fromkeys(retention.TABLES, 0)
        for table in retention.TABLES:
            while True:
                with self._write(f"prune {table} older than {before_ms} ms") as connection:
                    done = retention.delete_batch(connection, table, before_ms, batch)
                deleted[table] += done
                if done < batch:
                    break
        self._known_events.clear()  # some of those events may be gone now
        return deleted

    # --- plumbing --------------------------------------------------------------------

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with (
            translated(action, self.url),
            self.engine.connect() as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def _read_one(self, action: str) -> Iterator[Connection]:
        """For one statement (a call's state on a webhook, mostly). PostgreSQL runs it
        outside a transaction: no BEGIN before it and no ROLLBACK when the connection goes
        back to the pool, a round trip or two fewer. (SQLite's transaction costs nothing
        there, and switching its isolation level on each read cost more than it saved.)"""
        if self.dialect != "postgresql":
            with self._read(action) as connection:
                yield connection
            return
        with translated(action, self.url), self.engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at BEGIN (IMMEDIATE), so
        concurrent writers wait their turn instead of failing half-way."""
        with translated(action, self.url), self.engine.connect() as connection:
            connection.execution_options(**WRITE)
            try:
                with connection.begin():
                    yield connection
            except BaseException:
                # The cache took this transaction's events as written: they are not.
                self._known_events.clear()
                raise

    def _save_calls(self, connection: Connection, saves: Sequence[tuple[CallState, int]]) -> None:
        if not saves:
            return
        connection.execute(
            _call_upsert(self.dialect),
            [
                {
                    "call_sid": state.call_sid,
                    "flow_id": state.flow_id,
                    "flow_version": state.flow_version,
                    "caller": state.caller,
                    "dialed": state.dialed,
                    "started_at_ms": epoch_ms(state.started_at),
                    "updated_at_ms": now_ms,
                    "state": state.to_json(),
                }
                for state, now_ms in saves
            ],
        )

    def _insert_events(self, connection: Connection, rows: Sequence[EventRow]) -> int:
        if self.dialect == "postgresql":  # one array per column: see analytics.pg_bulk
            batch = _PG_BATCH

            def insert(chunk: list[dict[str, Any]]) -> Any:
                return pg_bulk.insert(connection, events, chunk, _EVENTS_TAIL)
        else:  # many rows a statement, straight to sqlite3: see analytics.sqlite_bulk
            batch = _BATCH

            def insert(chunk: list[dict[str, Any]]) -> Any:
                return sqlite_bulk.insert_returning(connection, events, chunk, _EVENTS_TAIL)

        by_key = {(row.call_sid, row.seq): row for row in reversed(rows)}  # the first of twins
        added: list[EventRow] = []
        for start in range(0, len(rows), batch):
            inserted = insert([row.to_json() for row in rows[start : start + batch]])
            added += (by_key[(sid, seq)] for sid, seq in inserted)
        # Same transaction: a call's summary never lags behind its events.
        summaries.refresh(
            connection,
            self.dialect,
            {row.call_sid for row in added},
            self.short_abandon_s,
            new_rows=added,
            known_events=self._known_events,
        )
        return len(added)


_LOCK_CALLS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(sid, 0))) "
    "FROM (SELECT unnest(CAST(:sids AS text[])) AS sid ORDER BY 1) AS sids"
)


def _lock_calls(connection: Connection, dialect: str, call_sids: set[str]) -> None:
    """PostgreSQL (SQLite writes one transaction at a time anyway): this transaction is
    the only one writing these calls until it ends. Two servers writing one call's events
    at once would otherwise each work out its summary without the other's events, and the
    later commit would drop those. Taken in one order (sorted) by every writer, so two
    batches never wait on each other."""
    if dialect == "postgresql" and call_sids:
        connection.execute(_LOCK_CALLS, {"sids": sorted(call_sids)})


def _latest_saves(saves: Sequence[tuple[CallState, int]]) -> dict[str, tuple[CallState, int]]:
    """The one save per call that the row ends with, had they been applied in turn: the
    latest `now_ms`, and in the same millisecond the state further along (the last of
    equals). A replayed batch of spool files then writes each call's row once."""
    latest: dict[str, tuple[CallState, int]] = {}
    for state, now_ms in saves:
        found = latest.get(state.call_sid)
        if found is None or (found[1], found[0].events) <= (now_ms, state.events):
            latest[state.call_sid] = (state, now_ms)
    return latest


@cache
def _call_upsert(dialect: str) -> Any:
    """Insert a call's row or update its state, built once per dialect and run with one
    parameter set per call (building it per call cost more than running it)."""
    statement = dialect_insert(dialect, calls)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[calls.c.call_sid],
        set_={"state": new.state, "updated_at_ms": new.updated_at_ms},
        # Later wins; in the same millisecond, the state further along the call (a spool
        # replayed out of order must not undo a step).
        where=or_(
            calls.c.updated_at_ms < new.updated_at_ms,
            and_(
                calls.c.updated_at_ms == new.updated_at_ms,
                calls.c.state["events"].as_integer() <= new.state["events"].as_integer(),
            ),
        ),
    )
