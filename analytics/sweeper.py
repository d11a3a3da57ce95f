"""Closes calls whose end Twilio never reported, so the SQL views count them too, and
keeps the report rollups built.

Reports already treat such calls as over at read time (`analytics.reports.OPEN_TIMEOUT`);
this stamps it in the `call_summaries` table for analysts' tools that read the views.
Reports are exact without rollups (they read unbuilt days call by call), only slower.

Only days that are over are built. Today's calls change with every webhook, each marking
the day again a moment after it was built, so building it was wasted; and each build read
all of the day's calls, holding SQLite's write lock meanwhile, longer as the day went on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from analytics.errors import StoreError
from analytics.moments import epoch_ms
from analytics.reports import OPEN_TIMEOUT
from analytics.rollups import day_of
from analytics.store import Store
from analytics.watchdog import guarded

log = logging.getLogger("ivr.analytics")


class StaleCallSweeper:
    def __init__(
        self,
        store: Store,
        every: float = 300.0,
        timeout: timedelta = OPEN_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.every, self.timeout, self.clock = store, every, timeout, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ivr-sweeper", daemon=True)

    def sweep(self) -> int:
        """Close the stale calls now, then build the report rollups of the days before
        today that changed; returns how many calls were closed (0 when the database is
        away)."""
        now = self.clock()
        try:
            with guarded():  # a hung connection must not stop the sweeps for good
                closed = self.store.close_stale(epoch_ms(now - self.timeout))
                self.store.roll_up(ended_by_ms=day_of(epoch_ms(now)))
        except StoreError as err:
            log.warning("could not close stale calls or roll up the reports: %s", err)
            return 0
        return closed

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sweep()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
