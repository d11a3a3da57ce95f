"""What of a caller is written down: numbers masked or hashed, speech and recording URLs
off. Calls run over real HTTP, then every table of the database is read back as text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from sqlalchemy import MetaData, select

from analytics import SpoolingEventLog, Store
from analytics.call_log import StoreCallLog
from analytics.tables import calls
from flows.catalog import Catalog
from flows.loader import load_text
from ivr.actions import Event
from ivr.context import whisper
from ivr.privacy import Privacy, PrivacyError
from ivr.state import CallState, Turn
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "privacy-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
CALLER = "+15555550100"
ALICE = "+15005550010"
WORDS = "billing for Zebulon Quartermaine"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE5eCRet"
KEY = b"a long random secret shared by every server"
# The number as the engine may write it: as is, bare digits, spoken digit by digit.
TRACES = (CALLER, CALLER[1:], " ".join(CALLER[1:]), "5555550100")

FLOW = """
id: private
numbers: ["+15005550006"]
escape: {queue: support}
agents: [{id: alice, phone: "+15005550010", queues: [support]}]
queues: {support: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Say billing or press 1. Press 2 for a message. Press 0 or say agent for a person."
      options:
        - {digit: "1", phrases: [billing], goto: account}
        - {digit: "2", goto: message}
  account:
    ask: {prompt: "Your account number?", digits: {min: 4, max: 8}, save_as: account}
    next: later
  later: {callback: {queue: support}}
  message: {voicemail: {say: "Leave a message after the tone."}}
"""


@contextmanager
def server(db_url: str, spool: Path, privacy: Privacy) -> Iterator[tuple[FakeTwilio, StoreCallLog]]:
    log = StoreCallLog.open(db_url, spool, privacy)
    catalog = Catalog((load_text(FLOW, "private.yaml"),))
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}), lambda: catalog, log, clock=lambda: NOW
    )
    try:
        with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
            yield twilio, log
    finally:
        log.close()


def every_call_kind(twilio: FakeTwilio) -> tuple[Call, str]:
    """A spoken menu choice, a callback placed by an agent and finished, a voicemail, a
    status callback. Returns the callback call and the number the agent's call dialed."""
    call = twilio.dial([WORDS, "4321#", ""], caller=CALLER)  # silence: our own number
    assert call.end == "hangup" and any("call you back" in h for h in call.heard)
    agent = twilio.post(
        twilio.base_url + "/twilio/agent", {"CallSid": "CAagent", "From": ALICE, "To": "+1"}
    )
    root = ET.fromstring(agent.text)
    number, dial = root.find("Dial/Number"), root.find("Dial")
    assert number is not None and dial is not None
    done = urljoin(twilio.base_url + "/twilio/agent", dial.get("action", ""))
    twilio.post(done, {"CallSid": "CAagent", "From": ALICE, "DialCallStatus": "completed"})
    status = {"CallSid": call.sid, "CallStatus": "completed", "CallDuration": "61"}
    twilio.post(twilio.base_url + "/twilio/status", {**status, "From": CALLER})
    message = twilio.dial(["2"], caller=CALLER)
    assert message.end == "record"
    recorded = {"CallSid": message.sid, "From": CALLER, "RecordingUrl": RECORDING}
    twilio.post(message.end_url, {**recorded, "RecordingDuration": "7"})
    return call, number.text or ""


def database_text(log: StoreCallLog, *, leave_out: str = "") -> str:
    """Every value of every table (but `leave_out`), as text, once pending writes landed."""
    log.flush()
    store = log.store
    tables = MetaData()
    tables.reflect(store.engine)
    parts: list[str] = []
    with store.engine.connect() as connection:
        for table in tables.sorted_tables:
            if table.name == leave_out:
                continue
            for row in connection.execute(select(table)):
                parts.extend(json.dumps(v, default=str) for v in row)
    return "\n".join(parts)


def test_with_hashing_on_no_raw_number_words_or_recording_reach_the_database(
    db_url: str, tmp_path: Path
) -> None:
    privacy = Privacy(numbers="hash", hash_key=KEY, speech=False, recordings=False)
    with server(db_url, tmp_path / "spool", privacy) as (twilio, log):
        call, dialed = every_call_kind(twilio)
        context = httpx.get(f"{twilio.base_url}/api/calls/{call.sid}").json()
        text = database_text(log)
    assert dialed == CALLER  # the callback still reached the real number
    for trace in TRACES:
        assert trace not in text, f"{trace!r} is in the database"
    assert "Zebulon" not in text and "RE5eCRet" not in text
    assert privacy.number(CALLER) in text
    assert context["caller"] == privacy.number(CALLER)
    assert context["said"] == ["[speech]"]
    assert context["values"] == {"account": "4321"}  # what the agent needs is kept


def test_the_scan_finds_what_is_kept_when_protection_is_off(db_url: str, tmp_path: Path) -> None:
    with server(db_url, tmp_path / "spool", Privacy()) as (twilio, log):
        every_call_kind(twilio)
        text = database_text(log)
    assert all(trace in text for trace in TRACES)
    assert "Zebulon" in text and "RE5eCRet" in text


def test_repeat_callers_can_still_be_counted_when_hashed(db_url: str, tmp_path: Path) -> None:
    privacy = Privacy(numbers="hash", hash_key=KEY)
    with server(db_url, tmp_path / "spool", privacy) as (twilio, log):
        for caller in (CALLER, CALLER, "+15555550111"):
            twilio.dial(["0"], caller=caller)
        log.flush()
        with log.store.engine.connect() as connection:
            callers = sorted(connection.scalars(select(calls.c.caller)))
    assert len(callers) == 3 and len(set(callers)) == 2
    assert callers.count(privacy.number(CALLER)) == 2


def test_masked_numbers_and_a_pending_callback_keeps_the_real_one(
    db_url: str, tmp_path: Path
) -> None:
    privacy = Privacy(numbers="mask")
    with server(db_url, tmp_path / "spool", privacy) as (twilio, log):
        call = twilio.dial(["1", "4321#"], caller=CALLER)
        context = httpx.get(f"{twilio.base_url}/api/calls/{call.sid}").json()
        text = database_text(log, leave_out="callbacks")
        pending = log.store.callbacks_for(call.sid)
    assert context["caller"] == "+1555555****"
    assert all(trace not in text for trace in TRACES)
    # Until an agent has placed it, the callback needs the number it will dial.
    assert [(c.status, c.number) for c in pending] == [("pending", CALLER)]


def test_the_spool_keeps_no_raw_number_either(tmp_path: Path) -> None:
    privacy = Privacy(numbers="hash", hash_key=KEY, speech=False)
    unreachable = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    spool = SpoolingEventLog(unreachable, tmp_path / "spool")
    state = CallState("CAspool", "private", "v1", CALLER, "+15005550006", NOW)
    state = state.moved(turns=(Turn("menu", "speech", WORDS),))
    event = Event("call_started", NOW, None, {"caller": CALLER}, seq=1)
    call_log = StoreCallLog(unreachable, spool, privacy)
    call_log.record(state, [event])
    call_log.close()  # the write-behind thread spools what the database refused
    written = "".join(p.read_text() for p in (tmp_path / "spool").glob("*.jsonl"))
    assert written and privacy.number(CALLER) in written
    assert all(trace not in written for trace in TRACES) and "Zebulon" not in written
    unreachable.close()


def test_numbers_are_protected_once_and_only_with_a_key() -> None:
    hashed = Privacy(numbers="hash", hash_key=KEY)
    assert hashed.number(CALLER) == hashed.number(CALLER)
    assert hashed.number(hashed.number(CALLER)) == hashed.number(CALLER)
    assert Privacy(numbers="hash", hash_key=b"another").number(CALLER) != hashed.number(CALLER)
    masked = Privacy(numbers="mask")
    assert masked.number(masked.number(CALLER)) == "+1555555****"
    assert masked.number("") == "" and Privacy().number(CALLER) == CALLER
    with pytest.raises(PrivacyError, match="IVR_HASH_KEY"):
        Privacy(numbers="hash")
    with pytest.raises(PrivacyError, match="keep, mask or hash"):
        Privacy.from_env({"IVR_STORE_NUMBERS": "encrypt"})
    from_env = Privacy.from_env({"IVR_STORE_SPEECH": "off", "IVR_STORE_RECORDINGS": "0"})
    assert (from_env.speech, from_env.recordings) == (False, False)


def test_the_agent_hears_no_hash_read_out_as_digits() -> None:
    flow = load_text(FLOW, "private.yaml").flow
    base = {"dialed": "", "flow": "private", "path": [], "values": {}, "said": []}
    hashed = Privacy(numbers="hash", hash_key=KEY).number(CALLER)
    assert "from a number kept private." in whisper({**base, "caller": hashed}, flow)
    masked = whisper({**base, "caller": "+1555555****"}, flow)
    assert "from a number starting 1 5 5 5 5 5 5." in masked
