"""A client-side bound on PostgreSQL connections that hang.

libpq waits for the server's answer without any timeout of its own. TCP keepalives and
`tcp_user_timeout` end a connection whose peer stopped acknowledging, but not one whose
packets are acknowledged and then dropped (a stuck proxy or load balancer in between):
there, a query waits for ever, and the background writer with it, so nothing spooled is
replayed again. This watchdog shuts down the socket of a connection that has been checked
out of the pool (or pinged) for longer than `bound` seconds; the waiting query then fails
like any lost connection, the pool lets the connection go, and the writer keeps the data
on disk and retries.

Only work done inside `guarded()` is watched: the writes of the journal and spool, whose
transactions take milliseconds, and the sweeper's. A migration, a bulk load or an
analyst's long query may rightly take longer than the bound and is left alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("ivr.analytics")
_GUARDED: contextvars.ContextVar[bool] = contextvars.ContextVar("ivr_db_guarded", default=False)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Connections checked out (or pinged) in here, in this thread, are watched."""
    token = _GUARDED.set(True)
    try:
        yield
    finally:
        _GUARDED.reset(token)


def is_guarded() -> bool:
    return _GUARDED.get()


class Watchdog:
    def __init__(self, bound: float, every: float = 1.0) -> None:
        self.bound = bound
        self.every = every
        self._lock = threading.Lock()
        # id(connection) -> (since, connection, its fd then)
        self._busy: dict[int, tuple[float, Any, int]] = {}
        self._thread: threading.Thread | None = None

    def start(self, dbapi_connection: Any) -> None:
        """The connection is in use from now on."""
        try:
            fd = int(dbapi_connection.fileno())
        except Exception:  # closed or broken already: nothing to watch
            return
        with self._lock:
            self._busy[id(dbapi_connection)] = (time.monotonic(), dbapi_connection, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ivr-db-watchdog", daemon=True
                )
                self._thread.start()

    def stop(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._busy.pop(id(dbapi_connection), None)

    @contextlib.contextmanager
    def watching(self, dbapi_connection: Any) -> Iterator[None]:
        self.start(dbapi_connection)
        try:
            yield
        finally:
            self.stop(dbapi_connection)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            now = time.monotonic()
            with self._lock:
                if not self._busy:  # nothing to watch: the next start() starts a thread again
                    self._thread = None
                    return
                overdue = [
                    (key, connection, fd)
                    for key, (since, connection, fd) in self._busy.items()
                    if now - since > self.bound
                ]
                for key, _, _ in overdue:
                    del self._busy[key]
            for _, connection, fd in overdue:
                if _still_has(connection, fd):  # never someone else's socket, reusing the fd
                    log.warning(
                        "a database connection answered nothing for %.0f s: giving it up",
                        self.bound,
                    )
                    _shut_down(fd)


def _still_has(connection: Any, fd: int) -> bool:
    try:
        return not connection.closed and int(connection.fileno()) == fd
    except Exception:
        return False


def _shut_down(fd: int) -> None:
    """Wake whoever waits on this socket with an error; the owner still closes the fd."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the fd stays libpq's
