"""Writes behind the answer: a webhook hands its events, call state and callback bookings
to a background thread and answers Twilio at once; the thread writes them in batches, to
the database or, while it is down, to the spool on disk.

In journal mode (the default for `ivr serve`) every write is first a file in the spool,
fsync'ed by the request itself (a millisecond or two, never a database round trip), and
the thread moves the files into the database right after. A worker killed with `kill -9`
then loses nothing it has answered for; the next process on that host replays its files.

Nothing is dropped. When the queue is full, or the thread is stuck on a database that
does not answer (a silent network drop costs it the whole connect timeout), or the
database is known to be down, the request writes its batch to the spool itself (one
fsync'ed file: milliseconds, and durable if the process dies). If even the disk refuses,
the batch is held in memory, retried, and logged loudly. Until a write is in the
database, `state_of` hands back the latest state handed in (read-your-writes), and
`drain` waits for everything handed in so far.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from analytics.records import Booking, EventRow
from analytics.spool import SpoolError, SpoolingEventLog
from ivr.state import CallState

log = logging.getLogger("ivr.analytics")

CAPACITY = 10_000  # batches waiting in memory before requests spool them themselves
BATCH = 200  # batches written in one transaction
STALL = 0.25  # seconds one database write may take before requests stop queueing behind it
OVERLAY = 50_000  # calls whose unwritten state is kept for reads


@dataclass(frozen=True)
class Pending:
    saves: tuple[tuple[CallState, int], ...] = ()
    rows: tuple[EventRow, ...] = ()
    bookings: tuple[Booking, ...] = ()
    at_ns: int = field(default_factory=time.time_ns)  # names its spool file: replay order


class WriteBehind:
    def __init__(
        self,
        spool: SpoolingEventLog,
        *,
        every: float = 2.0,
        capacity: int = CAPACITY,
        stall: float = STALL,
        journal: bool = False,
    ) -> None:
        self.spool = spool
        self.journal = journal
        self._wake = threading.Event()
        self._replays_started = 0
        self._replays_done = 0
        self._replaying = threading.Lock()
        self.every = every  # seconds between replays of the spool while idle
        self.stall = stall
        self._queue: queue.Queue[Pending] = queue.Queue(capacity)
        self._lock = threading.Condition()
        self._queued = 0  # batches put in the queue so far
        self._done = 0  # of those, written or spooled
        self._busy_since: float | None = None
        self._held: collections.deque[Pending] = collections.deque()
        # call_sid -> (latest unwritten state, when it was handed in, when its spool file
        # was complete on disk, or 0 while it is not)
        self._overlay: collections.OrderedDict[str, tuple[CallState, int, int]] = (
            collections.OrderedDict()
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ivr-write-behind", daemon=True)

    def start(self) -> WriteBehind:
        self._thread.start()
        return self

    # --- the request's side --------------------------------------------------------

    def submit(self, pending: Pending) -> None:
        """Hand a write over; returns in microseconds, or a file write when degraded."""
        with self._lock:
            for state, _ in pending.saves:
                self._overlay[state.call_sid] = (state, pending.at_ns, 0)
                self._overlay.move_to_end(state.call_sid)
            while len(self._overlay) > OVERLAY:
                self._overlay.popitem(last=False)
            if self.journal:
                pass  # on disk first, below; the thread moves it into the database
            elif not self._degraded():
                try:
                    self._queue.put_nowait(pending)
                except queue.Full:
                    log.warning("write queue full: spooling on the request")
                else:
                    self._queued += 1
                    return
        self._spool_or_hold(pending)
        if self.journal:
            self._wake.set()

    def state_of(self, call_sid: str) -> CallState | None:
        """The latest state handed in for a call that is not in the database yet."""
        with self._lock:
            found = self._overlay.get(call_sid)
        return None if found is None else found[0]

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed in so far is written or spooled."""
        deadline = time.monotonic() + timeout
        if self.journal:  # handed in means on disk; wait for a replay that began after now
            with self._lock:
                target = self._replays_started + 1
                self._wake.set()
                while self._replays_done < target and self._thread.is_alive():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._lock.wait(left)
            return True
        with self._lock:
            target = self._queued
            while self._done < target and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def flush(self, timeout: float = 10.0) -> None:
        """Drain, then replay the spool and what is held, if the database answers."""
        self.drain(timeout)
        self._replay()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after it has written everything; whatever it could not take
        in time is spooled here. Called when the server stops."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            self._spool_or_hold(pending)
        self._replay()
        if self._held:
            lost = sum(len(p.rows) + len(p.bookings) for p in self._held)
            log.critical(
                "STOPPING WITH %d EVENT(S) AND BOOKING(S) NEITHER IN THE DATABASE NOR ON "
                "DISK (%s): the database is unreachable and the spool cannot be written",
                lost,
                self.spool.spool_dir,
            )

    def held(self) -> int:
        """Batches that neither the database nor the disk would take, kept in memory."""
        return len(self._held)

    # --- inside ----------------------------------------------------------------------

    def _degraded(self) -> bool:
        busy = self._busy_since
        stuck = busy is not None and time.monotonic() - busy > self.stall
        return stuck or not self._thread.is_alive() or self.spool.database_down()

    def _spool_or_hold(self, pending: Pending) -> None:
        try:
            self.spool.spool(pending.saves, pending.rows, pending.bookings, pending.at_ns)
        except SpoolError as err:
            self._hold(pending, err)
        else:
            self._mark_spooled(pending)

    def _hold(self, pending: Pending, err: Exception) -> None:
        with self._lock:
            self._held.append(pending)
            count = len(self._held)
        log.error(
            "EVENTS NOT SAVED YET, held in memory (%d batch(es)): %s", count, err, exc_info=False
        )

    def _mark_spooled(self, pending: Pending) -> None:
        with self._lock:
            for state, _ in pending.saves:
                found = self._overlay.get(state.call_sid)
                if found is not None and found[1] == pending.at_ns:
                    self._overlay[state.call_sid] = (found[0], found[1], time.time_ns())

    def _forget(self, batch: Sequence[Pending]) -> None:
        """These reached the database: reads go there again."""
        with self._lock:
            for pending in batch:
                for state, _ in pending.saves:
                    found = self._overlay.get(state.call_sid)
                    if found is not None and found[1] == pending.at_ns:
                        del self._overlay[state.call_sid]

    def _run(self) -> None:
        last_replay = time.monotonic()
        while self.journal:
            woken = self._wake.wait(timeout=min(self.every, 0.5))
            self._wake.clear()
            if self._stop.is_set():
                return
            if woken or time.monotonic() - last_replay >= self.every:
                self._replay()
                last_replay = time.monotonic()
        while True:
            try:
                first = self._queue.get(timeout=min(self.every, 0.5))
            except queue.Empty:
                if self._stop.is_set():
                    return
                if time.monotonic() - last_replay >= self.every:
                    self._replay()
                    last_replay = time.monotonic()
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            with self._lock:
                self._done += len(batch)
                self._lock.notify_all()

    def _write(self, batch: list[Pending]) -> None:
        self._busy_since = time.monotonic()
        try:
            in_database = self.spool.try_database(
                [s for p in batch for s in p.saves],
                [r for p in batch for r in p.rows],
                [b for p in batch for b in p.bookings],
            )
        except Exception:  # the thread must outlive any surprise; the batch must not be lost
            log.exception("writing %d batch(es) failed; spooling them", len(batch))
            in_database = False
        try:
            if in_database:
                self._forget(batch)
            else:
                # One file per request, named for when it was handed in: a replay applies
                # them in that order, interleaved rightly with what requests spooled.
                for pending in batch:
                    self._spool_or_hold(pending)
        finally:
            self._busy_since = None

    def _replay(self) -> None:
        """Spooled files into the database, then what the disk refused; or, with nothing
        waiting, ask whether the database is back so that reads may use it again."""
        with self._replaying:
            with self._lock:
                self._replays_started += 1
            try:
                self._replay_once()
            finally:
                with self._lock:
                    self._replays_done += 1
                    self._lock.notify_all()

    def _replay_once(self) -> None:
        self._busy_since = time.monotonic()
        try:
            started = time.time_ns()
            if self._spool_files():
                self.spool.flush()
                self._forget_spooled(started)
            elif not self.spool.reachable:
                self.spool.probe()
            while self._held:
                pending = self._held[0]
                if not self.spool.write(
                    pending.saves, pending.rows, pending.bookings, pending.at_ns
                ):
                    self._mark_spooled(pending)
                with self._lock:
                    self._held.popleft()
                log.warning("a batch held in memory is saved now (%d left)", len(self._held))
        except SpoolError as err:
            log.error("EVENTS STILL HELD IN MEMORY (%d batch(es)): %s", len(self._held), err)
        except Exception as err:  # StoreUnavailable and surprises: try again next time
            log.debug("spool not replayed yet: %s", err)
        finally:
            self._busy_since = None

    def _spool_files(self) -> bool:
        return any(self.spool.spool_dir.glob("*.jsonl"))

    def _forget_spooled(self, before_ns: int) -> None:
        with self._lock:
            # Only files complete before the replay looked for them are surely replayed: a
            # state handed in earlier may have reached the disk while the replay ran.
            for call_sid, (_, _, spooled_ns) in list(self._overlay.items()):
                if spooled_ns and spooled_ns < before_ns:
                    del self._overlay[call_sid]
