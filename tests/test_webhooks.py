"""The Twilio webhooks end to end: real HTTP, requests signed as Twilio signs them, TwiML
followed as Twilio follows it."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
from twilio.request_validator import RequestValidator

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import LoadedFlow, load_text
from ivr.ports import MemoryCallLog
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "test-auth-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York

FLOW = """
id: web
escape: {queue: support}
hours:
  office: {timezone: America/New_York, open: {mon-fri: "08:00-20:00"}}
queues: {support: {callback: {offer_after: 30s}}}
start: greeting
nodes:
  greeting: {say: "Welcome. Press 0 or say agent at any time.", next: main}
  main:
    menu:
      prompt: "Billing press 1. Sales press 2. Hours press 3."
      options:
        - {digit: "1", phrases: [billing], goto: account}
        - {digit: "2", phrases: [sales], goto: sales}
        - {digit: "3", phrases: [hours], goto: check}
  account:
    ask: {prompt: "Enter your account number and press pound.",
          digits: {min: 4, max: 8}, save_as: account}
    next: done
  done: {end: {say: "Account {account} is paid up.", resolved: true}}
  sales: {transfer: {to: "+15005550011", on_fail: sales_vm}}
  sales_vm: {voicemail: {say: "Leave a message for sales."}}
  check: {hours: office, open: done_open, closed: closed_callback}
  done_open: {end: {say: "We are open weekdays.", resolved: true}}
  closed_callback: {callback: {queue: support}}
"""


@pytest.fixture
def loaded() -> LoadedFlow:
    return load_text(FLOW, "web.yaml")


@pytest.fixture
def twilio(loaded: LoadedFlow, call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    catalog = Catalog((loaded,))
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN})
    app = create_app(settings, lambda: catalog, call_log, clock=lambda: NOW)
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def kinds(log: StoreCallLog, sid: str) -> list[str]:
    return [e.kind for e in log.events_of(sid)]


def test_self_service_call(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["1", "12345#"])
    assert call.end == "hangup"
    assert "Account 12345 is paid up." in call.heard
    assert kinds(call_log, call.sid)[0] == "call_started"
    assert "call_ended" in kinds(call_log, call.sid)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_step_answered_on_the_event_loop_waits_for_its_journal_line_alone(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    """A menu choice is answered on the event loop: its answer waits until its journal
    line is on disk (nothing answered for is lost), and the loop answers others meanwhile."""
    call = twilio.dial([])  # the greeting and the menu; the caller hangs up at the menu
    menu = ET.fromstring(call.documents[-1]).find("Gather")
    assert menu is not None
    gather = urljoin(twilio.base_url, menu.get("action", ""))
    params = {"CallSid": call.sid, "From": "+15555550100", "To": "+15005550006", "Digits": "3"}
    answers: list[int] = []
    journal = call_log.writer.journal
    with journal._syncing:  # no commit can happen: the disk is slow, say
        choice = threading.Thread(
            target=lambda: answers.append(twilio.post(gather, params).status_code)
        )
        choice.start()
        choice.join(0.5)
        assert answers == []  # not answered before its line is on disk
        assert twilio.http.get(urljoin(twilio.base_url, "/healthz")).status_code == 200
    choice.join(10)
    assert answers == [200]
    call_log.flush()
    assert "input" in kinds(call_log, call.sid)


@pytest.mark.parametrize(
    ("turns", "via"),
    [
        pytest.param(["0"], "digit", id="zero-at-menu"),
        pytest.param(["I need a real person please"], "speech", id="phrase-at-menu"),
        pytest.param(["1", "0"], "digit", id="zero-at-ask"),
        pytest.param(["billing", "representative"], "speech", id="phrase-at-ask"),
        pytest.param(["", "", ""], "failures", id="silence-until-person"),
        pytest.param(["pizza", "9", "what"], "failures", id="garbage-until-person"),
    ],
)
def test_escape_reaches_a_queue(
    twilio: FakeTwilio, call_log: StoreCallLog, turns: list[str], via: str
) -> None:
    call = twilio.dial(turns)
    assert call.end == "queue:support"
    escapes = [e for e in call_log.events_of(call.sid) if e.kind == "escape"]
    assert [e.details["via"] for e in escapes] == [via]


def test_escape_is_answered_directly_with_enqueue(twilio: FakeTwilio) -> None:
    call = twilio.dial(["0"])
    last = ET.fromstring(call.documents[-1])
    assert [v.tag for v in last] == ["Say", "Enqueue"]  # no Redirect in between


def test_gather_listens_for_keys_and_speech_with_escape_hints(twilio: FakeTwilio) -> None:
    call = twilio.dial([""])
    gather = ET.fromstring(call.documents[0]).find("Gather")
    assert gather is not None
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "en-US"
    hints = gather.get("hints", "")
    assert "agent" in hints and "billing" in hints
    assert gather.get("actionOnEmptyResult") == "true"


def test_unsigned_and_mis_signed_requests_are_refused(twilio: FakeTwilio) -> None:
    url = twilio.base_url + "/twilio/voice"
    params = {"CallSid": "CA1", "From": "+15555550100", "To": "+15005550006"}
    assert twilio.post(url, params, sign=False).status_code == 403
    wrong = RequestValidator("another-token").compute_signature(url, params)
    assert twilio.post(url, params, signature=wrong).status_code == 403
    assert (
        twilio.post(
            url,
            {**params, "From": "+1999"},
            signature=twilio.validator.compute_signature(url, params),
        ).status_code
        == 403
    )


def test_blank_parameters_are_part_of_the_signature(twilio: FakeTwilio) -> None:
    call = twilio.dial(["0"])
    _, first_params = call.requests[0]
    assert first_params["CallerName"] == ""  # signed and accepted with the blank value
    assert call.end == "queue:support"


def test_tampered_state_in_the_url_still_reaches_a_person(twilio: FakeTwilio) -> None:
    call = twilio.dial([""])
    url = twilio.base_url + "/twilio/gather?t=garbage"
    params = {"CallSid": call.sid, "From": "+15555550100", "To": "+15005550006", "Digits": "1"}
    response = twilio.post(url, params)
    assert response.status_code == 200
    verbs = [v.tag for v in ET.fromstring(response.text)]
    assert "Enqueue" in verbs


def test_oversized_input_reaches_a_person(twilio: FakeTwilio) -> None:
    call = twilio.dial([""])
    gather_url = call.requests[-1][0]
    params = {"CallSid": call.sid, "From": "+1", "To": "+15005550006", "SpeechResult": "x" * 5000}
    response = twilio.post(gather_url, params)
    assert response.status_code == 200 and "<Enqueue" in response.text


def test_a_signed_body_larger_than_twilio_sends_is_checked_whole(twilio: FakeTwilio) -> None:
    """Found by tests/test_fuzz_webhooks.py: a body cut short before the signature check
    failed it, so a correctly signed request got 403 instead of a person."""
    call = twilio.dial([""])
    gather_url = call.requests[-1][0]
    params = {"CallSid": call.sid, "From": "+1", "To": "+15005550006", "CallerName": "é" * 40_000}
    response = twilio.post(gather_url, params)
    assert response.status_code == 200 and "<Gather" in response.text  # silence: asked again


def test_junk_in_a_signed_request_never_stops_the_database_keeping_the_call(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    """Found by tests/test_fuzz_webhooks.py on PostgreSQL: a NUL character or a value longer
    than a column made the database refuse the call's events (and look down for everyone)."""
    sid = "CA" + "7" * 32
    junk = {"CallSid": sid + "x" * 100, "From": "+1555\x00" + "9" * 300, "To": "+15005550006"}
    answer = twilio.post(twilio.base_url + "/twilio/voice", junk)
    gather = ET.fromstring(answer.text).find("Gather")
    assert gather is not None
    action = twilio.base_url + (gather.get("action") or "")
    said = twilio.post(action, {**junk, "SpeechResult": "bill\x00ing"})
    assert said.status_code == 200
    call_log.flush()  # every write is journalled on disk first; now it is replayed
    assert call_log.spool.depth() == 0
    assert not call_log.spool.database_down()
    kinds = [e.kind for e in call_log.events_of((sid + "x" * 100)[:64])]
    assert kinds[0] == "call_started" and "input" in kinds


def test_retried_webhook_writes_no_duplicate_events(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["1", "12345#"])
    before = call_log.events_of(call.sid)
    url, params = call.requests[1]  # the menu answer, as Twilio would retry it
    again = twilio.post(url, params)
    assert again.text == call.documents[1]
    assert call_log.events_of(call.sid) == before
    first_url, first_params = call.requests[0]
    assert twilio.post(first_url, first_params).text == call.documents[0]
    assert call_log.events_of(call.sid) == before


def test_transfer_busy_goes_to_on_fail(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["2"])
    assert call.end == "dial:+15005550011"
    params = {
        "CallSid": call.sid,
        "From": "+15555550100",
        "To": "+15005550006",
        "DialCallStatus": "busy",
    }
    response = twilio.post(call.end_url, params)
    assert [v.tag for v in ET.fromstring(response.text)][-2:] == ["Record", "Hangup"]
    transfers = [e.details for e in call_log.events_of(call.sid) if e.kind == "transfer"]
    assert transfers[-1] == {"status": "busy"}


def test_whisper_tells_the_person_what_the_caller_did(twilio: FakeTwilio) -> None:
    call = twilio.dial(["2"])
    dial = ET.fromstring(call.documents[-1]).find("Dial")
    assert dial is not None
    number = dial.find("Number")
    assert number is not None
    whisper_url = twilio.base_url + (number.get("url") or "")
    response = twilio.post(whisper_url, {"CallSid": "CA-leg", "From": "+1", "To": "+15005550011"})
    assert "Path: greeting, main, sales" in response.text


def test_fallback_always_reaches_a_person(twilio: FakeTwilio) -> None:
    call = twilio.dial([""])
    error_url = call.requests[-1][0]
    params = {
        "CallSid": call.sid,
        "From": "+15555550100",
        "To": "+15005550006",
        "ErrorCode": "11200",
        "ErrorUrl": error_url,
    }
    response = twilio.post(twilio.base_url + "/twilio/fallback", params)
    assert response.status_code == 200
    assert "<Enqueue" in response.text


def test_fallback_without_any_state_reaches_a_person(twilio: FakeTwilio) -> None:
    params = {"CallSid": "CAunknown", "From": "+15555550100", "To": "+19999999999"}
    response = twilio.post(twilio.base_url + "/twilio/fallback", params)
    assert response.status_code == 200 and "<Enqueue" in response.text


def test_status_callback_ends_the_call_once(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    params = {
        "CallSid": call.sid,
        "From": "+1",
        "To": "+15005550006",
        "CallStatus": "completed",
        "CallDuration": "42",
        "SequenceNumber": "3",
    }
    for _ in range(2):  # Twilio retries
        response = twilio.post(twilio.base_url + "/twilio/status", params)
        assert response.status_code == 204
    ended = [e for e in call_log.events_of(call.sid) if e.kind == "call_ended"]
    assert len(ended) == 1 and ended[0].details["duration"] == "42"


def test_call_context_api(twilio: FakeTwilio) -> None:
    call = twilio.dial(["billing", "0"])
    context = twilio.http.get(f"{twilio.base_url}/api/calls/{call.sid}").json()
    assert context["path"] == ["greeting", "main", "account"]
    assert context["said"] == ["billing"]
    assert context["route"] == "queue:support"


def test_state_in_the_url_lets_any_worker_take_the_call(
    loaded: LoadedFlow, twilio: FakeTwilio
) -> None:
    call = twilio.dial(["1"])
    gather = ET.fromstring(call.documents[-1]).find("Gather")
    assert gather is not None
    token = parse_qs(urlparse(gather.get("action", "")).query)["t"][0]
    other = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        MemoryCallLog(),  # a worker that has never seen this call
        clock=lambda: NOW,
    )
    with serve(other) as base, FakeTwilio(base, TOKEN) as worker:
        url = f"{base}/twilio/gather?t={token}"
        params = {
            "CallSid": call.sid,
            "From": "+15555550100",
            "To": "+15005550006",
            "Digits": "5555#",
        }
        assert "Account 5555 is paid up." in worker.post(url, params).text


def test_forced_internal_error_reaches_a_person(loaded: LoadedFlow) -> None:
    broken = LoadedFlow(
        loaded.flow.model_copy(update={"hours": {}}), "web.yaml", "v", loaded.source
    )
    log = MemoryCallLog()
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((broken,)),
        log,
        clock=lambda: NOW,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        call = caller.dial(["3"])
    assert call.end == "queue:support"
    escapes = [e.details for e in log.events_of(call.sid) if e.kind == "escape"]
    assert escapes[0]["via"] == "error"


def test_server_refuses_to_start_without_a_token(loaded: LoadedFlow) -> None:
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        create_app(Settings.from_env({}), lambda: Catalog((loaded,)), MemoryCallLog())
    insecure = create_app(
        Settings.from_env({}, insecure_dev=True), lambda: Catalog((loaded,)), MemoryCallLog()
    )
    with serve(insecure) as base, FakeTwilio(base, "anything") as caller:
        response = caller.post(
            base + "/twilio/voice", {"CallSid": "CA1", "To": "+1", "From": "+1"}, sign=False
        )
        assert response.status_code == 200


def test_public_url_is_used_for_signatures(loaded: LoadedFlow) -> None:
    settings = Settings.from_env(
        {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": "https://ivr.example.com/"}
    )
    app = create_app(settings, lambda: Catalog((loaded,)), MemoryCallLog(), clock=lambda: NOW)
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        params = {"CallSid": "CA2", "From": "+15555550100", "To": "+15005550006"}
        public = "https://ivr.example.com/twilio/voice"
        signature = caller.validator.compute_signature(public, params)
        assert caller.post(base + "/twilio/voice", params, signature=signature).status_code == 200
        assert caller.post(base + "/twilio/voice", params).status_code == 403  # signed internal URL
        # Twilio sometimes signs with the default port written out: still Twilio.
        with_port = "https://ivr.example.com:443/twilio/voice"
        signature = caller.validator.compute_signature(with_port, params)
        assert caller.post(base + "/twilio/voice", params, signature=signature).status_code == 200
        elsewhere = "https://ivr.example.com:8443/twilio/voice"
        signature = caller.validator.compute_signature(elsewhere, params)
        assert caller.post(base + "/twilio/voice", params, signature=signature).status_code == 403


def test_forwarded_headers_rebuild_the_public_url(loaded: LoadedFlow) -> None:
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        MemoryCallLog(),
        clock=lambda: NOW,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        params = {"CallSid": "CA3", "From": "+15555550100", "To": "+15005550006"}
        signature = caller.validator.compute_signature("https://abc.ngrok.app/twilio/voice", params)
        response = caller.http.post(
            base + "/twilio/voice",
            data=params,
            headers={
                "X-Twilio-Signature": signature,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "abc.ngrok.app",
            },
        )
        assert response.status_code == 200
