"""Twilio's queues as the stand-in keeps them: real members in order, and the figures
Twilio reports to the wait URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from simulator.legs import Leg

DEFAULT_MAX_SIZE = 100


@dataclass
class Bridge:
    """An agent's `<Dial><Queue>` taking a queued caller: ready once the caller's Queue url
    TwiML has run, done once the conversation is over."""

    agent: Leg
    url: str | None
    method: str
    ready: simpy.Event
    done: simpy.Event


@dataclass
class Queue:
    name: str
    sid: str
    max_size: int = DEFAULT_MAX_SIZE
    members: list[Leg] = field(default_factory=list)
    joined: dict[str, float] = field(default_factory=dict)

    def join(self, leg: Leg, now: float) -> bool:
        if len(self.members) >= self.max_size:
            return False
        self.members.append(leg)
        self.joined[leg.sid] = now
        return True

    def leave(self, leg: Leg) -> None:
        if leg in self.members:
            self.members.remove(leg)

    def pop(self) -> Leg | None:
        return self.members.pop(0) if self.members else None

    def params(self, leg: Leg, now: float) -> dict[str, str]:
        """What Twilio sends the wait URL about the queue and this caller's place in it."""
        waits = [now - self.joined[m.sid] for m in self.members]
        position = self.members.index(leg) + 1 if leg in self.members else 0
        return {
            "QueueSid": self.sid,
            "QueuePosition": str(position),
            "QueueTime": str(round(now - self.joined.get(leg.sid, now))),
            "AvgQueueTime": str(round(sum(waits) / len(waits)) if waits else 0),
            "CurrentQueueSize": str(len(self.members)),
            "MaxQueueSize": str(self.max_size),
        }
