"""Plain rows the store hands out and takes in: frozen dataclasses, no SQLAlchemy objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from analytics.moments import epoch_ms, from_epoch_ms
from ivr.actions import Event


class CallIdentity(Protocol):
    """What an event row needs to know about its call. `CallState` is one; so is `CallRef`."""

    @property
    def call_sid(self) -> str: ...
    @property
    def flow_id(self) -> str: ...
    @property
    def flow_version(self) -> str: ...


@dataclass(frozen=True)
class CallRef:
    """Names a call and its flow version when no full CallState is at hand."""

    call_sid: str
    flow_id: str
    flow_version: str


@dataclass(frozen=True)
class EventRow:
    """One row of the `events` table, as written and as read back."""

    call_sid: str
    seq: int
    at_ms: int
    flow_id: str
    flow_version: str
    kind: str
    node: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return from_epoch_ms(self.at_ms)

    @classmethod
    def read(cls, row: Any) -> EventRow:
        """From a row of the `events` table as SQLAlchemy returns it."""
        return cls(
            call_sid=row.call_sid,
            seq=row.seq,
            at_ms=row.at_ms,
            flow_id=row.flow_id,
            flow_version=row.flow_version,
            kind=row.kind,
            node=row.node,
            details=dict(row.details or {}),
        )

    @classmethod
    def of(cls, call: CallIdentity, event: Event) -> EventRow:
        if event.seq < 1:
            raise ValueError(f"event {event.kind!r} of call {call.call_sid} has no seq (>= 1)")
        return cls(
            call_sid=call.call_sid,
            seq=event.seq,
            at_ms=epoch_ms(event.at),
            flow_id=call.flow_id,
            flow_version=call.flow_version,
            kind=event.kind,
            node=event.node,
            details=dict(event.details),
        )

    def to_event(self) -> Event:
        return Event(kind=self.kind, at=self.at, node=self.node, details=self.details, seq=self.seq)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "seq": self.seq,
            "at_ms": self.at_ms,
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "kind": self.kind,
            "node": self.node,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventRow:
        return cls(
            call_sid=str(data["call_sid"]),
            seq=int(data["seq"]),
            at_ms=int(data["at_ms"]),
            flow_id=str(data["flow_id"]),
            flow_version=str(data["flow_version"]),
            kind=str(data["kind"]),
            node=None if data.get("node") is None else str(data["node"]),
            details=dict(data.get("details") or {}),
        )


def event_rows(call: CallIdentity, events: Sequence[Event]) -> list[EventRow]:
    return [EventRow.of(call, event) for event in events]


@dataclass(frozen=True)
class Callback:
    """One row of the `callbacks` table."""

    id: int
    call_sid: str
    queue: str
    number: str
    requested_at_ms: int
    place_at_ms: int
    not_before_ms: int | None
    status: str  # pending | claimed | dialing | completed | failed
    agent_id: str | None
    claimed_at_ms: int | None
    finished_at_ms: int | None
    attempts: int


@dataclass(frozen=True)
class Booking:
    """A callback to put in line, as the webhooks asked for it: written like events
    (through the spool while the database is down) and idempotent on replay."""

    call_sid: str
    queue: str
    number: str
    place_at_ms: int
    not_before_ms: int | None
    requested_at_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "queue": self.queue,
            "number": self.number,
            "place_at_ms": self.place_at_ms,
            "not_before_ms": self.not_before_ms,
            "requested_at_ms": self.requested_at_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Booking:
        not_before = data.get("not_before_ms")
        return cls(
            call_sid=str(data["call_sid"]),
            queue=str(data["queue"]),
            number=str(data["number"]),
            place_at_ms=int(data["place_at_ms"]),
            not_before_ms=None if not_before is None else int(not_before),
            requested_at_ms=int(data["requested_at_ms"]),
        )
