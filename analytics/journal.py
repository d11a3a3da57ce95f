"""A process's journal: the writes it has answered for, on local disk before the answer.

One append-only file (a segment) at a time, in the spool folder. Requests append a line
each and wait for it to be fsync'ed; whoever comes first writes and fsyncs everything
appended so far (a group commit), so at a few hundred requests a second most requests
wait on someone else's fsync instead of paying their own, and nothing is written twice.
A request answered on the event loop adds its line without waiting (`add`) and awaits
`synced` before it answers: a thread of the journal's own does that fsync then, and wakes
the loop once for everyone whose lines it covered.

The writer thread moves the writes into the database from memory and tells the journal
which are `done`; a segment is deleted once every write in it is done (the current one
too, once the server is idle). A segment outlives its process only when the process
died (`kill -9`, a crash, a power cut): its owner holds an exclusive `flock` on it while
alive, so any process sharing the folder, or the same one restarted, sees the lock gone
and takes the segment's lines over (`orphans`).

POSIX only (`fcntl.flock`, `os.fdatasync` where the system has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

log = logging.getLogger("ivr.analytics")
SUFFIX = ".journal"
SEGMENT_BYTES = 4 * 1024 * 1024  # a segment is closed past this size and a new one begun
_sync = getattr(os, "fdatasync", os.fsync)  # the data, not the file's times


@dataclass
class _Segment:
    number: int
    path: Path
    file: BinaryIO
    size: int = 0
    appended: int = 0  # lines counted in this segment (written or about to be)
    done: int = 0  # of those, applied elsewhere: the database or a spool file
    unsynced: int = 0  # of those, not written and fsync'ed yet: the file must stay


@dataclass(frozen=True)
class Ticket:
    """Where one write went: handed back to `done` once it is applied."""

    segment: int


@dataclass
class Orphan:
    """A dead process's segment, locked by us now: read its lines, keep them elsewhere,
    then `remove` it (or `release` it to leave it for later)."""

    path: Path
    file: IO[bytes] = field(repr=False)

    def lines(self) -> tuple[list[str], int]:
        """Its complete lines, and how many bytes at the end were cut off mid-write (a
        write that never finished its fsync, so never answered for)."""
        self.file.seek(0)
        data = self.file.read()
        whole, _, torn = data.rpartition(b"\n")
        text = whole.decode("utf-8", errors="replace")
        return [line for line in text.split("\n") if line.strip()], len(torn)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.file.close()

    def release(self) -> None:
        self.file.close()


@dataclass
class _Batch:
    """Lines appended while one group commit was not yet under way; all one segment's."""

    segment: _Segment
    lines: list[bytes] = field(default_factory=list)
    finished: bool = False
    error: OSError | None = None
    # Event loops awaiting `synced` for these lines, woken once the commit is over.
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class Added:
    """A line handed to the journal, on disk once `Journal.wait` returns for it or
    `Journal.synced` has; its `ticket` goes to `done` once the write is applied."""

    ticket: Ticket
    batch: _Batch


class Journal:
    def __init__(self, folder: str | Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()  # the open batch, the counters and the segments
        self._syncing = threading.Lock()  # one group commit at a time, in batch order
        self._batch: _Batch | None = None
        self._current: _Segment | None = None
        self._segments: dict[int, _Segment] = {}
        self._numbers = itertools.count(1)
        self._wanted = threading.Event()  # someone awaits `synced`: commit the open batch
        self._committer: threading.Thread | None = None  # started by the first `synced`
        self._closed = False

    def append(self, line: str) -> Ticket:
        """Append one line (no newline in it) and return once it is on disk. OSError when
        the disk refuses it; the line is then not in the journal."""
        return self.wait(self.add(line))

    def add(self, line: str) -> Added:
        """Add one line (no newline in it) to the next group commit, without waiting for
        it: then `wait` for it, or await `synced`. OSError when no segment can be begun."""
        data = line.encode("utf-8") + b"\n"
        with self._lock:
            segment = self._current or self._open()
            batch = self._batch
            if batch is None:
                batch = self._batch = _Batch(segment)
            batch.lines.append(data)
            segment.appended += 1
            segment.unsynced += 1
        return Added(Ticket(segment.number), batch)

    def wait(self, added: Added) -> Ticket:
        """Return once the line is on disk. OSError when the disk refused it: the line is
        then not in the journal, and nothing is to be `done` for it."""
        batch = added.batch
        with self._syncing:
            if not batch.finished:
                self._commit()  # the open batch is ours: earlier ones are finished
        if batch.error is not None:
            with self._lock:
                segment = batch.segment
                segment.done += 1  # not surely in the file: nothing to wait for
                self._delete_applied()
            raise batch.error
        return added.ticket

    async def synced(self, added: Sequence[Added]) -> OSError | None:
        """Return once these lines are on disk, without holding up the event loop: the
        error of a commit that failed, if any (their tickets still go to `done`)."""
        if not added:
            return None
        last = added[-1].batch  # batches are committed one after the other, in order
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            waiting = not last.finished
            if waiting:
                last.waiters.append((loop, future))
                self._start_committer()
        if waiting:
            self._wanted.set()
            await future
        return next((a.batch.error for a in added if a.batch.error is not None), None)

    def done(self, tickets: list[Ticket]) -> None:
        """These writes are applied elsewhere: a segment with nothing left goes."""
        with self._lock:
            for ticket in tickets:
                segment = self._segments.get(ticket.segment)
                if segment is not None:
                    segment.done += 1
            self._delete_applied()

    def pending(self) -> int:
        """Writes in the journal not yet applied elsewhere."""
        with self._lock:
            return sum(s.appended - s.done for s in self._segments.values())

    def owns(self, path: Path) -> bool:
        with self._lock:
            return any(s.path == path for s in self._segments.values())

    def orphans(self) -> Iterator[Orphan]:
        """Segments in the folder whose owner is gone, each locked for the taker."""
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            if self.owns(path):
                continue
            try:
                file = open(path, "rb")  # noqa: SIM115 (handed over, closed by the Orphan)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                file.close()  # its owner is alive
                continue
            if not path.exists():  # deleted by its owner as we opened it
                file.close()
                continue
            yield Orphan(path, file)

    def close(self) -> None:
        """Let go of every segment: the empty ones are deleted, any other stays for the
        next process (writes not applied by now are not lost)."""
        with self._lock:
            self._closed = True
            committer = self._committer
        self._wanted.set()
        if committer is not None:
            committer.join()
        with self._syncing:
            self._commit()
        with self._lock:
            for segment in list(self._segments.values()):
                if segment.done >= segment.appended:
                    self._delete(segment)
                else:
                    segment.file.close()
            self._segments.clear()
            self._current = None

    # --- inside --------------------------------------------------------------------

    def _open(self) -> _Segment:
        number = next(self._numbers)
        path = self.folder / f"{time.time_ns():020d}-{os.getpid()}-{number:06d}{SUFFIX}"
        file = open(path, "ab", buffering=0)  # noqa: SIM115 (open while the segment lives)
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        _sync_folder(self.folder)  # the file itself must survive a power cut
        segment = _Segment(number, path, file)
        self._segments[number] = segment
        self._current = segment
        return segment

    def _commit(self) -> None:
        """Write and fsync the open batch (the caller holds `_syncing`)."""
        with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            segment = batch.segment
            data = b"".join(batch.lines)
            segment.size += len(data)
            if segment.size >= self.segment_bytes and self._current is segment:
                self._current = None  # appends from now on begin the next one
        try:
            view = memoryview(data)
            while view:
                view = view[segment.file.write(view) or 0 :]
            _sync(segment.file.fileno())
        except OSError as err:
            log.error("journal %s could not be written: %s", segment.path, err)
            batch.error = err
            # Part of it may be in the file: begin a new segment and leave this one to be
            # deleted once its earlier writes are applied (or replayed: keys drop repeats).
            with self._lock:
                if self._current is segment:
                    self._current = None
        finally:
            with self._lock:
                batch.finished = True
                segment.unsynced -= len(batch.lines)
                waiters, batch.waiters = batch.waiters, []
                self._delete_applied()  # applied before they were on disk, maybe
            _wake(waiters)

    def _delete_applied(self) -> None:
        """Every segment whose writes are all applied elsewhere and on disk (the caller
        holds `_lock`): a write may be applied before its commit, never deleted under it."""
        for segment in [s for s in self._segments.values() if s.done >= s.appended]:
            if segment.unsynced == 0:
                self._delete(segment)

    def _start_committer(self) -> None:
        """The thread that commits for `synced` (the caller holds `_lock`)."""
        if self._committer is None and not self._closed:
            self._committer = threading.Thread(
                target=self._commit_for_loops, name="ivr-journal", daemon=True
            )
            self._committer.start()

    def _commit_for_loops(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                with self._syncing:
                    self._commit()
            except Exception:  # its waiters were woken; the next ones need the thread alive
                log.exception("journal commit failed")
            with self._lock:
                if self._closed:
                    return

    def _delete(self, segment: _Segment) -> None:
        # Unlinked before its lock goes with the file, so no one else takes it over.
        try:
            segment.path.unlink(missing_ok=True)
        except OSError as err:
            log.warning("journal %s could not be deleted: %s", segment.path, err)
        segment.file.close()
        del self._segments[segment.number]
        if self._current is segment:
            self._current = None


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    """Each event loop once, for all of its waiters."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for loop, future in waiters:
        by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these now
            loop.call_soon_threadsafe(_settle, futures)


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # cancelled: the request went away meanwhile
            future.set_result(None)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
