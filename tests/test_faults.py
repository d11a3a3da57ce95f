"""Faults around a call: a worker killed mid-call, Twilio retrying a webhook, a status
callback that overtakes the call's last action request. Real servers, a real database
(SQLite file and PostgreSQL), real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from tests.twilio_caller import FakeTwilio, free_port, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "faults-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
FLOW = """
id: faults
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
agents: [{id: al, phone: "+15005550010", queues: [support]}]
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for your balance. Press 0 or say agent for a person."
      options: [{digit: "1", goto: account}]
  account:
    ask: {prompt: "Your account number?", digits: {min: 4, max: 8}, save_as: account}
    next: done
  done: {end: {say: "Account {account}: nothing due.", resolved: true}}
"""
FIELDS = {"AccountSid": "AC" + "0" * 32, "From": "+15555550100", "To": "+15005550006"}


def numbers_of(log: StoreCallLog, sid: str) -> list[int]:
    return [e.seq for e in log.events_of(sid)]


def main_line(numbers: list[int]) -> list[int]:
    return [n for n in numbers if n < 100_000]  # see webhooks.sequence


def next_url(url: str, document: str) -> str:
    gather = ET.fromstring(document).find("Gather")
    assert gather is not None, document
    return urljoin(url, gather.get("action", ""))


# --- a worker killed mid-call -----------------------------------------------------------


@contextmanager
def ivr_serve(flow: Path, db_url: str, spool: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": ""}
    command = ["serve", "--flows", str(flow), "--db", db_url, "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr", *command, "--spool", str(spool), "--no-watch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"ivr serve did not start:\n{process.communicate()[1]}")
        time.sleep(0.1)
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)


def test_a_worker_killed_mid_call_the_call_goes_on_on_the_other(
    db_url: str, tmp_path: Path
) -> None:
    flow = tmp_path / "faults.yaml"
    flow.write_text(FLOW)
    StoreCallLog.open(db_url, tmp_path / "migrate").close()  # migrate once, first
    with ExitStack() as stack:
        # Two workers on one host share its spool folder: every write is journalled there
        # before the answer, so what the killed one answered for is replayed by the other.
        one, first = stack.enter_context(ivr_serve(flow, db_url, tmp_path / "spool"))
        two, _ = stack.enter_context(ivr_serve(flow, db_url, tmp_path / "spool"))
        twilio = stack.enter_context(FakeTwilio(one, TOKEN))
        sid = "CAkilled"
        fields = {**FIELDS, "CallSid": sid}
        voice = one + "/twilio/voice"
        menu = next_url(voice, twilio.post(voice, fields).text)
        pressed = twilio.post(menu, {**fields, "Digits": "1"})
        assert "account number" in pressed.text

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        # Twilio retries the request the dead worker may not have answered, then goes on;
        # the load balancer now sends everything to the other worker.
        on_two = urlsplit(menu)._replace(netloc=urlsplit(two).netloc).geturl()
        again = twilio.post(on_two, {**fields, "Digits": "1"})
        assert again.text == pressed.text
        account = next_url(on_two, again.text)
        done = twilio.post(account, {**fields, "Digits": "4321"})
        assert "Account 4321: nothing due." in done.text
        status = {**fields, "CallStatus": "completed", "CallDuration": "31", "SequenceNumber": "0"}
        assert twilio.post(two + "/twilio/status", status).status_code == 204

    log = StoreCallLog.open(db_url, tmp_path / "read")
    try:
        numbers = numbers_of(log, sid)
        assert main_line(numbers) == list(range(1, len(main_line(numbers)) + 1))
        assert len(numbers) == len(set(numbers))
        kinds = [e.kind for e in log.events_of(sid)]
        assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
        assert kinds.count("call_started") == 1 and kinds.count("input") == 2
        saved = log.load(sid)
        assert saved is not None and saved.route == "end"
        assert saved.variables == {"account": "4321"}
    finally:
        log.close()


# --- retries and late status callbacks, in one server -----------------------------------


@pytest.fixture
def twilio(call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    loaded = load_text(FLOW, "faults.yaml")
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        call_log,
        clock=lambda: NOW,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def post_twice(twilio: FakeTwilio, url: str, fields: dict[str, str]) -> tuple[str, str]:
    """The same request twice, as Twilio retries it: same body, same idempotency token."""
    headers = {
        "X-Twilio-Signature": twilio.validator.compute_signature(url, fields),
        "I-Twilio-Idempotency-Token": f"retry-{url}-{sorted(fields.items())}"[:200],
    }
    first = twilio.http.post(url, data=fields, headers=headers)
    second = twilio.http.post(url, data=fields, headers=headers)
    assert first.status_code == second.status_code
    assert first.status_code in (200, 204)
    return first.text, second.text


def test_every_retried_webhook_answers_the_same_and_writes_nothing_twice(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    sid = "CAretried"
    fields = {**FIELDS, "CallSid": sid}
    voice = twilio.base_url + "/twilio/voice"
    first, second = post_twice(twilio, voice, fields)
    assert first == second
    menu = next_url(voice, first)
    first, second = post_twice(twilio, menu, {**fields, "Digits": "0"})  # to the queue
    assert first == second and "<Enqueue" in first
    enqueue = ET.fromstring(first).find("Enqueue")
    assert enqueue is not None
    wait = urljoin(menu, enqueue.get("waitUrl", ""))
    result = urljoin(menu, enqueue.get("action", ""))
    later = [
        (wait, {**fields, "QueuePosition": "1", "QueueTime": "5", "AvgQueueTime": "10"}),
        (result, {**fields, "QueueResult": "hangup", "QueueTime": "40"}),
        (twilio.base_url + "/twilio/status", {**fields, "CallStatus": "completed"}),
    ]
    for url, sent in later:
        first, second = post_twice(twilio, url, sent)
        assert first == second
    numbers = numbers_of(call_log, sid)
    assert len(numbers) == len(set(numbers))
    kinds = [e.kind for e in call_log.events_of(sid)]
    assert kinds.count("call_started") == 1 and kinds.count("queued") == 1
    assert kinds.count("queue_update") == 1 and kinds.count("queue_left") == 1
    assert kinds.count("call_ended") == 1
    # A third try, a while later and with a new token, still changes nothing.
    for url, sent in [(voice, fields), (menu, {**fields, "Digits": "0"}), *later]:
        twilio.post(url, sent)
    assert numbers_of(call_log, sid) == numbers


def test_a_status_callback_before_the_last_action_keeps_the_call_right(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    sid = "CAovertaken"
    fields = {**FIELDS, "CallSid": sid}
    voice = twilio.base_url + "/twilio/voice"
    menu = next_url(voice, twilio.post(voice, fields).text)
    account = next_url(menu, twilio.post(menu, {**fields, "Digits": "1"}).text)
    # The caller keys the number and hangs up; Twilio's status callback arrives first.
    status = {**fields, "CallStatus": "completed", "CallDuration": "20", "SequenceNumber": "0"}
    assert twilio.post(twilio.base_url + "/twilio/status", status).status_code == 204
    late = twilio.post(account, {**fields, "Digits": "4321"})
    assert late.status_code == 200 and "Account 4321: nothing due." in late.text

    events = call_log.events_of(sid)
    numbers = [e.seq for e in events]
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))
    assert events[-1].kind == "call_ended" and events[-1].details["status"] == "completed"
    assert [e.kind for e in events].count("input") == 2
    saved = call_log.load(sid)
    assert saved is not None and saved.route == "end" and saved.variables == {"account": "4321"}


def test_a_status_callback_before_the_first_request_is_kept(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    """The caller hung up at once and the status callback overtook the voice request."""
    sid = "CAquick"
    fields = {**FIELDS, "CallSid": sid}
    status = {**fields, "CallStatus": "completed", "CallDuration": "1", "SequenceNumber": "0"}
    assert twilio.post(twilio.base_url + "/twilio/status", status).status_code == 204
    answer = twilio.post(twilio.base_url + "/twilio/voice", fields)
    assert answer.status_code == 200 and "<Gather" in answer.text

    kinds = [e.kind for e in call_log.events_of(sid)]
    assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
    assert kinds.count("call_ended") == 1
    # An agent's own call to the agent line is not a caller's call: nothing is kept.
    agent = {**FIELDS, "CallSid": "CAagent", "From": "+15005550010", "CallStatus": "completed"}
    assert twilio.post(twilio.base_url + "/twilio/status", agent).status_code == 204
    assert call_log.events_of("CAagent") == []
