"""The engine's CallLog port, kept in the database: states and events go through the spool
(never lost, even while the database is away), callbacks into the callback line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from analytics.errors import StoreError
from analytics.moments import epoch_ms, from_epoch_ms
from analytics.records import Callback
from analytics.spool import SpoolFlusher, SpoolingEventLog
from analytics.store import Store
from ivr.actions import Event
from ivr.ports import CallbackRequest, CallbackStatus, ClaimedCallback, WaitingCaller
from ivr.state import CallState

log = logging.getLogger("ivr.analytics")

# A live caller is not kept waiting longer than this (max_wait is usually minutes); older
# queue entries whose end was never reported are not offered to agents.
WAITING_HORIZON = timedelta(hours=4)


class StoreCallLog:
    def __init__(self, store: Store, spool: SpoolingEventLog) -> None:
        self.store = store
        self.spool = spool

    @classmethod
    def open(cls, url: str, spool_dir: str | Path = ".ivr-spool") -> StoreCallLog:
        """Connect, apply the migrations, and replay whatever an earlier run spooled."""
        store = Store(url)
        store.upgrade()
        spool = SpoolingEventLog(store, spool_dir)
        if spool.depth():
            spool.flush()
        return cls(store, spool)

    def flusher(self, every: float = 5.0) -> SpoolFlusher:
        return SpoolFlusher(self.spool, every)

    def record(self, state: CallState, events: Sequence[Event]) -> None:
        self.spool.record(
            state, events, epoch_ms(state.started_at) if not events else epoch_ms(events[-1].at)
        )

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        self.spool.append(state, events)

    def load(self, call_sid: str) -> CallState | None:
        try:
            return self.store.load_call(call_sid)
        except StoreError:
            log.warning("database unreachable: no saved state for %s", call_sid)
            return None

    def request_callback(self, request: CallbackRequest) -> None:
        self.store.add_callback(
            request.call_sid,
            request.queue,
            request.number,
            epoch_ms(request.place_at),
            epoch_ms(request.not_before) if request.not_before else None,
            epoch_ms(request.requested_at),
        )

    def waiting_callers(self, queues: Sequence[str], now: datetime) -> list[WaitingCaller]:
        since = epoch_ms(now - WAITING_HORIZON)
        return [
            WaitingCaller(sid, queue, from_epoch_ms(at))
            for sid, queue, at in self.store.waiting_callers(queues, since)
        ]

    def ready(self) -> bool:
        return self.store.ping()

    def outcome(self, call_sid: str) -> str | None:
        try:
            return self.store.outcome_of(call_sid)
        except StoreError:
            return None

    def events_of(self, call_sid: str) -> list[Event]:
        return [row.to_event() for row in self.store.events_for(call_sid)]

    def callbacks_for(self, call_sid: str) -> list[CallbackStatus]:
        return [
            CallbackStatus(c.id, _request(c), c.status) for c in self.store.callbacks_for(call_sid)
        ]

    def claim_callback(
        self, queues: Sequence[str], agent_id: str, now: datetime
    ) -> ClaimedCallback | None:
        claimed = self.store.claim_next_callback(queues, agent_id, epoch_ms(now))
        if claimed is None:
            return None
        return ClaimedCallback(claimed.id, _request(claimed))

    def finish_callback(self, callback_id: int, status: str, now: datetime) -> None:
        self.store.finish_callback(callback_id, status, epoch_ms(now))


def _request(row: Callback) -> CallbackRequest:
    return CallbackRequest(
        call_sid=row.call_sid,
        queue=row.queue,
        number=row.number,
        place_at=from_epoch_ms(row.place_at_ms),
        not_before=from_epoch_ms(row.not_before_ms) if row.not_before_ms is not None else None,
        requested_at=from_epoch_ms(row.requested_at_ms),
    )
