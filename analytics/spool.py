"""An event is never lost: when the database is unreachable, events (and call states) are
kept as JSON lines in a spool folder on local disk, fsync'ed, and replayed when it returns.

Each spooled write is one file, written to a temporary name, fsync'ed and renamed, so a
file is either whole or absent. Replay writes a whole file in one transaction and deletes
the file only after the commit; a crash in between replays it again, and the (call_sid,
seq) key drops the duplicates. Several processes may share one spool folder.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analytics.errors import StoreError, StoreUnavailable
from analytics.records import CallIdentity, EventRow, event_rows
from analytics.store import Store
from ivr.actions import Event
from ivr.state import CallState

log = logging.getLogger(__name__)


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

    def depth(self) -> int:
        """Event rows waiting in the spool."""
        total = 0
        for path in self._files():
            try:
                total += sum(1 for line in _read_lines(path) if "event" in line)
            except (OSError, ValueError):
                continue  # replayed and deleted meanwhile, or unreadable: not pending
        return total

    def flush(self) -> int:
        """Replay spooled files into the store, oldest first; returns the event rows
        replayed. Raises StoreUnavailable when the database is still down (what was
        replayed so far stays replayed). A file the database refuses for its content is
        renamed `*.rejected` and kept; the rest goes on."""
        replayed = 0
        reached = False
        with self._flushing:
            for path in self._files():
                try:
                    lines = _read_lines(path)
                    saves, rows = _decode(lines)
                    self.store.apply(saves, rows)
                except FileNotFoundError:
                    continue  # another process replayed it
                except StoreUnavailable:
                    self._down_until = time.monotonic() + self.retry_after
                    raise
                except (StoreError, ValueError, KeyError, TypeError) as err:
                    log.error("spool file %s rejected, kept as *.rejected: %s", path, err)
                    _rename(path, path.with_suffix(".rejected"))
                    continue
                reached = True
                path.unlink(missing_ok=True)
                replayed += len(rows)
            if reached:
                self._down_until = 0.0  # the database is back: write to it directly again
        return replayed

    # --- inside ----------------------------------------------------------------------

    def _write(self, saves: list[tuple[CallState, int]], rows: list[EventRow]) -> bool:
        if time.monotonic() >= self._down_until:
            try:
                self.store.apply(saves, rows)
                return True
            except StoreError as err:
                self._down_until = time.monotonic() + self.retry_after
                log.warning("database write failed, spooling to %s: %s", self.spool_dir, err)
        self._spool(saves, rows)
        return False

    def _spool(self, saves: list[tuple[CallState, int]], rows: list[EventRow]) -> None:
        lines = [{"call": state.to_json(), "now_ms": now_ms} for state, now_ms in saves]
        lines += [{"event": row.to_json()} for row in rows]
        body = "".join(_dumps(line) + "\n" for line in lines)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._numbers):06d}"
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
                f"could not keep {len(rows)} event(s): the database is unreachable and "
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
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _decode(
    lines: list[dict[str, Any]],
) -> tuple[list[tuple[CallState, int]], list[EventRow]]:
    saves = [(CallState.from_json(x["call"]), int(x["now_ms"])) for x in lines if "call" in x]
    rows = [EventRow.from_json(x["event"]) for x in lines if "event" in x]
    return saves, rows


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
