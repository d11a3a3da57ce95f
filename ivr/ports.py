"""The side effects the engine's callers need, as protocols: the webhook layer depends on
these, the CLI plugs the database in, tests plug in a recorder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ivr.actions import Event
from ivr.state import CallState


class CallLog(Protocol):
    def record(self, state: CallState, events: Sequence[Event]) -> None:
        """Keep the call's latest state and append its new events (duplicates ignored)."""

    def load(self, call_sid: str) -> CallState | None:
        """The latest state of a call, if known."""


class MemoryCallLog:
    """A CallLog in process memory: for `ivr call`, tests and a server with no database."""

    def __init__(self) -> None:
        self.states: dict[str, CallState] = {}
        self.events: dict[str, dict[int, Event]] = {}

    def record(self, state: CallState, events: Sequence[Event]) -> None:
        self.states[state.call_sid] = state
        stored = self.events.setdefault(state.call_sid, {})
        for event in events:
            stored.setdefault(event.seq, event)

    def load(self, call_sid: str) -> CallState | None:
        return self.states.get(call_sid)

    def events_of(self, call_sid: str) -> list[Event]:
        stored = self.events.get(call_sid, {})
        return [stored[seq] for seq in sorted(stored)]
