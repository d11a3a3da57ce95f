"""The call state, carried in the action URLs we give Twilio.

Twilio signs every URL it requests with the auth token, so a state we put in a URL comes
back intact or not at all (the signature check refuses it). Any worker can then take the
call's next request, even while the database is away.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from ivr import json_text
from ivr.state import CallState

MAX_TOKEN = 6000  # characters; Twilio's URL limit is larger, this keeps answers small
KEEP_TURNS = 10
WINDOW_BITS, MEMORY_LEVEL = 12, 4


def encode(state: CallState) -> str:
    if len(state.turns) > KEEP_TURNS:  # the database keeps the full history
        state = state.moved(turns=state.turns[-KEEP_TURNS:])
    raw = json_text.dumps(state.to_json())
    # A 4 kB window and small tables: a state is a few hundred bytes, and setting up
    # zlib's default 256 kB of state took eight times longer than compressing it, for
    # the same output. Any zlib stream decodes with the default settings below.
    packer = zlib.compressobj(9, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL)
    packed = packer.compress(raw) + packer.flush()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(token: str) -> CallState | None:
    """The state in a token, or None for anything malformed (the caller then fails open)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        unpacker = zlib.decompressobj()
        raw = unpacker.decompress(packed, 1_000_000)
        if not unpacker.eof:  # cut short (its checksum too) or larger than any state
            return None
        return CallState.from_json(json_text.loads(raw))
    except (binascii.Error, zlib.error, ValueError, TypeError, KeyError, AttributeError):
        return None
