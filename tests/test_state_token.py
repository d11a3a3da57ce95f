"""The call state in a URL token comes back as it went, from this server or an older one."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.state import CallState, Turn
from webhooks import state_token

STARTED = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def state(said: str = "my bill is wrong", turns: int = 3) -> CallState:
    return CallState(
        "CA" + "0" * 32,
        "acme",
        "v1",
        "+15555550100",
        "+15005550006",
        STARTED,
        node="account",
        variables={"account": "123456", "name": "Zoë"},
        path=("greeting", "main_menu", "account"),
        turns=tuple(Turn("main_menu", "speech", f"{said} {n}") for n in range(turns)),
        steps=4,
        events=9,
    )


@given(st.text(max_size=300), st.integers(0, 30))
def test_a_state_comes_back_from_its_token(said: str, turns: int) -> None:
    original = state(said, turns)
    back = state_token.decode(state_token.encode(original))
    kept = original.turns[-state_token.KEEP_TURNS :]  # the database keeps the rest
    assert back == original.moved(turns=kept)


def test_a_token_from_a_server_compressing_with_zlib_defaults_still_reads() -> None:
    """Calls in progress during an upgrade carry tokens the old version wrote."""
    original = state()
    raw = json.dumps(original.to_json(), separators=(",", ":")).encode()
    old = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    assert state_token.decode(old) == original


def _compressed_with_keys(original: CallState) -> int:
    """The length of a token of the last release: the JSON object, zlib's defaults."""
    raw = json.dumps(original.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
    return len(base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"="))


def test_a_token_is_no_longer_than_the_state_compressed_with_its_keys() -> None:
    few = state(turns=1)  # menus and keys: sent as it is, no zlib
    assert len(state_token.encode(few)) <= _compressed_with_keys(few)
    many = state(turns=10)  # a caller who said a lot: compressed
    assert len(state_token.encode(many)) <= _compressed_with_keys(many)
    assert state_token.decode(state_token.encode(many)) == many


def test_a_token_from_the_last_release_still_reads() -> None:
    """A JSON object compressed with a small window, as the last release wrote it."""
    original = state()
    raw = json.dumps(original.to_json(), separators=(",", ":")).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, 12, 4)
    old = base64.urlsafe_b64encode(packer.compress(raw) + packer.flush()).decode().rstrip("=")
    assert state_token.decode(old) == original


def test_damaged_tokens_are_refused() -> None:
    token = state_token.encode(state())
    for damaged in ("", token[:-5], "x" + token, "!!!", "A" * (state_token.MAX_TOKEN + 1)):
        assert state_token.decode(damaged) is None


def test_a_moved_state_changes_what_it_is_told_and_nothing_else() -> None:
    original = state()
    moved = original.moved(node="billing", failures=2)
    assert (moved.node, moved.failures) == ("billing", 2)
    assert moved == CallState(**{**original.__dict__, "node": "billing", "failures": 2})
    assert (original.node, original.failures) == ("account", 0)  # the original stands
    with pytest.raises(TypeError, match="no field nod"):
        original.moved(nod="billing")
