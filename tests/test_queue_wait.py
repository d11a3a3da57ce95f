"""Waiting in a queue: honest, varied announcements and a callback instead of hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from urllib.parse import urljoin

import pytest

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import LoadedFlow, load_text
from ivr.ports import QueueHistory
from ivr.queue_wait import (
    callbacks_ahead,
    estimate_wait,
    seconds_per_answer,
    seconds_per_answer_recently,
    wait_plan,
)
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "queue-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

FLOW = """
id: q
escape: {queue: support}
queues:
  support:
    announce_every: 20s
    callback: {offer_after: 2m, digit: "1"}
    max_wait: 15m
start: hello
nodes:
  hello: {say: "Hello. Press 0 or say agent for a person.", next: menu}
  menu:
    menu:
      prompt: "Press 1 for news."
      options: [{digit: "1", goto: news}]
  news: {end: {say: "No news today.", resolved: true}}
"""


@pytest.fixture
def loaded() -> LoadedFlow:
    return load_text(FLOW, "q.yaml")


def test_estimate_comes_from_the_queue_not_a_constant() -> None:
    # 4 callers have waited 5 minutes on average: about 2 minutes per answer.
    per_answer = seconds_per_answer(300, 4)
    assert per_answer == pytest.approx(120)
    assert estimate_wait(3, per_answer) == pytest.approx(360)
    assert seconds_per_answer(0, 0) == 60.0  # no evidence: a default, said as "about"


def test_announcements_never_repeat_the_same_sentence(loaded: LoadedFlow) -> None:
    texts = [
        wait_plan(loaded.flow, "support", position=3, waited=60, estimate=180, announcement=n).text
        for n in range(8)
    ]
    assert all(a != b for a, b in pairwise(texts))
    assert "number 3" in texts[0] and "3 minutes" in texts[0]


def test_callback_offered_only_once_the_wait_is_long(loaded: LoadedFlow) -> None:
    short = wait_plan(loaded.flow, "support", position=1, waited=10, estimate=60, announcement=0)
    long = wait_plan(loaded.flow, "support", position=5, waited=10, estimate=300, announcement=0)
    assert not short.offer_callback
    assert long.offer_callback and long.offer_text and "press 1" in long.offer_text


def test_past_max_wait_the_caller_is_moved_to_a_callback(loaded: LoadedFlow) -> None:
    plan = wait_plan(loaded.flow, "support", position=2, waited=901, estimate=120, announcement=7)
    assert plan.move_to_callback and "call you back" in plan.text


def test_turkish_announcement(loaded: LoadedFlow) -> None:
    plan = wait_plan(
        loaded.flow, "support", position=2, waited=0, estimate=120, announcement=0, locale="tr-TR"
    )
    assert "2. sıradasınız" in plan.text and "2 dakika" in plan.text


@pytest.fixture
def twilio(loaded: LoadedFlow, call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        call_log,
        clock=lambda: NOW,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def queue_params(call: Call, position: int, waited: int, avg: int, size: int) -> dict[str, str]:
    return {
        "CallSid": call.sid,
        "From": "+15555550100",
        "To": "+15005550006",
        "QueueSid": "QU1",
        "QueuePosition": str(position),
        "QueueTime": str(waited),
        "AvgQueueTime": str(avg),
        "CurrentQueueSize": str(size),
    }


def wait_url(twilio: FakeTwilio, call: Call) -> str:
    enqueue = ET.fromstring(call.documents[-1]).find("Enqueue")
    assert enqueue is not None
    return urljoin(twilio.base_url, enqueue.get("waitUrl", ""))


def test_wait_url_announces_then_loops(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    url = wait_url(twilio, call)
    first = twilio.post(url, queue_params(call, 2, 30, 60, 2))
    root = ET.fromstring(first.text)
    assert [v.tag for v in root] == ["Say", "Pause", "Redirect"]  # short wait: no offer yet
    assert root[1].get("length") == "20"
    second = twilio.post(urljoin(url, root[2].text or ""), queue_params(call, 1, 50, 60, 1))
    assert ET.fromstring(second.text)[0].text != root[0].text
    updates = [e for e in call_log.events_of(call.sid) if e.kind == "queue_update"]
    assert [u.details["position"] for u in updates] == [2, 1]


def test_long_wait_offers_a_callback_the_caller_takes_it(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["0"])
    url = wait_url(twilio, call)
    offer = ET.fromstring(twilio.post(url, queue_params(call, 6, 120, 400, 6)).text)
    gather = offer.find("Gather")
    assert gather is not None, "a 6-deep queue with 400 s average waits must offer a callback"
    choice = twilio.post(
        urljoin(url, gather.get("action", "")),
        {**queue_params(call, 6, 125, 400, 6), "Digits": "1"},
    )
    confirm = ET.fromstring(choice.text)
    assert [v.tag for v in confirm] == ["Gather", "Redirect"]
    assert "ending in 0 1 0 0" in (confirm[0][0].text or "")
    # Silence confirms the caller's own number: Twilio follows the Redirect.
    settled = twilio.post(urljoin(url, confirm[1].text or ""), queue_params(call, 6, 131, 400, 6))
    assert [v.tag for v in ET.fromstring(settled.text)] == ["Say", "Leave"]
    booked_all = [c.request for c in call_log.callbacks_for(call.sid)]
    assert len(booked_all) == 1
    booked = booked_all[0]
    assert booked.queue == "support" and booked.number == "+15555550100"
    assert booked.place_at == NOW - timedelta(seconds=125)  # keeps the place in line
    # Twilio then requests the Enqueue action with QueueResult=leave.
    result = twilio.post(call.end_url, {**queue_params(call, 0, 125, 0, 5), "QueueResult": "leave"})
    assert [v.tag for v in ET.fromstring(result.text)] == ["Hangup"]
    kinds = [e.kind for e in call_log.events_of(call.sid)]
    assert kinds.count("callback_offered") == 1 and kinds.count("callback_requested") == 1


def test_declining_the_offer_keeps_waiting(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    url = wait_url(twilio, call)
    offer = ET.fromstring(twilio.post(url, queue_params(call, 6, 120, 400, 6)).text)
    gather = offer.find("Gather")
    assert gather is not None
    choice = twilio.post(
        urljoin(url, gather.get("action", "")),
        {**queue_params(call, 6, 125, 400, 6), "Digits": "5"},
    )
    assert [v.tag for v in ET.fromstring(choice.text)] == ["Redirect"]
    assert call_log.callbacks_for(call.sid) == []


def test_max_wait_moves_the_caller_to_a_callback(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    call = twilio.dial(["0"])
    root = ET.fromstring(
        twilio.post(wait_url(twilio, call), queue_params(call, 3, 960, 600, 3)).text
    )
    assert [v.tag for v in root] == ["Say", "Leave"]
    assert len(call_log.callbacks_for(call.sid)) == 1


def test_full_queue_becomes_a_callback(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    result = twilio.post(
        call.end_url, {**queue_params(call, 0, 0, 0, 0), "QueueResult": "queue-full"}
    )
    assert [v.tag for v in ET.fromstring(result.text)] == ["Say", "Hangup"]
    assert len(call_log.callbacks_for(call.sid)) == 1


@pytest.mark.parametrize("result", ["", "leave", "something-new"])
def test_leaving_the_queue_with_nowhere_to_go_reaches_a_person(
    twilio: FakeTwilio, call_log: StoreCallLog, result: str
) -> None:
    """Found by tests/test_fuzz_webhooks.py: a queue result without QueueResult, one Twilio
    does not send, or a <Leave> with no callback booked was answered with <Hangup/>."""
    call = twilio.dial(["0"])
    answer = twilio.post(call.end_url, {**queue_params(call, 0, 0, 0, 0), "QueueResult": result})
    assert answer.status_code == 200
    assert "Enqueue" in [v.tag for v in ET.fromstring(answer.text)]
    assert call_log.callbacks_for(call.sid) == []


def test_retried_wait_request_logs_once(twilio: FakeTwilio, call_log: StoreCallLog) -> None:
    call = twilio.dial(["0"])
    url = wait_url(twilio, call)
    for _ in range(3):
        twilio.post(url, queue_params(call, 2, 30, 60, 2))
    assert [e.kind for e in call_log.events_of(call.sid)].count("queue_update") == 1


def accept_offer(twilio: FakeTwilio, call: Call) -> ET.Element:
    url = wait_url(twilio, call)
    offer = ET.fromstring(twilio.post(url, queue_params(call, 6, 120, 400, 6)).text)
    gather = offer.find("Gather")
    assert gather is not None
    choice = twilio.post(
        urljoin(url, gather.get("action", "")),
        {**queue_params(call, 6, 125, 400, 6), "Digits": "1"},
    )
    return ET.fromstring(choice.text)


@pytest.mark.parametrize(
    ("keyed", "expected", "warned"),
    [
        pytest.param("2125550123", "+12125550123", False, id="another-national-number"),
        pytest.param("011442079460000", "+442079460000", False, id="international-from-the-us"),
        pytest.param("12", "+15555550100", True, id="not-a-number-keeps-own"),
    ],
)
def test_caller_can_choose_another_callback_number(
    twilio: FakeTwilio, call_log: StoreCallLog, keyed: str, expected: str, warned: bool
) -> None:
    call = twilio.dial(["0"])
    confirm = accept_offer(twilio, call)
    gather = confirm.find("Gather")
    assert gather is not None and gather.get("finishOnKey") == "#"
    settled = twilio.post(
        urljoin(twilio.base_url, gather.get("action", "")),
        {**queue_params(call, 6, 130, 400, 6), "Digits": keyed},
    )
    said = " ".join(v.text or "" for v in ET.fromstring(settled.text) if v.tag == "Say")
    assert ("did not look like a phone number" in said) is warned
    assert [c.request.number for c in call_log.callbacks_for(call.sid)] == [expected]
    requested = [e for e in call_log.events_of(call.sid) if e.kind == "callback_requested"]
    assert requested[0].details["number"] == expected


def history(*answers: tuple[int, float], callbacks: tuple[int, ...] = ()) -> QueueHistory:
    """Answers as (seconds before NOW, seconds waited); callbacks as seconds before NOW."""
    return QueueHistory(
        tuple((NOW - timedelta(seconds=ago), waited) for ago, waited in answers),
        tuple(NOW - timedelta(seconds=ago) for ago in callbacks),
    )


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param(history(), None, id="no-history-no-figure"),
        pytest.param(history((60, 95.0)), 95.0, id="one-answer-its-wait"),
        pytest.param(history((300, 200), (200, 200), (100, 200)), 100.0, id="busy-agents-gaps"),
        pytest.param(history((900, 20), (600, 20), (300, 20)), 20.0, id="empty-queue-capped"),
        pytest.param(history((4000, 300), (3700, 300)), None, id="too-old-ignored"),
        pytest.param(history((60, 1), (30, 2)), 10.0, id="never-below-ten-seconds"),
    ],
)
def test_time_per_answer_from_our_own_answers(
    recorded: QueueHistory, expected: float | None
) -> None:
    assert seconds_per_answer_recently(recorded, NOW) == expected


def test_callbacks_that_joined_earlier_are_ahead() -> None:
    line = history(callbacks=(600, 300, 30))
    assert callbacks_ahead(line, NOW - timedelta(seconds=100)) == 2
    assert callbacks_ahead(line, NOW - timedelta(seconds=900)) == 0


def answered(twilio: FakeTwilio, wait_call: Call, clock: list[datetime], waited: int) -> None:
    """Twilio's Queue url for a caller just before an agent is bridged to them."""
    twilio.post(
        twilio.base_url + "/twilio/agent-connected?agent=alice",
        {"CallSid": wait_call.sid, "QueueTime": str(waited), "DequeingCallSid": "CAagent"},
    )


@pytest.mark.parametrize(
    ("every", "minutes"),
    [pytest.param(60, "3 minutes", id="quick-queue"), pytest.param(300, "15 minutes", id="slow")],
)
def test_announced_estimate_follows_recorded_answer_times(
    loaded: LoadedFlow, call_log: StoreCallLog, every: int, minutes: str
) -> None:
    clock = [NOW - timedelta(seconds=4 * every)]
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        call_log,
        clock=lambda: clock[0],
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
        for _ in range(4):  # callers answered one every `every` s, each after that wait
            clock[0] += timedelta(seconds=every)
            answered(twilio, twilio.dial(["0"]), clock, every)
        call = twilio.dial(["0"])
        # Twilio's live figures say 30 s per caller; our own answers say otherwise.
        root = ET.fromstring(
            twilio.post(wait_url(twilio, call), queue_params(call, 3, 5, 30, 3)).text
        )
    assert f"about {minutes}" in (root[0].text or "")
