"""The engine: call state and the pure step function. No web, SQL or Twilio here."""

from ivr.actions import (
    Action,
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
    Say,
    Silence,
    Speech,
    Step,
)
from ivr.engine import escape_step, start_call, step
from ivr.state import CallState, Turn

__all__ = [
    "Action",
    "CallState",
    "CallerEvent",
    "Dial",
    "DialResult",
    "Digits",
    "Enqueue",
    "Event",
    "Hangup",
    "Listen",
    "Record",
    "RequestCallback",
    "Say",
    "Silence",
    "Speech",
    "Step",
    "Turn",
    "escape_step",
    "start_call",
    "step",
]
