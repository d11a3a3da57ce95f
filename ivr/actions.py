"""What the engine asks the phone platform to do, in platform-neutral terms, and the
events it asks to be logged. The webhook layer turns actions into TwiML; the terminal
runner turns them into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.state import CallState


@dataclass(frozen=True)
class Say:
    text: str
    locale: str
    voice: str | None = None


@dataclass(frozen=True)
class Listen:
    """Play the prompts (the caller may interrupt) and wait for keys or speech."""

    node: str
    prompts: tuple[Say, ...]
    locale: str
    timeout: float
    num_digits: int | None = None  # menus: one key is an answer
    max_digits: int | None = None
    finish_key: str = "#"
    speech: bool = True
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enqueue:
    queue: str
    whisper: str


@dataclass(frozen=True)
class Dial:
    target: str  # +E.164, sip:..., client:...
    timeout: float
    whisper: str


@dataclass(frozen=True)
class Record:
    """Take a voicemail."""

    max_length: float
    queue: str | None


@dataclass(frozen=True)
class RequestCallback:
    queue: str
    number: str
    not_before: datetime | None  # opening time when the queue is closed now
    confirm: Say | None = None  # the booking's words, said once the number is settled


@dataclass(frozen=True)
class Hangup:
    pass


Action = Say | Listen | Enqueue | Dial | Record | RequestCallback | Hangup
TERMINAL = (Enqueue, Dial, Record, RequestCallback, Hangup)


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime
    node: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Per-call number, 1-based. Deterministic: a retried request yields the same numbers,
    # so (call, seq) identifies an event and the store can drop the duplicate.
    seq: int = 0


@dataclass(frozen=True)
class Step:
    actions: tuple[Action, ...]
    state: CallState
    events: tuple[Event, ...]

    @property
    def waiting(self) -> bool:
        return bool(self.actions) and isinstance(self.actions[-1], Listen)

    @property
    def final(self) -> Action | None:
        """The routing action the step ends with, if it hands the call over."""
        return final_of(self.actions)


def final_of(actions: tuple[Action, ...]) -> Action | None:
    """The routing action a list of actions ends with, if it hands the call over."""
    last = actions[-1] if actions else None
    return last if isinstance(last, TERMINAL) else None


# --- what the caller does ---------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    digits: str


@dataclass(frozen=True)
class Speech:
    text: str
    confidence: float | None = None


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class DialResult:
    """How a transfer ended: answered, completed, busy, no-answer, failed, canceled."""

    status: str


CallerEvent = Digits | Speech | Silence | DialResult
