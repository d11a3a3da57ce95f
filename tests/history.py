"""Hand-built event histories of calls, numbered the way the webhooks number them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics import EventRow, epoch_ms
from ivr.actions import Event
from webhooks import sequence
from webhooks.agent_line import AGENT_CONNECTED, callback_seq


@dataclass
class History:
    sid: str
    start: datetime
    flow: str = "acme"
    version: str = "v1"
    events: list[Event] = field(default_factory=list)
    _main: int = 0
    _waits: int = 0

    def at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def main(self, t: float, kind: str, node: str | None = None, **details: Any) -> History:
        self._main += 1
        self.events.append(Event(kind, self.at(t), node, details, self._main))
        return self

    def side(self, seq: int, t: float, kind: str, node: str | None = None, **d: Any) -> History:
        self.events.append(Event(kind, self.at(t), node, d, seq))
        return self

    # --- the usual steps ---------------------------------------------------------
    def menu(self, t: float = 1) -> History:
        """Answered, greeted, at the main menu at `t`."""
        self.main(0, "call_started", None, caller="+15555550100", flow_version=self.version)
        self.main(0, "node_entered", "greeting", node_kind="say")
        self.main(0, "prompt", "greeting", text="Hello. Press 0 for a person.")
        self.main(t, "node_entered", "main_menu", node_kind="menu")
        return self.main(t, "prompt", "main_menu", text="Press 1 for billing.")

    def goto(self, t: float, node: str, kind: str = "say") -> History:
        return self.main(t, "node_entered", node, node_kind=kind)

    def escape(self, t: float, via: str, node: str = "main_menu") -> History:
        if via == "digit":
            self.main(t, "input", node, digits="0")
        else:
            self.main(t, "input", node, speech="agent")
        return self.main(t, "escape", node, via=via)

    def queued(self, t: float, queue: str = "support", node: str = "main_menu") -> History:
        return self.main(t, "queued", node, queue=queue)

    def wait(self, t: float, kind: str = "queue_update", index: int = 0, **d: Any) -> History:
        self._waits += 1
        return self.side(sequence.wait_seq(self._waits, index), t, kind, "support_q", **d)

    def agent(self, t: float) -> History:
        return self.side(AGENT_CONNECTED, t, "agent_connected", "support_q", agent="alice")

    def left(self, t: float, result: str) -> History:
        return self.side(sequence.QUEUE_RESULT, t, "queue_left", None, result=result)

    def callback(
        self, t: float, kind: str, callback_id: int = 1, attempt: int = 1, **details: object
    ) -> History:
        index = {"callback_dialed": 0, "callback_connected": 1}.get(kind, 2)  # failed, retry
        seq = callback_seq(callback_id, attempt, index)
        return self.side(seq, t, kind, "support_q", **details)

    def ended(self, t: float, status: str = "completed", number: int = 1) -> History:
        return self.side(sequence.STATUS + number, t, "call_ended", None, status=status)

    def rows(self) -> list[EventRow]:
        return [
            EventRow(
                self.sid, e.seq, epoch_ms(e.at), self.flow, self.version, e.kind, e.node, e.details
            )
            for e in self.events
        ]
