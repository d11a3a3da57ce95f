"""Dial a flow in the terminal: what the caller hears as text, what they do as typed turns.

Used by `ivr call`, interactively or scripted (`--input "1,123456#,agent"`) for flow tests.
With a call log (`ivr call --db`) the call is kept as the webhooks keep it: its state, its
events, the callback it booked (at the caller's own number: the terminal has no number
question), a transfer's result and a status like Twilio's when it is over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flows.loader import LoadedFlow
from flows.model import PHONE_KEYS, Flow
from ivr.actions import (
    CallerEvent,
    Dial,
    DialResult,
    Digits,
    Enqueue,
    Event,
    Hangup,
    Listen,
    Record,
    RequestCallback,
    Silence,
    Speech,
    Step,
)
from ivr.engine import start_call, step
from ivr.outcomes import ANSWERED, STATUS_CHANNEL
from ivr.ports import CallLog, callback_booking


def parse_turn(turn: str) -> CallerEvent:
    """'' is silence, keys only ('123#') are key presses, anything else is speech."""
    text = turn.strip()
    if not text:
        return Silence()
    if set(text) <= set(PHONE_KEYS):
        return Digits(text)
    return Speech(text)


@dataclass(frozen=True)
class CallResult:
    destination: str | None  # queue:x, transfer:y, callback:q, voicemail:q, end, or None
    resolved: bool
    nodes: tuple[str, ...]
    unused_turns: int


def destination_text(step_: Step) -> str:
    final = step_.final
    match final:
        case Enqueue(queue=queue):
            return f"queue {queue}"
        case Dial(target=target):
            return f"transfer {target}"
        case RequestCallback(queue=queue, not_before=when):
            return f"callback {queue}" + (f" (not before {when.isoformat()})" if when else "")
        case Record(queue=queue):
            return f"voicemail {queue or ''}".rstrip()
        case Hangup():
            return "end"
    return "?"


def run_call(
    loaded: LoadedFlow,
    turns: Iterator[str],
    emit: Callable[[str], None],
    *,
    caller: str,
    dialed: str,
    now: Callable[[], datetime],
    dial_status: str = "answered",
    log: CallLog | None = None,
    call_sid: str = "CA-terminal",
) -> CallResult:
    """Walk a call in the terminal; with a `log`, keep it as the server would (its state,
    its events and, when it is over, a status like Twilio's)."""
    flow = loaded.flow
    current = start_call(
        flow, loaded.version, call_sid, caller, dialed or (flow.numbers or [""])[0], now()
    )
    seen: list[str] = []
    try:
        return _walk(current, flow, turns, emit, now, dial_status, log, seen)
    finally:
        if log is not None:
            ended = Event("call_ended", now(), None, {"status": "completed"}, STATUS_CHANNEL + 1)
            log.append(current.state, [ended])


def _walk(
    current: Step,
    flow: Flow,
    turns: Iterator[str],
    emit: Callable[[str], None],
    now: Callable[[], datetime],
    dial_status: str,
    log: CallLog | None,
    seen: list[str],
) -> CallResult:
    while True:
        if log is not None:
            log.record(current.state, current.events)
            # Booked as the webhooks book it, so the agent line calls this caller back.
            booking = callback_booking(current, now())
            if booking is not None:
                log.request_callback(booking)
        _show(current, emit, seen)
        if isinstance(current.final, Dial) and dial_status not in ANSWERED:
            emit(f"  (the transfer to {current.final.target} ends: {dial_status})")
            current = step(flow, current.state, DialResult(dial_status), now())
            continue
        if isinstance(current.final, Dial) and log is not None:
            # A person answered: kept as the server keeps the dial's result, so the call
            # counts as reaching a person (the output still names the transfer).
            answered = step(flow, current.state, DialResult(dial_status), now())
            log.record(answered.state, answered.events)
        if not current.waiting:
            break
        listen = current.actions[-1]
        assert isinstance(listen, Listen)
        turn = next(turns, None)
        if turn is None:
            emit(f"caller hung up at {current.state.node}")
            return CallResult(None, False, tuple(seen), 0)
        event = parse_turn(turn)
        if isinstance(event, Digits):
            event = as_twilio_sends(event, listen)
        emit(f"  caller: {_describe(event)}")
        current = step(flow, current.state, event, now())
    unused = sum(1 for _ in turns)
    where = destination_text(current)
    resolved = any(e.kind == "call_ended" and e.details.get("resolved") for e in current.events)
    emit(f"reached: {where}" + (" (resolved)" if resolved else ""))
    if unused:
        emit(f"({unused} scripted turn(s) left unused: the call was over)")
    return CallResult(current.state.route, resolved, tuple(seen), unused)


def as_twilio_sends(event: Digits, listen: Listen) -> CallerEvent:
    """Keys as Twilio's <Gather> reports them: at most numDigits, the finish key dropped
    (pressed alone it is no input at all)."""
    digits = event.digits[: listen.num_digits] if listen.num_digits else event.digits
    if listen.finish_key and listen.finish_key in digits:
        digits = digits[: digits.index(listen.finish_key)]
    return Digits(digits) if digits else Silence()


def _describe(event: CallerEvent) -> str:
    match event:
        case Digits(digits=digits):
            return f"pressed {digits}"
        case Speech(text=text):
            return f'said "{text}"'
    return "(silence)"


def _show(current: Step, emit: Callable[[str], None], seen: list[str]) -> None:
    """Print the step in the order things happened: nodes, what was said, escapes."""
    for event in current.events:
        if event.kind == "node_entered" and event.node:
            seen.append(event.node)
            emit(f"[{event.node}] ({event.details.get('node_kind')})")
        elif event.kind == "prompt":
            emit(f"  ivr: {event.details.get('text')}")
        elif event.kind == "escape":
            emit(f"  -> to a person (via {event.details.get('via')})")
