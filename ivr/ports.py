"""The side effects the engine's callers need, as protocols: the webhook layer depends on
these, the CLI plugs the database in, tests plug in a recorder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ivr.actions import Event
from ivr.state import CallState


class CallLog(Protocol):
    def record(self, state: CallState, events: Sequence[Event]) -> None:
        """Keep the call's latest state and append its new events (duplicates ignored)."""

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        """Append events from a side channel (queue wait, status) without touching the
        call's saved state; `state` only names the call and its flow version."""

    def load(self, call_sid: str) -> CallState | None:
        """The latest state of a call, if known."""

    def request_callback(self, request: CallbackRequest) -> None:
        """Put a callback in line."""


@dataclass(frozen=True)
class CallbackRequest:
    call_sid: str
    queue: str
    number: str
    place_at: datetime  # when the caller joined the line: the callback keeps that place
    not_before: datetime | None
    requested_at: datetime


class MemoryCallLog:
    """A CallLog in process memory: for `ivr call`, tests and a server with no database."""

    def __init__(self) -> None:
        self.states: dict[str, CallState] = {}
        self.events: dict[str, dict[int, Event]] = {}
        self.callbacks: list[CallbackRequest] = []

    def record(self, state: CallState, events: Sequence[Event]) -> None:
        self.states[state.call_sid] = state
        self.append(state, events)

    def append(self, state: CallState, events: Sequence[Event]) -> None:
        stored = self.events.setdefault(state.call_sid, {})
        for event in events:
            stored.setdefault(event.seq, event)

    def request_callback(self, request: CallbackRequest) -> None:
        if request not in self.callbacks:
            self.callbacks.append(request)

    def load(self, call_sid: str) -> CallState | None:
        return self.states.get(call_sid)

    def events_of(self, call_sid: str) -> list[Event]:
        stored = self.events.get(call_sid, {})
        return [stored[seq] for seq in sorted(stored)]
