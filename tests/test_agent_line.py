"""The agent line: the oldest waiting item of the agent's queues, context first."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import LoadedFlow, load_text
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "agent-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ALICE = "+15005550010"

FLOW = """
id: desk
numbers: ["+15005550006"]
escape: {queue: support}
agents:
  - {id: alice, phone: "+15005550010", queues: [support]}
  - {id: bob, client: bob, queues: [support]}
queues: {support: {callback: {offer_after: 1m}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for billing, or 0 or say agent for a person."
      options: [{digit: "1", phrases: [billing], goto: account}]
  account:
    ask: {prompt: "Your account number?", digits: {min: 4, max: 8}, save_as: account}
    next: billing
  billing: {queue: support}
"""


@pytest.fixture
def twilio(call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    loaded: LoadedFlow = load_text(FLOW, "desk.yaml")
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        call_log,
        clock=lambda: NOW,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def agent_calls(twilio: FakeTwilio, who: str = ALICE) -> ET.Element:
    params = {"CallSid": "CAagent", "From": who, "To": "+15005550099", "CallStatus": "in-progress"}
    response = twilio.post(twilio.base_url + "/twilio/agent", params)
    assert response.status_code == 200
    return ET.fromstring(response.text)


def test_stranger_is_refused_politely(twilio: FakeTwilio) -> None:
    root = agent_calls(twilio, "+19998887777")
    assert [v.tag for v in root] == ["Say", "Hangup"]
    assert "for our agents" in (root[0].text or "")


def test_agent_with_nobody_waiting_holds_and_polls(twilio: FakeTwilio) -> None:
    assert [v.tag for v in agent_calls(twilio)] == ["Say", "Pause", "Redirect"]


def test_agent_gets_the_live_caller_with_context(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["billing", "4321#"])
    assert call.end == "queue:support"
    root = agent_calls(twilio)
    assert root[0].tag == "Say"
    assert "account: 4321" in (root[0].text or "") and "billing" in (root[0].text or "")
    queue = root.find("Dial/Queue")
    assert queue is not None and queue.text == "support"
    # Twilio requests the Queue url for the caller just before the bridge.
    bridge = twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", queue.get("url", "")),
        {
            "CallSid": call.sid,
            "QueueSid": "QU1",
            "QueueTime": "42",
            "DequeingCallSid": "CAagent",
            "From": "+15555550100",
            "To": "+15005550006",
        },
    )
    assert [v.tag for v in ET.fromstring(bridge.text)] == ["Say"]
    connected = [e for e in call_log.events_of(call.sid) if e.kind == "agent_connected"]
    assert len(connected) == 1 and connected[0].details["agent"] == "alice"
    assert call_log.waiting_callers(["support"], NOW) == []


def take_callback(twilio: FakeTwilio, call: Call) -> None:
    enqueue = ET.fromstring(call.documents[-1]).find("Enqueue")
    assert enqueue is not None
    wait_url = urljoin(twilio.base_url, enqueue.get("waitUrl", ""))
    params = {
        "CallSid": call.sid,
        "From": "+15555550100",
        "To": "+15005550006",
        "QueuePosition": "4",
        "QueueTime": "90",
        "AvgQueueTime": "300",
        "CurrentQueueSize": "4",
    }
    gather = ET.fromstring(twilio.post(wait_url, params).text).find("Gather")
    assert gather is not None
    confirm = twilio.post(urljoin(wait_url, gather.get("action", "")), {**params, "Digits": "1"})
    redirect = ET.fromstring(confirm.text).find("Redirect")
    assert redirect is not None
    twilio.post(urljoin(wait_url, redirect.text or ""), params)  # silence: own number
    twilio.post(call.end_url, {**params, "QueueResult": "leave"})


def test_queue_wait_callback_then_agent_places_it(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["billing", "9876#"])
    take_callback(twilio, call)
    root = agent_calls(twilio)
    assert "Calling back 1 5 5 5 5 5 5 0 1 0 0" in (root[0].text or "")
    assert "account: 9876" in (root[0].text or "")
    number = root.find("Dial/Number")
    dial = root.find("Dial")
    assert number is not None and dial is not None
    assert number.text == "+15555550100"
    assert dial.get("callerId") == "+15005550006"  # the number the customer called
    answered = twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", number.get("url", "")),
        {"CallSid": "CAleg", "From": "+15005550006", "To": "+15555550100"},
    )
    assert "calling you back" in answered.text
    done = twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", dial.get("action", "")),
        {"CallSid": "CAagent", "From": ALICE, "To": "+1", "DialCallStatus": "completed"},
    )
    assert ET.fromstring(done.text).find("Gather") is not None  # offered the next caller
    kinds = [e.kind for e in call_log.events_of(call.sid)]
    assert kinds.count("callback_dialed") == 1 and kinds.count("callback_connected") == 1
    assert [c.status for c in call_log.callbacks_for(call.sid)] == ["completed"]
    assert [v.tag for v in agent_calls(twilio)] == ["Say", "Pause", "Redirect"]  # nothing left


def test_two_agents_never_get_the_same_callback(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    take_callback(twilio, call)
    first = agent_calls(twilio, ALICE)
    second = agent_calls(twilio, "client:bob")
    assert first.find("Dial/Number") is not None
    assert second.find("Dial/Number") is None


def test_a_callback_keeps_its_place_ahead_of_later_live_callers(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    live = twilio.dial(["0"])
    asked = twilio.dial(["0"], caller="+15555550111")
    take_callback(twilio, asked)
    # The callback keeps the place its caller had (in line since 90 s before NOW); the live
    # caller joined at NOW, so the agent gets the callback first, then the live caller.
    assert agent_calls(twilio).find("Dial/Number") is not None
    assert call_log.callbacks_for(asked.sid)[0].status == "claimed"
    queue = agent_calls(twilio, "client:bob").find("Dial/Queue")
    assert queue is not None and live.end == "queue:support"


def test_unanswered_callback_is_tried_again_in_10_minutes_by_default(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["0"])
    take_callback(twilio, call)
    dial = agent_calls(twilio).find("Dial")
    assert dial is not None
    twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", dial.get("action", "")),
        {"CallSid": "CAagent", "From": ALICE, "To": "+1", "DialCallStatus": "no-answer"},
    )
    retry = [e for e in call_log.events_of(call.sid) if e.kind == "callback_retry"]
    assert retry and retry[0].details["status"] == "no-answer"
    [callback] = call_log.callbacks_for(call.sid)
    assert callback.status == "pending" and callback.request.not_before == NOW + timedelta(
        minutes=10
    )
