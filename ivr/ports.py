"""The side effects the engine's callers need, as protocols: the webhook layer depends on
these, the CLI plugs the database in, tests plug in a recorder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

from ivr.actions import Event, RequestCallback, Step
from ivr.outcomes import summarize
from ivr.state import CallState


class CallLog(Protocol):
    def record(self, state: CallState, events: Sequence[Event]) -> None:
        """Keep the call's latest state and append its new events (duplicates ignored)."""

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        """Append events from a side channel (queue wait, status) without touching the
        call's saved state; `state` only names the call and its flow version."""

    def load(self, call_sid: str) -> CallState | None:
        """The latest state of a call, if known."""

    async def aload(self, call_sid: str) -> CallState | None:
        """`load` without holding up an event loop while it reads."""

    def request_callback(self, request: CallbackRequest, *, read_next: bool = False) -> None:
        """Put a callback in line. `read_next`: the call's next webhook asks whether it
        booked one, maybe on another server, so it must be there for every server before
        this returns; otherwise it may be written behind the answer like events."""

    def waiting_callers(self, queues: Sequence[str], now: datetime) -> list[WaitingCaller]:
        """Live callers now waiting in these queues, longest-waiting first."""

    def claim_callback(
        self, queues: Sequence[str], agent_id: str, now: datetime
    ) -> ClaimedCallback | None:
        """The oldest pending callback of these queues that may be placed now, claimed for
        this agent; no two agents ever get the same one."""

    def finish_callback(
        self, callback_id: int, status: str, now: datetime, retry_at: datetime | None = None
    ) -> None:
        """completed | failed | pending: back in line at the same place, handed back
        undialed, or (with `retry_at`) not answered, to be tried again from then."""

    def events_of(self, call_sid: str) -> list[Event]:
        """A call's events in order."""

    def ready(self) -> bool:
        """Can calls be kept right now?"""

    def callbacks_for(self, call_sid: str) -> list[CallbackStatus]:
        """The callbacks a call asked for, with where each stands."""

    def flush(self) -> None:
        """Write what is still pending (the server calls this when it stops)."""

    def deferred(self) -> AbstractContextManager[Callable[[], Awaitable[None]]]:
        """Writes in the block return at once instead of waiting until they are kept for
        good; the function it gives waits for that without holding up an event loop.
        Whatever answers for the writes awaits it first: a request answered on the loop."""

    def queue_history(self, queue: str, now: datetime) -> QueueHistory:
        """The queue's recent answers and the callbacks waiting in its line, for the wait
        estimate (may be a few seconds old; empty when the database cannot say)."""

    def outcome(self, call_sid: str) -> str | None:
        """The call's outcome (SPEC §5) as its events stand so far; None if unknown."""


@dataclass(frozen=True)
class QueueHistory:
    answers: tuple[tuple[datetime, float], ...] = ()  # (a person answered at, after waiting s)
    callbacks: tuple[datetime, ...] = ()  # the place in line of each pending callback


@runtime_checkable
class CallStats(Protocol):
    """Counts for the operations metrics, read from where calls are kept."""

    def outcome_counts(self) -> dict[str, int]:
        """Calls kept, by outcome ('' for calls without one yet)."""

    def callbacks_pending(self) -> dict[str, int]:
        """Callbacks waiting for an agent, by queue."""

    def spool_depth(self) -> int:
        """Events waiting on local disk for the database."""


@dataclass(frozen=True)
class WaitingCaller:
    call_sid: str
    queue: str
    since: datetime


@dataclass(frozen=True)
class ClaimedCallback:
    id: int
    request: CallbackRequest
    attempt: int = 1  # this claim's try at reaching the customer: 1, 2, ...


@dataclass(frozen=True)
class CallbackStatus:
    id: int
    request: CallbackRequest
    status: str  # pending | claimed | dialing | completed | failed


@dataclass(frozen=True)
class CallbackRequest:
    call_sid: str
    queue: str
    number: str
    place_at: datetime  # when the caller joined the line: the callback keeps that place
    not_before: datetime | None
    requested_at: datetime


async def _kept() -> None:
    return None


def callback_booking(result: Step, now: datetime) -> CallbackRequest | None:
    """The callback a step books (its last action asks for one), in line from `now`:
    what the webhooks and `ivr call --db` put in the callbacks table, so both are served
    by the agent line and counted alike."""
    final = result.final
    if not isinstance(final, RequestCallback):
        return None
    return CallbackRequest(
        call_sid=result.state.call_sid,
        queue=final.queue,
        number=final.number,
        place_at=now,
        not_before=final.not_before,
        requested_at=now,
    )


class MemoryCallLog:
    """A CallLog in process memory: for `ivr call`, tests and a server with no database."""

    def __init__(self) -> None:
        self.states: dict[str, CallState] = {}
        self.events: dict[str, dict[int, Event]] = {}
        self.callbacks: list[CallbackRequest] = []
        self.callback_status: list[str] = []
        self.callback_attempts: dict[int, int] = {}

    def record(self, state: CallState, events: Sequence[Event]) -> None:
        self.states[state.call_sid] = state
        self.append(state, events)

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        stored = self.events.setdefault(state.call_sid, {})
        for event in events:
            stored.setdefault(event.seq, event)

    def request_callback(self, request: CallbackRequest, *, read_next: bool = False) -> None:
        if request not in self.callbacks:
            self.callbacks.append(request)
            self.callback_status.append("pending")

    def waiting_callers(self, queues: Sequence[str], now: datetime) -> list[WaitingCaller]:
        waiting = []
        for call_sid, events in self.events.items():
            ordered = [events[seq] for seq in sorted(events)]
            queued = [e for e in ordered if e.kind == "queued" and e.details.get("queue") in queues]
            left = any(e.kind in ("queue_left", "call_ended", "agent_connected") for e in ordered)
            if queued and not left:
                waiting.append(
                    WaitingCaller(call_sid, str(queued[-1].details["queue"]), queued[-1].at)
                )
        return sorted(waiting, key=lambda w: w.since)

    def claim_callback(
        self, queues: Sequence[str], agent_id: str, now: datetime
    ) -> ClaimedCallback | None:
        ready = [
            (request.place_at, i)
            for i, request in enumerate(self.callbacks)
            if self.callback_status[i] == "pending"
            and request.queue in queues
            and (request.not_before is None or request.not_before <= now)
        ]
        if not ready:
            return None
        _, index = min(ready)
        self.callback_status[index] = "claimed"
        self.callback_attempts[index] = self.callback_attempts.get(index, 0) + 1
        return ClaimedCallback(index + 1, self.callbacks[index], self.callback_attempts[index])

    def finish_callback(
        self, callback_id: int, status: str, now: datetime, retry_at: datetime | None = None
    ) -> None:
        index = callback_id - 1
        self.callback_status[index] = status
        if status == "pending" and retry_at is not None:
            self.callbacks[index] = replace(self.callbacks[index], not_before=retry_at)
        elif status == "pending":
            self.callback_attempts[index] = max(0, self.callback_attempts.get(index, 0) - 1)

    def load(self, call_sid: str) -> CallState | None:
        return self.states.get(call_sid)

    async def aload(self, call_sid: str) -> CallState | None:
        return self.load(call_sid)

    def events_of(self, call_sid: str) -> list[Event]:
        stored = self.events.get(call_sid, {})
        return [stored[seq] for seq in sorted(stored)]

    def ready(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    @contextmanager
    def deferred(self) -> Iterator[Callable[[], Awaitable[None]]]:
        yield _kept  # in memory: kept as soon as written

    def queue_history(self, queue: str, now: datetime) -> QueueHistory:
        answers = [
            (e.at, float(e.details.get("waited") or 0))
            for events in self.events.values()
            for e in events.values()
            if e.kind == "agent_connected" and e.details.get("queue") == queue
        ]
        waiting = [
            r.place_at
            for r, status in zip(self.callbacks, self.callback_status, strict=True)
            if r.queue == queue and status == "pending"
        ]
        return QueueHistory(tuple(sorted(answers)), tuple(sorted(waiting)))

    def outcome(self, call_sid: str) -> str | None:
        stored = self.events.get(call_sid)
        return summarize(stored.values()).outcome if stored else None

    def callbacks_for(self, call_sid: str) -> list[CallbackStatus]:
        return [
            CallbackStatus(i + 1, request, self.callback_status[i])
            for i, request in enumerate(self.callbacks)
            if request.call_sid == call_sid
        ]
