"""One leg of a call as the stand-in runs it: who is on it, where it is, what it heard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from simulator.people import Party

if TYPE_CHECKING:
    from simulator.queues import Bridge, Queue

ACCOUNT_SID = "AC" + "0" * 32


@dataclass
class HangUp:
    """Interrupt cause: the person on the leg hangs up now."""

    reason: str = "hung up"


@dataclass
class Redial:
    """Interrupt cause: the person hangs up and calls the same number again at once."""


@dataclass
class Dequeued:
    """Interrupt cause: an agent's `<Dial><Queue>` took this caller out of the queue."""

    bridge: Bridge


@dataclass(eq=False)  # a leg is itself: compared and hashed by identity
class Leg:
    sid: str
    caller: str  # From
    called: str  # To
    direction: str  # inbound, outbound-api, outbound-dial
    party: Party
    url: str  # the first URL requested for the leg
    status_callback: str | None = None
    parent: Leg | None = None
    started: float = 0.0
    ended: float | None = None
    state: str = "ringing"  # in-progress, queued, bridging, bridged, paused, ended
    queue: Queue | None = None
    process: simpy.Process | None = None
    heard: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # what happened, in order, for people
    end: str = ""  # queue:NAME, dial:TARGET, record, hangup, hung-up, completed
    end_url: str = ""
    queued_at: float | None = None  # when they last joined a queue
    left_queue_at: float | None = None
    queue_result: str | None = None  # Twilio's QueueResult when they last left a queue
    bridged_at: float | None = None  # when a person was first on the line with them
    hung_up_in: str | None = None  # prompt, queue: where the person gave up, if they did

    def params(self) -> dict[str, str]:
        """The parameters Twilio sends with every request about this leg."""
        params = {
            "CallSid": self.sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.caller,
            "To": self.called,
            "Caller": self.caller,
            "Called": self.called,
            "CallStatus": "in-progress",
            "ApiVersion": "2010-04-01",
            "Direction": self.direction,
            "CallerName": "",
        }
        if self.parent is not None:
            params["ParentCallSid"] = self.parent.sid
        return params
