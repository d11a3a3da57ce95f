"""What of a caller is written down: numbers kept, masked (`+1500555****`) or hashed (a
keyed HMAC, so repeat callers can still be counted), speech text and recording URLs kept or
not. Applied to a call's state and events on their way to the database and the spool.

Not applied to the call state carried in Twilio's URLs (Twilio has the number and the words
already, and a callback booked from a queue needs the real number), nor to a pending
callback's number, which is erased once the callback is finished.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ivr.actions import Event
from ivr.state import CallState, Turn

NumberPolicy = Literal["keep", "mask", "hash"]
NUMBER_POLICIES: tuple[NumberPolicy, ...] = ("keep", "mask", "hash")
HASH_PREFIX = "hmac:"
MASK = "****"
SPEECH = "[speech]"  # what is kept of a spoken answer when speech text is off
NUMBER_KEYS = frozenset({"caller", "number"})  # event details that hold a number
_OFF = ("0", "false", "no", "off")


class PrivacyError(ValueError):
    """The privacy settings do not fit together (e.g. hashing without a key)."""


@dataclass(frozen=True)
class Privacy:
    numbers: NumberPolicy = "keep"
    hash_key: bytes = field(default=b"", repr=False)
    speech: bool = True  # keep what callers said, word for word
    recordings: bool = True  # keep voicemail recording URLs

    def __post_init__(self) -> None:
        if self.numbers not in NUMBER_POLICIES:
            raise PrivacyError(
                f"'{self.numbers}' is not a way to store numbers; use keep, mask or hash"
            )
        if self.numbers == "hash" and not self.hash_key:
            raise PrivacyError(
                "storing numbers hashed needs IVR_HASH_KEY: a long random secret, the same on "
                "every server, so that a repeat caller hashes the same"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Privacy:
        values: dict[str, Any] = {
            "numbers": environ.get("IVR_STORE_NUMBERS") or "keep",
            "hash_key": environ.get("IVR_HASH_KEY", "").encode("utf-8"),
            "speech": environ.get("IVR_STORE_SPEECH", "").lower() not in _OFF,
            "recordings": environ.get("IVR_STORE_RECORDINGS", "").lower() not in _OFF,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def is_keep_all(self) -> bool:
        return self.numbers == "keep" and self.speech and self.recordings

    # --- numbers ----------------------------------------------------------------------
    def number(self, value: str) -> str:
        """A caller's number (or `client:` identity) as it may be stored. Idempotent: a
        value already masked or hashed stays as it is."""
        if self.numbers == "keep" or not value or is_protected(value):
            return value
        if self.numbers == "mask":
            return value[:-4] + MASK if len(value) > 6 else MASK
        digest = hmac.new(self.hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest[:32]

    def _replacements(self, numbers: Iterable[str]) -> list[tuple[str, str]]:
        """Each number as the engine writes it into text (as is, bare digits, digits spoken
        one by one), longest first, with its stored form."""
        pairs: dict[str, str] = {}
        for raw in numbers:
            if self.numbers == "keep" or not raw or is_protected(raw):
                continue
            stored = self.number(raw)
            digits = "".join(ch for ch in raw if ch.isdigit())
            pairs[raw] = stored
            if len(digits) >= 6:
                pairs[digits] = stored
                pairs[" ".join(digits)] = stored
        return sorted(pairs.items(), key=lambda p: -len(p[0]))

    # --- states and events ------------------------------------------------------------
    def state(self, state: CallState) -> CallState:
        if self.is_keep_all:
            return state
        turns = state.turns
        if not self.speech:
            turns = tuple(Turn(t.node, t.kind, SPEECH) if t.kind == "speech" else t for t in turns)
        return state.moved(caller=self.number(state.caller), turns=turns)

    def events(self, state: CallState, events: Sequence[Event]) -> list[Event]:
        if self.is_keep_all:
            return list(events)
        numbers = [state.caller, *(str(e.details.get("number") or "") for e in events)]
        pairs = self._replacements(numbers)
        return [replace(e, details=self._details(e.details, pairs)) for e in events]

    def _details(self, details: Mapping[str, Any], pairs: list[tuple[str, str]]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, value in details.items():
            if key == "recording_url" and not self.recordings:
                continue
            if key == "speech" and not self.speech and value:
                kept[key] = SPEECH
            elif key in NUMBER_KEYS and isinstance(value, str):
                kept[key] = self.number(value)
            else:
                kept[key] = _scrub(value, pairs)
        return kept


def is_protected(value: str) -> bool:
    return value.startswith(HASH_PREFIX) or value.endswith(MASK)


def _scrub(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """Any text in `value` with the known numbers replaced by their stored form."""
    if isinstance(value, str):
        for raw, stored in pairs:
            value = value.replace(raw, stored)
        return value
    if isinstance(value, Mapping):
        return {k: _scrub(v, pairs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, pairs) for v in value]
    return value
