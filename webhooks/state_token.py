"""The call state, carried in the action URLs we give Twilio.

Twilio signs every URL it requests with the auth token, so a state we put in a URL comes
back intact or not at all (the signature check refuses it). Any worker can then take the
call's next request, even while the database is away.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

from ivr.state import CallState

MAX_TOKEN = 6000  # characters; Twilio's URL limit is larger, this keeps answers small
KEEP_TURNS = 10


def encode(state: CallState) -> str:
    if len(state.turns) > KEEP_TURNS:  # the database keeps the full history
        state = state.moved(turns=state.turns[-KEEP_TURNS:])
    raw = json.dumps(state.to_json(), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(zlib.compress(raw.encode("utf-8"), 9)).decode().rstrip("=")


def decode(token: str) -> CallState | None:
    """The state in a token, or None for anything malformed (the caller then fails open)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(zlib.decompressobj().decompress(packed, 1_000_000))
        return CallState.from_json(data)
    except (binascii.Error, zlib.error, ValueError, TypeError, KeyError, AttributeError):
        return None
