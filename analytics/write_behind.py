"""Writes behind the answer: a webhook journals its events, call state and callback
bookings on local disk, hands them to a background thread and answers Twilio; the thread
writes them to the database in batches, or, while it is down, to the spool.

Every write is first a line in this process's journal (`analytics.journal`), fsync'ed
before the answer: a worker killed with `kill -9` loses nothing it has answered for, and
the next process using the folder takes its journal over. The requests of one moment
share one fsync (a group commit), and the thread works from memory: it gathers what
arrives over `gather` seconds into one transaction, then tells the journal those lines
are done. A batch the database refuses becomes one spool file, replayed when it returns.

A request answered on the event loop writes `deferred`: its writes are handed over at
once and their journal lines added to the next group commit, and it awaits `synced` for
them before it answers (nothing holds up the loop meanwhile).

Nothing is dropped. When the queue is full (the database hangs and the thread with it)
the request spools its write itself. If the disk refuses the journal, the write still
goes to the thread (logged loudly); if the spool refuses it too, the batch is held in
memory, retried, and logged loudly. Until a write is in the database, `state_of` hands
back the latest state handed in (read-your-writes), and `drain` waits for everything
handed in so far.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from analytics.journal import Added, Journal, Ticket
from analytics.records import Booking, EventRow
from analytics.spool import SpoolError, SpoolingEventLog, decode_write, encode_write
from ivr.state import CallState

log = logging.getLogger("ivr.analytics")

CAPACITY = 10_000  # writes waiting in memory before requests spool them themselves
BATCH = 500  # writes in one transaction
GATHER = 0.05  # seconds the thread gathers writes before a transaction (one, not dozens)
OVERLAY = 50_000  # calls whose unwritten state is kept for reads
ORPHAN_FILE = 500  # writes of a dead process's journal per spool file it becomes


@dataclass(frozen=True)
class Pending:
    saves: tuple[tuple[CallState, int], ...] = ()
    rows: tuple[EventRow, ...] = ()
    bookings: tuple[Booking, ...] = ()
    at_ns: int = field(default_factory=time.time_ns)  # names its spool file: replay order


_Item = tuple[Pending, Ticket | None]  # a write and its line in the journal, if it has one
_STOP = (Pending(), None)  # put in the queue by close(): the thread need not time out
# Inside `deferred()`: the journal lines of this request's writes, not yet waited for.
_deferred: contextvars.ContextVar[list[Added] | None] = contextvars.ContextVar(
    "ivr_deferred_writes", default=None
)


class WriteBehind:
    def __init__(
        self,
        spool: SpoolingEventLog,
        *,
        every: float = 2.0,
        capacity: int = CAPACITY,
        gather: float = GATHER,
    ) -> None:
        self.spool = spool
        self.journal = Journal(spool.spool_dir)
        self.every = every  # seconds between replays of the spool
        self.gather = gather
        self._queue: queue.Queue[_Item] = queue.Queue(capacity)
        self._hurry = threading.Event()  # someone waits for the writes: no gathering
        self._lock = threading.Condition()
        self._queued = 0  # writes put in the queue so far
        self._done = 0  # of those, written or spooled
        self._held: collections.deque[_Item] = collections.deque()
        self._replaying = threading.Lock()
        # call_sid -> (latest unwritten state, when it was handed in, when its spool file
        # was complete on disk, or 0 while it is not)
        self._overlay: collections.OrderedDict[str, tuple[CallState, int, int]] = (
            collections.OrderedDict()
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ivr-write-behind", daemon=True)

    def start(self) -> WriteBehind:
        self._recover()  # what an earlier run on this folder left in its journal
        self._thread.start()
        return self

    # --- the request's side --------------------------------------------------------

    def submit(self, pending: Pending, *, wait: float = 0.0) -> None:
        """Journal a write and hand it over; returns once it is on disk, or with `wait`,
        once it is in the database (or spooled), waiting that many seconds at most: for
        what another process may read at once (a callback booked just before Twilio
        asks another server whether there is one)."""
        with self._lock:
            for state, _ in pending.saves:
                self._overlay[state.call_sid] = (state, pending.at_ns, 0)
                self._overlay.move_to_end(state.call_sid)
            while len(self._overlay) > OVERLAY:
                self._overlay.popitem(last=False)
        ticket: Ticket | None = None
        line = encode_write(pending.saves, pending.rows, pending.bookings, pending.at_ns)
        deferred = _deferred.get() if wait <= 0 else None
        try:
            if deferred is None:
                ticket = self.journal.append(line)
            else:
                added = self.journal.add(line)
                ticket = added.ticket
                deferred.append(added)
        except OSError as err:
            log.error("JOURNAL NOT WRITTEN, the write is in memory only until saved: %s", err)
        with self._lock:
            try:
                self._queue.put_nowait((pending, ticket))
            except queue.Full:
                full = True
            else:
                self._queued += 1
                full = False
                mine = self._queued
        if full:
            log.warning("write queue full: spooling on the request")
            self._spool_or_hold([(pending, ticket)])
        elif wait > 0:
            self._wait_for(mine, wait)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[list[Added]]:
        """Writes submitted in this block (this thread or task) return without waiting for
        the disk; await `synced` with what it gives before answering for them."""
        added: list[Added] = []
        token = _deferred.set(added)
        try:
            yield added
        finally:
            _deferred.reset(token)

    async def synced(self, added: Sequence[Added]) -> None:
        """Once these writes' journal lines are on disk (or the disk refused them: said
        loudly, the writes are in memory until saved, as with any other)."""
        error = await self.journal.synced(added)
        if error is not None:
            log.error("JOURNAL NOT WRITTEN, the write is in memory only until saved: %s", error)

    def state_of(self, call_sid: str) -> CallState | None:
        """The latest state handed in for a call that is not in the database yet."""
        with self._lock:
            found = self._overlay.get(call_sid)
        return None if found is None else found[0]

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed in so far is written or spooled."""
        with self._lock:
            target = self._queued
        return self._wait_for(target, timeout)

    def _wait_for(self, target: int, timeout: float) -> bool:
        """Until the first `target` writes handed in are written or spooled."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._done < target and self._thread.is_alive():
                self._hurry.set()
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
        in time is written or spooled here. Called when the server stops."""
        self._stop.set()
        self._hurry.set()
        with contextlib.suppress(queue.Full):  # busy then: it sees the stop after its batch
            self._queue.put_nowait(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)
        rest: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
        if rest:
            self._write(rest)
        self._replay()
        self.journal.close()
        if self._held:
            lost = sum(len(p.rows) + len(p.bookings) for p, _ in self._held)
            log.critical(
                "STOPPING WITH %d EVENT(S) AND BOOKING(S) NEITHER IN THE DATABASE NOR IN "
                "THE SPOOL (%s): the database is unreachable and the spool cannot be "
                "written; those in the journal are replayed by the next process",
                lost,
                self.spool.spool_dir,
            )

    def held(self) -> int:
        """Writes that neither the database nor the spool would take, kept in memory."""
        return len(self._held)

    # --- inside ----------------------------------------------------------------------

    def _run(self) -> None:
        last_replay = float("-inf")  # at once: what start() took over from a journal
        while True:
            try:
                first = self._queue.get(timeout=min(self.every, 0.5))
            except queue.Empty:
                first = _STOP
            if first is _STOP:
                if self._stop.is_set():
                    return
                if time.monotonic() - last_replay >= self.every:
                    self._replay()
                    last_replay = time.monotonic()
                continue
            if not self._stop.is_set():
                self._hurry.wait(self.gather)  # more come meanwhile: one transaction
            self._hurry.clear()
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    batch.append(item)
            self._write(batch)
            with self._lock:
                self._done += len(batch)
                self._lock.notify_all()
            if self._stop.is_set():
                return  # close() writes what is left
            if time.monotonic() - last_replay >= self.every:  # under load too
                self._replay()
                last_replay = time.monotonic()

    def _write(self, batch: list[_Item]) -> None:
        pendings = [p for p, _ in batch]
        try:
            in_database = self.spool.try_database(
                [s for p in pendings for s in p.saves],
                [r for p in pendings for r in p.rows],
                [b for p in pendings for b in p.bookings],
            )
        except Exception:  # the thread must outlive any surprise; the batch must not be lost
            log.exception("writing %d write(s) failed; spooling them", len(batch))
            in_database = False
        if in_database:
            self._forget(pendings)
            self._journal_done(batch)
        else:
            self._spool_or_hold(batch)

    def _spool_or_hold(self, batch: list[_Item]) -> None:
        """One spool file for them all, named for the first (replays keep that order)."""
        pendings = [p for p, _ in batch]
        try:
            self.spool.spool(
                [s for p in pendings for s in p.saves],
                [r for p in pendings for r in p.rows],
                [b for p in pendings for b in p.bookings],
                pendings[0].at_ns,
            )
        except SpoolError as err:
            with self._lock:
                self._held.extend(batch)
                count = len(self._held)
            log.error("EVENTS NOT SAVED YET, held in memory (%d write(s)): %s", count, err)
        else:
            self._mark_spooled(pendings)
            self._journal_done(batch)

    def _journal_done(self, batch: Sequence[_Item]) -> None:
        self.journal.done([ticket for _, ticket in batch if ticket is not None])

    def _mark_spooled(self, pendings: Sequence[Pending]) -> None:
        now = time.time_ns()
        with self._lock:
            for pending in pendings:
                for state, _ in pending.saves:
                    found = self._overlay.get(state.call_sid)
                    if found is not None and found[1] == pending.at_ns:
                        self._overlay[state.call_sid] = (found[0], found[1], now)

    def _forget(self, pendings: Sequence[Pending]) -> None:
        """These reached the database: reads go there again."""
        with self._lock:
            for pending in pendings:
                for state, _ in pending.saves:
                    found = self._overlay.get(state.call_sid)
                    if found is not None and found[1] == pending.at_ns:
                        del self._overlay[state.call_sid]

    def _replay(self) -> None:
        """A dead process's journal into the spool, spooled files into the database, then
        what the disk refused; with nothing waiting, ask whether the database is back so
        that reads may use it again."""
        with self._replaying:
            try:
                self._recover()
                started = time.time_ns()
                if self._spool_files():
                    self.spool.flush()
                    self._forget_spooled(started)
                elif not self.spool.reachable:
                    self.spool.probe()
                while self._held:
                    item = self._held[0]
                    pending, _ = item
                    if not self.spool.write(
                        pending.saves, pending.rows, pending.bookings, pending.at_ns
                    ):
                        self._mark_spooled([pending])
                    with self._lock:
                        self._held.popleft()
                    self._journal_done([item])
                    log.warning("a write held in memory is saved now (%d left)", len(self._held))
            except SpoolError as err:
                log.error("EVENTS STILL HELD IN MEMORY (%d write(s)): %s", len(self._held), err)
            except Exception as err:  # StoreUnavailable and surprises: try again next time
                log.debug("spool not replayed yet: %s", err)

    def _recover(self) -> None:
        """Each segment of a journal whose process is gone becomes spool files (a few
        fsyncs), replayed like any other; then it is deleted."""
        for orphan in self.journal.orphans():
            lines, torn = orphan.lines()
            writes, refused = [], []
            for line in lines:
                try:
                    writes.append(decode_write(line))
                except (ValueError, KeyError, TypeError):
                    refused.append(line)
            try:
                for start in range(0, len(writes), ORPHAN_FILE):
                    chunk = writes[start : start + ORPHAN_FILE]
                    self.spool.spool(
                        [s for w in chunk for s in w[0]],
                        [r for w in chunk for r in w[1]],
                        [b for w in chunk for b in w[2]],
                        chunk[0][3],
                    )
                if refused:
                    rejected = orphan.path.with_suffix(".rejected")
                    rejected.write_text("".join(f"{line}\n" for line in refused), "utf-8")
                    log.error(
                        "%d unreadable line(s) of %s kept in %s",
                        len(refused),
                        orphan.path.name,
                        rejected,
                    )
            except (SpoolError, OSError) as err:
                log.error("journal %s not taken over yet: %s", orphan.path, err)
                orphan.release()
                continue
            orphan.remove()
            cut = f" (a last write of {torn} bytes cut off mid-write dropped)" if torn else ""
            log.warning(
                "took over %d write(s) from %s, left by a process that stopped%s",
                len(writes),
                orphan.path.name,
                cut,
            )

    def _spool_files(self) -> bool:
        return any(self.spool.spool_dir.glob("*.jsonl"))

    def _forget_spooled(self, before_ns: int) -> None:
        with self._lock:
            # Only files complete before the replay looked for them are surely replayed: a
            # state handed in earlier may have reached the disk while the replay ran.
            for call_sid, (_, _, spooled_ns) in list(self._overlay.items()):
                if spooled_ns and spooled_ns < before_ns:
                    del self._overlay[call_sid]
