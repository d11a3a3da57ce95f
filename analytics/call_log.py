"""The engine's CallLog port, kept in the database.

Writes (states, events, callback bookings) never wait for the database: they go to the
write-behind thread, which writes them or spools them to disk (never lost). Reads a
caller's answer depends on are bounded: while the database is known to be unreachable they
are not tried at all, and otherwise a read that takes longer than `read_timeout` is given
up (the call's state also travels in its signed URLs). Reads for agents and reports first
wait for pending writes, so they see what was just recorded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from analytics.errors import StoreError, StoreUnavailable
from analytics.moments import epoch_ms, from_epoch_ms
from analytics.records import Booking, Callback, event_rows
from analytics.spool import SpoolFlusher, SpoolingEventLog
from analytics.store import Store
from analytics.write_behind import Pending, WriteBehind
from ivr.actions import Event
from ivr.ports import (
    CallbackRequest,
    CallbackStatus,
    ClaimedCallback,
    QueueHistory,
    WaitingCaller,
)
from ivr.privacy import Privacy
from ivr.queue_wait import HISTORY_WINDOW
from ivr.state import CallState

log = logging.getLogger("ivr.analytics")
T = TypeVar("T")

# A live caller is not kept waiting longer than this (max_wait is usually minutes); older
# queue entries whose end was never reported are not offered to agents.
WAITING_HORIZON = timedelta(hours=4)
READ_TIMEOUT = 1.0  # seconds a caller's answer may wait for a read, once per outage
RECENT_BOOKINGS = 10_000  # calls whose bookings this process remembers, newest kept
HISTORY_TTL = 30.0  # seconds a queue's answer history is reused before it is read again


class StoreCallLog:
    """`privacy` is applied to states and events before they reach the database or the
    spool; a callback's number is kept as given until the callback is finished."""

    def __init__(
        self,
        store: Store,
        spool: SpoolingEventLog,
        privacy: Privacy | None = None,
        *,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.store = store
        self.spool = spool
        self.privacy = privacy or Privacy()
        # Every write is in the journal on local disk before the answer (a worker killed
        # with kill -9 loses nothing); the thread moves it into the database right after.
        self.writer = WriteBehind(spool).start()
        self.read_timeout = read_timeout
        self._readers = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ivr-read")
        self.history_ttl = HISTORY_TTL
        self._history: dict[str, tuple[float, QueueHistory]] = {}
        self._recent_bookings: dict[str, list[CallbackRequest]] = {}

    @classmethod
    def open(
        cls, url: str, spool_dir: str | Path = ".ivr-spool", privacy: Privacy | None = None
    ) -> StoreCallLog:
        """Connect, apply the migrations, and replay whatever an earlier run spooled."""
        store = Store(url)
        store.upgrade()
        spool = SpoolingEventLog(store, spool_dir)
        if spool.depth():
            spool.flush()
        return cls(store, spool, privacy)

    def flusher(self, every: float = 5.0) -> SpoolFlusher:
        return SpoolFlusher(self.spool, every)

    def flush(self) -> None:
        """Write everything pending now (the database, or the spool when it is down)."""
        self.writer.flush()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[Callable[[], Awaitable[None]]]:
        """Writes in the block are journaled without waiting for the fsync: the function
        it gives awaits it (see analytics.write_behind)."""
        with self.writer.deferred() as added:
            yield lambda: self.writer.synced(added)

    def close(self) -> None:
        """Write what is pending, stop the writer, close the database connections."""
        self.writer.close()
        self._readers.shutdown(wait=True, cancel_futures=True)  # their connections too
        self.store.close()

    # --- writes: never wait for the database ---------------------------------------

    def record(self, state: CallState, events: Sequence[Event]) -> None:
        now_ms = epoch_ms(state.started_at) if not events else epoch_ms(events[-1].at)
        kept = self.privacy.events(state, events)
        saved = self.privacy.state(state)
        self.writer.submit(Pending(saves=((saved, now_ms),), rows=tuple(event_rows(saved, kept))))

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        kept = self.privacy.events(state, events)
        self.writer.submit(Pending(rows=tuple(event_rows(state, kept))))

    def request_callback(self, request: CallbackRequest, *, read_next: bool = False) -> None:
        booking = Booking(
            call_sid=request.call_sid,
            queue=request.queue,
            number=request.number,
            place_at_ms=epoch_ms(request.place_at),
            not_before_ms=epoch_ms(request.not_before) if request.not_before else None,
            requested_at_ms=epoch_ms(request.requested_at),
        )
        # With `read_next`, in the database before the answer: the <Leave> that follows
        # sends Twilio to the queue's result URL, maybe on another server, which asks for
        # the booking. Otherwise behind it, batched with events: bookings of a call merge
        # the same in any order (analytics.callback_line.book).
        wait = self.read_timeout if read_next else 0.0
        self.writer.submit(Pending(bookings=(booking,)), wait=wait)
        # A cache for answering a caller while the database is away: "did this call book a
        # callback?" (the queue result right after the booking asks exactly that).
        self._recent_bookings.setdefault(request.call_sid, []).append(request)
        while len(self._recent_bookings) > RECENT_BOOKINGS:
            self._recent_bookings.pop(next(iter(self._recent_bookings)))

    # --- reads on a caller's answer: bounded -----------------------------------------

    def load(self, call_sid: str) -> CallState | None:
        pending = self.writer.state_of(call_sid)
        if pending is not None:
            return pending
        return self._bounded(lambda: self.store.load_call(call_sid), None, f"load {call_sid}")

    async def aload(self, call_sid: str) -> CallState | None:
        """`load`, awaited on an event loop: the read runs on a reader thread meanwhile."""
        pending = self.writer.state_of(call_sid)
        if pending is not None:
            return pending
        if not self.spool.reachable:
            return None
        future = asyncio.wrap_future(self._readers.submit(self.store.load_call, call_sid))
        try:
            return await asyncio.wait_for(future, self.read_timeout)
        except (TimeoutError, StoreError) as err:
            self._gave_up(err, f"load {call_sid}")
            return None

    def queue_history(self, queue: str, now: datetime) -> QueueHistory:
        """Cached per process for `history_ttl` seconds: most wait announcements cost no
        query at all."""
        cached = self._history.get(queue)
        if cached is not None and time.monotonic() - cached[0] < self.history_ttl:
            return cached[1]
        if self.spool.reachable:
            self.writer.drain(self.read_timeout)  # answers this process just recorded
        since = epoch_ms(now - HISTORY_WINDOW)
        read = self._bounded(lambda: self.store.queue_history(queue, since), None, "read history")
        if read is None:
            return cached[1] if cached is not None else QueueHistory()
        answers, waiting = read
        history = QueueHistory(
            tuple((from_epoch_ms(at), waited) for at, waited in answers),
            tuple(from_epoch_ms(at) for at in waiting),
        )
        self._history[queue] = (time.monotonic(), history)
        return history

    def _bounded(self, read: Callable[[], T], default: T, what: str) -> T:
        if not self.spool.reachable:
            return default
        future = self._readers.submit(read)
        try:
            return future.result(timeout=self.read_timeout)
        except (concurrent.futures.TimeoutError, StoreError) as err:
            self._gave_up(err, what)
        return default

    def _gave_up(self, err: Exception, what: str) -> None:
        """A bounded read that did not answer: the caller goes on without it."""
        if isinstance(err, TimeoutError | concurrent.futures.TimeoutError):
            # Silence, not a refusal: the database or the network is dropping packets.
            self.spool.mark_unreachable()
            log.warning("database too slow to %s; going on without it", what)
        elif isinstance(err, StoreUnavailable):
            self.spool.mark_unreachable()
            log.warning("database unreachable, could not %s: %s", what, err)
        else:
            log.warning("could not %s: %s", what, err)

    # --- reads for agents and reports: see what was just written --------------------

    def _settled(self) -> None:
        self.writer.drain()

    def waiting_callers(self, queues: Sequence[str], now: datetime) -> list[WaitingCaller]:
        self._settled()
        since = epoch_ms(now - WAITING_HORIZON)
        return [
            WaitingCaller(sid, queue, from_epoch_ms(at))
            for sid, queue, at in self.store.waiting_callers(queues, since)
        ]

    def ready(self) -> bool:
        return self.store.ping()

    def outcome(self, call_sid: str) -> str | None:
        """Read for the context API: sees what this process has just recorded."""
        if self.spool.reachable:
            self.writer.drain(self.read_timeout)
        try:
            return self.store.outcome_of(call_sid)
        except StoreError:
            return None

    def events_of(self, call_sid: str) -> list[Event]:
        self._settled()
        return [row.to_event() for row in self.store.events_for(call_sid)]

    def callbacks_for(self, call_sid: str) -> list[CallbackStatus]:
        """Asked on a caller's answer (the queue result): bounded like `load`; while the
        database is away, the bookings this process made for the call stand in (id 0)."""
        if self.spool.reachable:
            self.writer.drain(self.read_timeout)
        found = self._bounded(
            lambda: self.store.callbacks_for(call_sid), None, f"read the callbacks of {call_sid}"
        )
        if found is None:
            mine = self._recent_bookings.get(call_sid, [])
            return [CallbackStatus(0, request, "pending") for request in mine]
        return [CallbackStatus(c.id, _request(c), c.status) for c in found]

    def claim_callback(
        self, queues: Sequence[str], agent_id: str, now: datetime
    ) -> ClaimedCallback | None:
        self._settled()
        claimed = self.store.claim_next_callback(queues, agent_id, epoch_ms(now))
        if claimed is None:
            return None
        return ClaimedCallback(claimed.id, _request(claimed), claimed.attempts)

    def finish_callback(
        self, callback_id: int, status: str, now: datetime, retry_at: datetime | None = None
    ) -> None:
        retry_at_ms = epoch_ms(retry_at) if retry_at is not None else None
        self.store.finish_callback(callback_id, status, epoch_ms(now), retry_at_ms)
        if status in ("completed", "failed") and self.privacy.numbers != "keep":
            # The number was kept only so that the callback could be placed.
            self.store.protect_callback_number(callback_id, self.privacy.number)

    # --- CallStats: the operations metrics ------------------------------------------
    def outcome_counts(self) -> dict[str, int]:
        return self.store.outcome_counts()

    def callbacks_pending(self) -> dict[str, int]:
        return self.store.callbacks_pending()

    def spool_depth(self) -> int:
        return self.spool.depth()


def _request(row: Callback) -> CallbackRequest:
    return CallbackRequest(
        call_sid=row.call_sid,
        queue=row.queue,
        number=row.number,
        place_at=from_epoch_ms(row.place_at_ms),
        not_before=from_epoch_ms(row.not_before_ms) if row.not_before_ms is not None else None,
        requested_at=from_epoch_ms(row.requested_at_ms),
    )
