"""The call state, carried in the action URLs we give Twilio.

Twilio signs every URL it requests with the auth token, so a state we put in a URL comes
back intact or not at all (the signature check refuses it). Any worker can then take the
call's next request, even while the database is away.

A token is the state's fields in a JSON array (no key names), base64url: as short as the
state compressed with its keys, without compressing it. zlib let go of the GIL for every
call, and on a busy server each time it was taken back cost more than compressing; so
only a state past `COMPRESS_FROM` bytes (a caller who said a lot) is compressed. Tokens
of earlier releases, a JSON object compressed with zlib, still read.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr import json_text
from ivr.state import CallState, Turn

MAX_TOKEN = 6000  # characters; Twilio's URL limit is larger, this keeps answers small
KEEP_TURNS = 10
COMPRESS_FROM = 480  # bytes of JSON: 640 characters of token
WINDOW_BITS, MEMORY_LEVEL = 12, 4
# The first field of the array: its layout (a token outlives a deploy: calls in progress).
PLAIN, PACKED = 1, 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode(state: CallState) -> str:
    if len(state.turns) > KEEP_TURNS:  # the database keeps the full history
        state = state.moved(turns=state.turns[-KEEP_TURNS:])
    raw = json_text.dumps(_fields(state, PLAIN))
    if len(raw) >= COMPRESS_FROM:
        # A 4 kB window and small tables: setting up zlib's default 256 kB of state took
        # eight times longer than compressing a state, for the same output.
        packer = zlib.compressobj(9, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL)
        raw = json_text.dumps([PACKED]) + packer.compress(raw) + packer.flush()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> CallState | None:
    """The state in a token, or None for anything malformed (the caller then fails open)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if data.startswith(b"[%d]" % PACKED):
            data = _inflate(data[3:])
        elif not data.startswith(b"["):  # an earlier release's: a compressed JSON object
            return CallState.from_json(json_text.loads(_inflate(data)))
        return _state(json_text.loads(data))
    except (binascii.Error, zlib.error, ValueError, TypeError, KeyError, AttributeError):
        return None


def _inflate(packed: bytes) -> bytes:
    unpacker = zlib.decompressobj()
    raw = unpacker.decompress(packed, 1_000_000)
    if not unpacker.eof:  # cut short (its checksum too) or larger than any state
        raise ValueError("a compressed state cut short")
    return raw


def _fields(state: CallState, layout: int) -> list[Any]:
    return [
        layout,
        state.call_sid,
        state.flow_id,
        state.flow_version,
        state.caller,
        state.dialed,
        (state.started_at.astimezone(UTC) - _EPOCH) // _MICROSECOND,
        state.node,
        state.waiting,
        state.failures,
        state.variables,
        state.path,
        [(t.node, t.kind, t.value) for t in state.turns],
        state.locale,
        state.steps,
        state.events,
        state.route,
    ]


def _state(data: Any) -> CallState:
    (
        layout,
        call_sid,
        flow_id,
        flow_version,
        caller,
        dialed,
        started_us,
        node,
        waiting,
        failures,
        variables,
        path,
        turns,
        locale,
        steps,
        events,
        route,
    ) = data
    if layout != PLAIN:
        raise ValueError(f"a state token of layout {layout!r}")
    return CallState(
        call_sid=str(call_sid),
        flow_id=str(flow_id),
        flow_version=str(flow_version),
        caller=str(caller),
        dialed=str(dialed),
        started_at=_EPOCH + int(started_us) * _MICROSECOND,
        node=str(node),
        waiting=bool(waiting),
        failures=int(failures),
        variables={str(k): str(v) for k, v in dict(variables).items()},
        path=tuple(str(p) for p in path),
        turns=tuple(Turn(str(n), str(k), str(v)) for n, k, v in turns),
        locale=str(locale),
        steps=int(steps),
        events=int(events),
        route=None if route is None else str(route),
    )
