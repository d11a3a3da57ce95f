"""A flow's callback (closed hours, a `callback` node) confirms the number like the
queue's offer does: silence keeps the caller's own number, keys choose another one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_path
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "flow-callback-token"
SUNDAY_NIGHT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 in New York
CALLER = "+15555550100"
EXAMPLE = Path(__file__).parent.parent / "flows.example.yaml"


@pytest.fixture
def twilio(call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    loaded = load_path(EXAMPLE)
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        call_log,
        clock=lambda: SUNDAY_NIGHT,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def said(document: str) -> str:
    return " ".join(v.text or "" for v in ET.fromstring(document).iter("Say"))


def question(call: Call) -> ET.Element:
    """The number question the call stopped at (the caller hung up on it)."""
    gather = ET.fromstring(call.documents[-1]).find("Gather")
    assert gather is not None and "/twilio/callback-number" in gather.get("action", "")
    return gather


def test_silence_confirms_the_callers_own_number(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["4", ""])  # "our hours" while closed, then silence at the question
    assert call.end == "hangup"
    asked, booked = call.documents[-2], call.documents[-1]
    assert "number ending in 0 1 0 0" in said(asked)
    assert "We are closed now" not in said(asked)  # the booking's words wait for the answer
    assert "We are closed now. We will call you back" in said(booked)
    [callback] = call_log.callbacks_for(call.sid)
    assert callback.request.number == CALLER
    assert callback.request.not_before == MONDAY_OPENING


def test_caller_keys_another_number(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["4"])
    action = urljoin(twilio.base_url, question(call).get("action", ""))
    params = {"CallSid": call.sid, "From": CALLER, "To": "+15005550006", "Digits": "2125550123"}
    answer = twilio.post(action, params)
    assert [v.tag for v in ET.fromstring(answer.text)] == ["Say", "Hangup"]
    twilio.post(action, params)  # Twilio retries the request: still one callback
    [callback] = call_log.callbacks_for(call.sid)
    assert callback.request.number == "+12125550123"
    assert callback.request.not_before == MONDAY_OPENING
    requested = [e for e in call_log.events_of(call.sid) if e.kind == "callback_requested"]
    assert requested[-1].details["number"] == "+12125550123"


def test_a_number_that_cannot_be_one_keeps_the_callers(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["4"])
    action = urljoin(twilio.base_url, question(call).get("action", ""))
    answer = twilio.post(action, {"CallSid": call.sid, "From": CALLER, "Digits": "12"})
    assert "did not look like a phone number" in said(answer.text)
    assert [c.request.number for c in call_log.callbacks_for(call.sid)] == [CALLER]


def test_hanging_up_at_the_question_still_gets_a_callback(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["4"])
    question(call)
    assert [c.request.number for c in call_log.callbacks_for(call.sid)] == [CALLER]


def test_escape_to_a_closed_queue_says_when_we_open_after_the_question(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["0", ""])
    assert call.end == "hangup"
    assert "when we open" in said(call.documents[-1])
    assert "Monday" in said(call.documents[-1])
    [callback] = call_log.callbacks_for(call.sid)
    assert callback.request.not_before == MONDAY_OPENING


def test_a_withheld_number_is_offered_voicemail(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["4"], caller="anonymous")
    assert call.end == "record"
    assert call_log.callbacks_for(call.sid) == []
