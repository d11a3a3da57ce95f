"""A callback whose customer does not answer is tried again on the queue's schedule
(`callback.retry`), keeping its place in line, and has failed after the last try."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urljoin

import pytest

from analytics.call_log import StoreCallLog
from analytics.reports import StoreReports
from flows.catalog import Catalog
from flows.loader import load_text
from tests.test_agent_line import ALICE, FLOW, take_callback
from tests.test_reports_e2e import Clock, hang_up, outcome
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "retry-token"
RETRY_FLOW = FLOW.replace(
    "queues: {support: {callback: {offer_after: 1m}}}",
    "queues: {support: {callback: {offer_after: 1m, retry: [5m, 30m]}}}",
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def twilio(call_log: StoreCallLog, clock: Clock) -> Iterator[FakeTwilio]:
    assert RETRY_FLOW != FLOW
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((load_text(RETRY_FLOW, "desk.yaml"),)),
        call_log,
        clock=clock,
        reports=StoreReports(call_log.store),
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def agent_line(twilio: FakeTwilio) -> ET.Element:
    params = {"CallSid": "CAagent", "From": ALICE, "To": "+15005550099"}
    return ET.fromstring(twilio.post(twilio.base_url + "/twilio/agent", params).text)


def dial_ends(twilio: FakeTwilio, status: str, *, answered: bool = False) -> str:
    """The agent line places the callback; the customer's phone ends the dial with `status`.
    Returns what the agent hears next."""
    root = agent_line(twilio)
    number, dial = root.find("Dial/Number"), root.find("Dial")
    assert number is not None and dial is not None, ET.tostring(root)
    if answered:
        twilio.post(
            urljoin(twilio.base_url + "/twilio/agent", number.get("url", "")),
            {"CallSid": "CAleg", "ParentCallSid": "CAagent", "From": "+15005550006"},
        )
    done = {"CallSid": "CAagent", "From": ALICE, "DialCallStatus": status}
    url = urljoin(twilio.base_url + "/twilio/agent", dial.get("action", ""))
    heard = twilio.post(url, done).text
    twilio.post(url, done)  # Twilio retries the request: nothing moves twice
    return " ".join(v.text or "" for v in ET.fromstring(heard).iter("Say"))


def kinds(call_log: StoreCallLog, call: Call) -> list[str]:
    return [e.kind for e in call_log.events_of(call.sid) if e.kind.startswith("callback_")]


def test_busy_then_no_answer_then_answered(
    twilio: FakeTwilio, call_log: StoreCallLog, clock: Clock
) -> None:
    call = twilio.dial(["0"])
    take_callback(twilio, call)
    hang_up(twilio, call)
    [booked] = call_log.callbacks_for(call.sid)

    assert "try again in 5 minutes" in dial_ends(twilio, "busy")
    [retry] = call_log.callbacks_for(call.sid)
    assert retry.status == "pending"
    assert retry.request.not_before == clock.now + timedelta(minutes=5)
    assert retry.request.place_at == booked.request.place_at  # its place in line is kept
    assert agent_line(twilio).find("Dial") is None  # not before its retry time
    assert outcome(twilio, call) == "callback_requested"

    clock.wait(5 * 60)
    assert "try again in 30 minutes" in dial_ends(twilio, "no-answer")
    clock.wait(30 * 60)
    dial_ends(twilio, "completed", answered=True)

    assert [c.status for c in call_log.callbacks_for(call.sid)] == ["completed"]
    assert kinds(call_log, call).count("callback_failed") == 0
    events = call_log.events_of(call.sid)
    dialed = [e for e in events if e.kind == "callback_dialed"]
    assert [e.details["attempt"] for e in dialed] == [1, 2, 3]
    retries = [e.details["status"] for e in events if e.kind == "callback_retry"]
    assert retries == ["busy", "no-answer"]
    assert outcome(twilio, call) == "callback_completed"


def test_never_answered_fails_after_the_last_try(
    twilio: FakeTwilio, call_log: StoreCallLog, clock: Clock
) -> None:
    call = twilio.dial(["0"])
    take_callback(twilio, call)
    hang_up(twilio, call)
    dial_ends(twilio, "no-answer")
    clock.wait(5 * 60)
    dial_ends(twilio, "busy")
    clock.wait(30 * 60)
    heard = dial_ends(twilio, "no-answer")
    assert "after 3 tries" in heard
    assert [c.status for c in call_log.callbacks_for(call.sid)] == ["failed"]
    failed = [e for e in call_log.events_of(call.sid) if e.kind == "callback_failed"]
    assert len(failed) == 1 and failed[0].details["attempts"] == 3
    assert failed[0].details["status"] == "no-answer"
    clock.wait(24 * 3600)
    assert agent_line(twilio).find("Dial") is None  # no fourth try
    assert outcome(twilio, call) == "callback_failed"


def test_a_callback_handed_back_undialed_does_not_use_up_a_try(
    twilio: FakeTwilio, call_log: StoreCallLog, clock: Clock
) -> None:
    live = twilio.dial(["0"])
    clock.wait(200)
    asked = twilio.dial(["0"])
    take_callback(twilio, asked)  # in line since 90 s ago: after the live caller
    root = agent_line(twilio)  # the callback is claimed, then handed back undialed
    queue = root.find("Dial/Queue")
    assert queue is not None
    twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", queue.get("url", "")),
        {"CallSid": live.sid, "QueueTime": "200", "DequeingCallSid": "CAagent"},
    )
    root = agent_line(twilio)
    assert root.find("Dial/Number") is not None
    assert "Try" not in " ".join(v.text or "" for v in root.iter("Say"))
    dialed = [e for e in call_log.events_of(asked.sid) if e.kind == "callback_dialed"]
    assert [e.details["attempt"] for e in dialed] == [1]
