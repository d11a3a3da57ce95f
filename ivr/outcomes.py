"""A call's outcome (SPEC §5), worked out from its events alone: a pure function.

Events may arrive in any order (a status callback before the last action, a callback placed
hours after the call ended), so nothing here depends on the order they are given in: the
engine's own events are read in `seq` order, the side channels (queue waits, the agent
line, status callbacks) by kind. Feeding the same events in any order gives the same
summary; feeding more events later gives the summary of the longer history.

A call with no status callback yet gets a provisional summary, as if it had ended at its
last event; readers decide when such a call counts as over (see `analytics.reports`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ivr.actions import Event

OUTCOMES = (
    "agent",
    "callback_requested",
    "callback_completed",
    "callback_failed",
    "voicemail",
    "self_service",
    "abandoned_ivr",
    "abandoned_queue",
    "short_abandon",
    "error",
)
ABANDONED = ("abandoned_ivr", "abandoned_queue")
CALLBACK_OUTCOMES = ("callback_requested", "callback_completed", "callback_failed")
ESCAPE_VIAS = ("digit", "speech", "failures", "error", "fallback")
SHORT_ABANDON_S = 5.0
ANSWERED = frozenset({"answered", "completed"})
# An Enqueue that could not hold the caller: the webhooks book a callback instead.
QUEUE_FAILED = frozenset({"queue-full", "error", "system-error"})
# The engine's main line numbers its events 1, 2, 3...; side channels start here
# (webhooks.sequence.WAIT; a test checks the two agree).
SIDE_CHANNELS = 100_000
STATUS_CHANNEL = 1_000_000  # status callbacks: + Twilio's SequenceNumber (webhooks.sequence)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class CallSummary:
    """Everything the reports count about one call. Moments are epoch ms, spans ms."""

    outcome: str
    started_at_ms: int
    last_event_at_ms: int
    ended_at_ms: int | None  # when the status callback said the call was over
    end_status: str | None  # Twilio's final CallStatus
    duration_ms: int  # start to end (or to the last event while no status came)
    path: tuple[str, ...]  # nodes entered, in order
    last_node: str | None
    queue: str | None  # the queue the call waited in or asked a callback from (the last)
    queued_at_ms: int | None
    wait_ms: int | None  # time in the queue until a person, a callback, or hanging up
    agent_at_ms: int | None  # first moment a person was on the line, live
    time_to_agent_ms: int | None
    agent: str | None
    escaped: bool
    escape_node: str | None
    escape_via: str | None
    callback_offered: bool
    callback_accepted: bool  # asked for a callback after being offered one in the queue
    callback_requested_at_ms: int | None
    callback_connected_at_ms: int | None
    callback_to_agent_ms: int | None  # start of the call to the person on the callback
    time_to_callback_ms: int | None  # callback asked for to person on the line
    on_hold_ms: int | None  # time actually spent holding, for calls called back
    callback_call_sid: str | None  # the customer's leg of the callback call

    @property
    def is_open(self) -> bool:
        return self.ended_at_ms is None


def summarize(events: Iterable[Event], short_abandon_s: float = SHORT_ABANDON_S) -> CallSummary:
    """The summary of one call's events (any order, duplicates by seq ignored)."""
    by_seq = {e.seq: e for e in events}
    if not by_seq:
        raise ValueError("a call summary needs at least one event")
    ordered = [by_seq[s] for s in sorted(by_seq)]
    main = [e for e in ordered if e.seq < SIDE_CHANNELS]
    moments = [_ms(e.at) for e in ordered]

    def first(kind: str, where: Iterable[Event] = ordered) -> Event | None:
        found = [e for e in where if e.kind == kind]
        return min(found, key=lambda e: (_ms(e.at), e.seq)) if found else None

    started = first("call_started")
    started_ms = _ms(started.at) if started else min(moments)
    last_ms = max(moments)
    status_end = next(
        (e for e in reversed(ordered) if e.kind == "call_ended" and "status" in e.details), None
    )
    ended_ms = _ms(status_end.at) if status_end else None
    end_status = str(status_end.details["status"]) if status_end else None
    duration_ms = (ended_ms if ended_ms is not None else last_ms) - started_ms

    path = tuple(str(e.node) for e in main if e.kind == "node_entered" and e.node)
    last_node = path[-1] if path else next((e.node for e in reversed(main) if e.node), None)

    # Where the engine sent the call, in the order it did (main line only).
    route: str | None = None
    queue: str | None = None
    queued_ms: int | None = None
    resolved_end: bool | None = None
    transfer_answered_ms: int | None = None
    for e in main:
        if e.kind == "queued":
            route, queue = "queue", str(e.details.get("queue") or "") or None
            queued_ms = queued_ms if queued_ms is not None else _ms(e.at)
        elif e.kind == "transfer" and "target" in e.details:
            route = "transfer"
        elif e.kind == "transfer" and "status" in e.details:
            if str(e.details["status"]) in ANSWERED:
                route = "agent"
                transfer_answered_ms = transfer_answered_ms or _ms(e.at)
            elif route == "transfer":
                route = None
        elif e.kind == "callback_requested":
            route = "callback"
            queue = str(e.details.get("queue") or "") or queue
        elif e.kind == "voicemail":
            route = "voicemail"
        elif e.kind == "call_ended" and "resolved" in e.details:
            route, resolved_end = "end", bool(e.details["resolved"])

    # The agent line and the queue's side channel.
    connected = first("agent_connected")
    agent_ms = _ms(connected.at) if connected else transfer_answered_ms
    queue_failed = [
        e
        for e in ordered
        if e.kind == "queue_left" and str(e.details.get("result")) in QUEUE_FAILED
    ]
    asked = [e for e in ordered if e.kind == "callback_requested"] + queue_failed
    asked_ms = min((_ms(e.at) for e in asked), default=None)
    for e in ordered:
        if e.seq >= SIDE_CHANNELS and e.kind == "callback_requested" and e.details.get("queue"):
            queue = str(e.details["queue"])
    offered = first("callback_offered")
    accepted = offered is not None and any(
        e.kind == "callback_requested" and e.seq >= SIDE_CHANNELS for e in ordered
    )
    cb_connected = first("callback_connected")
    cb_failed = first("callback_failed")
    escape = first("escape", main) or first("escape")

    if connected is not None or route == "agent":
        outcome = "agent"
    elif asked:
        if cb_connected is not None:
            outcome = "callback_completed"
        elif cb_failed is not None:
            outcome = "callback_failed"
        else:
            outcome = "callback_requested"
    elif route == "voicemail":
        outcome = "voicemail"
    elif route == "end":
        # An unresolved end hangs up on a caller whose need was not met (lint L103).
        outcome = "self_service" if resolved_end else "error"
    elif end_status == "failed" or started is None:
        outcome = "error"
    else:
        outcome = "abandoned_queue" if route in ("queue", "transfer") else "abandoned_ivr"
        if duration_ms <= short_abandon_s * 1000:
            outcome = "short_abandon"

    wait_ms: int | None = None
    if queued_ms is not None:
        ends = [
            m
            for m in (
                agent_ms,
                asked_ms,
                *(_ms(e.at) for e in ordered if e.kind == "queue_left"),
                ended_ms,
            )
            if m is not None and m >= queued_ms
        ]
        wait_ms = (min(ends) if ends else last_ms) - queued_ms
    cb_connected_ms = _ms(cb_connected.at) if cb_connected else None
    called_back = outcome == "callback_completed"
    return CallSummary(
        outcome=outcome,
        started_at_ms=started_ms,
        last_event_at_ms=last_ms,
        ended_at_ms=ended_ms,
        end_status=end_status,
        duration_ms=duration_ms,
        path=path,
        last_node=last_node,
        queue=queue,
        queued_at_ms=queued_ms,
        wait_ms=wait_ms,
        agent_at_ms=agent_ms if outcome == "agent" else None,
        time_to_agent_ms=agent_ms - started_ms
        if outcome == "agent" and agent_ms is not None
        else None,
        agent=str(connected.details.get("agent")) if connected else None,
        escaped=escape is not None,
        escape_node=escape.node if escape else None,
        escape_via=str(escape.details.get("via")) if escape else None,
        callback_offered=offered is not None,
        callback_accepted=accepted,
        callback_requested_at_ms=asked_ms,
        callback_connected_at_ms=cb_connected_ms,
        callback_to_agent_ms=cb_connected_ms - started_ms
        if called_back and cb_connected_ms is not None
        else None,
        time_to_callback_ms=cb_connected_ms - asked_ms
        if called_back and cb_connected_ms is not None and asked_ms is not None
        else None,
        on_hold_ms=(wait_ms or 0) if called_back else None,
        callback_call_sid=str(cb_connected.details.get("callback_call") or "") or None
        if cb_connected
        else None,
    )
