"""An event is never lost: when the database is unreachable, events, call states and
callback bookings are kept as JSON lines in a spool folder on local disk, fsync'ed, and
replayed in order when it returns.

Each spooled write is one file, written to a temporary name, fsync'ed and renamed, so a
file is either whole or absent. Replay writes whole files, up to REPLAY_BATCH of them in
one transaction, and deletes them only after the commit; a crash in between replays them
again, and the (call_sid, seq) key drops the duplicates. Several processes may share one
spool folder.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.errors import StoreError, StoreUnavailable
from analytics.records import Booking, CallIdentity, EventRow, event_rows
from analytics.store import Store
from analytics.watchdog import guarded
from ivr import json_text
from ivr.actions import Event
from ivr.state import CallState

log = logging.getLogger(__name__)
REPLAY_BATCH = 200  # spool files replayed in one transaction


@dataclass(frozen=True)
class _SpoolFile:
    path: Path
    saves: list[tuple[CallState, int]]
    rows: list[EventRow]
    bookings: list[Booking]


class SpoolError(StoreError):
    """The database was unreachable and the local spool could not keep the events either."""


class SpoolingEventLog:
    """Writes to the store, or to `spool_dir` while the store fails. After a failure the
    database is left alone for `retry_after` seconds (writes go straight to disk), so a
    dead database costs each webhook a file write, not a connection timeout."""

    def __init__(self, store: Store, spool_dir: str | Path, *, retry_after: float = 5.0) -> None:
        self.store = store
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.retry_after = retry_after
        self._down_until = 0.0
        # False from a failure until the next success: readers on a caller's request skip
        # the database meanwhile instead of paying its connect timeout.
        self.reachable = True
        self._flushing = threading.Lock()
        self._numbers = itertools.count(1)

    def append(self, call: CallIdentity, events: Sequence[Event]) -> bool:
        """Append events of a call. True when they reached the database, False when they
        were spooled. Raises SpoolError only when neither worked (e.g. disk full)."""
        return self._write([], event_rows(call, events))

    def record(self, state: CallState, events: Sequence[Event], now_ms: int) -> bool:
        """Save the call's state and append its events; True when in the database, False
        when spooled."""
        return self._write([(state, now_ms)], event_rows(state, events))

    def write(
        self,
        saves: Sequence[tuple[CallState, int]],
        rows: Sequence[EventRow],
        bookings: Sequence[Booking] = (),
        at_ns: int | None = None,
    ) -> bool:
        """Everything at once, in one transaction or one spool file named for `at_ns`
        (when it was asked for, so replays keep that order). True when in the database."""
        return self._write(list(saves), list(rows), list(bookings), at_ns)

    def try_database(
        self,
        saves: Sequence[tuple[CallState, int]],
        rows: Sequence[EventRow],
        bookings: Sequence[Booking] = (),
    ) -> bool:
        """Write to the database only; False (nothing written) while it is down or when it
        fails, so the caller can spool each part under its own name."""
        if time.monotonic() < self._down_until:
            return False
        try:
            self.store.apply(saves, rows, bookings)
        except StoreError as err:
            self._down_until = time.monotonic() + self.retry_after
            self.reachable = False
            log.warning("database write failed, spooling to %s: %s", self.spool_dir, err)
            return False
        self.reachable = True
        return True

    def spool(
        self,
        saves: Sequence[tuple[CallState, int]],
        rows: Sequence[EventRow],
        bookings: Sequence[Booking] = (),
        at_ns: int | None = None,
    ) -> None:
        """Straight to disk, without trying the database. SpoolError if the disk fails."""
        self._spool(list(saves), list(rows), list(bookings), at_ns)

    def database_down(self) -> bool:
        """A write failed a moment ago: writes go straight to disk for now."""
        return time.monotonic() < self._down_until

    def mark_unreachable(self) -> None:
        self.reachable = False

    def probe(self) -> bool:
        """Ask the database whether it is back (for a background thread, never a caller)."""
        with guarded():
            self.reachable = self.store.ping()
        if self.reachable:
            self._down_until = 0.0
        return self.reachable

    def depth(self) -> int:
        """Event rows and callback bookings waiting in the spool."""
        total = 0
        for path in self._files():
            try:
                lines = _read_lines(path)
                total += sum(1 for line in lines if "event" in line or "callback" in line)
            except (OSError, ValueError):
                continue  # replayed and deleted meanwhile, or unreadable: not pending
        return total

    def flush(self) -> int:
        """Replay spooled files into the store, oldest first, up to REPLAY_BATCH files per
        transaction; returns the event rows replayed. Raises StoreUnavailable when the
        database is still down (what was replayed so far stays replayed). A file the
        database refuses for its content is renamed `*.rejected` and kept; the rest goes
        on."""
        replayed = 0
        reached = False
        with self._flushing:
            files = self._files()
            for start in range(0, len(files), REPLAY_BATCH):
                batch = self._read(files[start : start + REPLAY_BATCH])
                try:
                    replayed += self._apply(batch)
                    reached = reached or bool(batch)
                except StoreUnavailable:
                    raise
                except (StoreError, ValueError, KeyError, TypeError):
                    # One of them is refused for what it holds: one at a time, to find it.
                    for one in batch:
                        try:
                            replayed += self._apply([one])
                            reached = True
                        except StoreUnavailable:
                            raise
                        except (StoreError, ValueError, KeyError, TypeError) as err:
                            self._reject(one.path, err)
            if reached:
                self._down_until = 0.0  # the database is back: write to it directly again
                self.reachable = True
        return replayed

    def _read(self, paths: Sequence[Path]) -> list[_SpoolFile]:
        """The files still there, decoded; one that cannot be read is set aside."""
        found = []
        for path in paths:
            try:
                found.append(_SpoolFile(path, *_decode(_read_lines(path))))
            except FileNotFoundError:
                continue  # another process replayed it
            except (OSError, ValueError, KeyError, TypeError) as err:
                self._reject(path, err)
        return found

    def _apply(self, batch: Sequence[_SpoolFile]) -> int:
        """These files in one transaction, in order; each deleted once it is committed (a
        crash in between replays them again, and the keys drop the duplicates)."""
        if not batch:
            return 0
        try:
            with guarded():
                self.store.apply(
                    [s for f in batch for s in f.saves],
                    [r for f in batch for r in f.rows],
                    [b for f in batch for b in f.bookings],
                )
        except StoreUnavailable:
            self._down_until = time.monotonic() + self.retry_after
            self.reachable = False
            raise
        for spooled in batch:
            spooled.path.unlink(missing_ok=True)
        return sum(len(f.rows) for f in batch)

    def _reject(self, path: Path, err: Exception) -> None:
        log.error("spool file %s rejected, kept as *.rejected: %s", path, err)
        _rename(path, path.with_suffix(".rejected"))

    # --- inside ----------------------------------------------------------------------

    def _write(
        self,
        saves: list[tuple[CallState, int]],
        rows: list[EventRow],
        bookings: list[Booking] | None = None,
        at_ns: int | None = None,
    ) -> bool:
        bookings = bookings or []
        if time.monotonic() >= self._down_until:
            try:
                with guarded():
                    self.store.apply(saves, rows, bookings)
                self.reachable = True
                return True
            except StoreError as err:
                self._down_until = time.monotonic() + self.retry_after
                self.reachable = False
                log.warning("database write failed, spooling to %s: %s", self.spool_dir, err)
        self._spool(saves, rows, bookings, at_ns)
        return False

    def _spool(
        self,
        saves: list[tuple[CallState, int]],
        rows: list[EventRow],
        bookings: list[Booking] | None = None,
        at_ns: int | None = None,
    ) -> None:
        lines = [_save_json(state, now_ms) for state, now_ms in saves]
        lines += [{"event": row.to_json()} for row in rows]
        lines += [{"callback": booking.to_json()} for booking in bookings or []]
        body = "".join(_dumps(line) + "\n" for line in lines)
        stamp = time.time_ns() if at_ns is None else at_ns
        name = f"{stamp:020d}-{os.getpid()}-{next(self._numbers):06d}"
        temporary = self.spool_dir / f".{name}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.spool_dir / f"{name}.jsonl")
            _fsync_dir(self.spool_dir)
        except OSError as err:
            temporary.unlink(missing_ok=True)
            reason = "the disk is full" if err.errno == errno.ENOSPC else str(err)
            raise SpoolError(
                f"could not keep {len(rows)} event(s) and {len(bookings or [])} callback(s): "
                "the database is unreachable and "
                f"writing to the spool folder {self.spool_dir} failed: {reason}"
            ) from err

    def _files(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*.jsonl"))


class SpoolFlusher:
    """A background thread that flushes the spool every `every` seconds, for the server.
    Use as a context manager, or start() / stop()."""

    def __init__(self, spool: SpoolingEventLog, every: float = 5.0) -> None:
        self.spool = spool
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ivr-spool-flusher", daemon=True)

    def start(self) -> SpoolFlusher:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread after one last flush attempt."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> SpoolFlusher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._flush_once()
        self._flush_once()

    def _flush_once(self) -> None:
        try:
            replayed = self.spool.flush()
        except StoreUnavailable as err:
            log.debug("spool not flushed, database still unreachable: %s", err)
        except Exception:  # the thread must outlive any surprise
            log.exception("spool flush failed")
        else:
            if replayed:
                log.info("replayed %d spooled event(s) into the database", replayed)


def _dumps(value: Any) -> str:
    return json_text.dumps_text(value)


def _save_json(state: CallState, now_ms: int) -> dict[str, Any]:
    return {"call": state.to_json(), "now_ms": now_ms}


def _save_of(line: dict[str, Any]) -> tuple[CallState, int]:
    return CallState.from_json(line["call"]), int(line["now_ms"])


def encode_write(
    saves: Sequence[tuple[CallState, int]],
    rows: Sequence[EventRow],
    bookings: Sequence[Booking],
    at_ns: int,
) -> str:
    """One write as one line of JSON (a journal's line)."""
    return _dumps(
        {
            "at": at_ns,
            "calls": [_save_json(state, now_ms) for state, now_ms in saves],
            "events": [row.to_json() for row in rows],
            "callbacks": [booking.to_json() for booking in bookings],
        }
    )


def decode_write(
    line: str,
) -> tuple[list[tuple[CallState, int]], list[EventRow], list[Booking], int]:
    """What `encode_write` wrote; ValueError, KeyError or TypeError if it is not that."""
    data = json_text.loads(line)
    saves = [_save_of(x) for x in data["calls"]]
    rows = [EventRow.from_json(x) for x in data["events"]]
    bookings = [Booking.from_json(x) for x in data["callbacks"]]
    return saves, rows, bookings, int(data["at"])


def _read_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json_text.loads(line) for line in text.splitlines() if line.strip()]


def _decode(
    lines: list[dict[str, Any]],
) -> tuple[list[tuple[CallState, int]], list[EventRow], list[Booking]]:
    saves = [_save_of(x) for x in lines if "call" in x]
    rows = [EventRow.from_json(x["event"]) for x in lines if "event" in x]
    bookings = [Booking.from_json(x["callback"]) for x in lines if "callback" in x]
    return saves, rows, bookings


def _rename(source: Path, target: Path) -> None:
    try:
        source.replace(target)
    except OSError as err:
        log.error("could not set aside %s: %s", source, err)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for this)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
