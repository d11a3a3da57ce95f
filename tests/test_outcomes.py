"""One outcome per call, from its events alone, whatever order they arrive in."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ivr.outcomes import OUTCOMES, SIDE_CHANNELS, STATUS_CHANNEL, summarize
from tests.history import History
from webhooks import sequence

T0 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)


def h() -> History:
    return History("CA1", T0)


CASES = [
    pytest.param(
        h()
        .menu()
        .goto(5, "outage_info")
        .goto(6, "done", "end")
        .main(6, "call_ended", "done", resolved=True)
        .ended(20),
        "self_service",
        {"last_node": "done"},
        id="resolved-end-is-self-service",
    ),
    pytest.param(h().menu().ended(3), "short_abandon", {}, id="hang-up-within-5-s-is-short"),
    pytest.param(h().menu().ended(5), "short_abandon", {}, id="exactly-5-s-is-still-short"),
    pytest.param(
        h().menu().main(8, "no_input", "main_menu", attempt=1).ended(25),
        "abandoned_ivr",
        {"last_node": "main_menu", "wait_ms": None},
        id="hang-up-in-the-menu",
    ),
    pytest.param(
        h().menu().escape(12, "digit").queued(12).wait(13).wait(58).left(72, "hangup").ended(72),
        "abandoned_queue",
        {"wait_ms": 60_000, "escape_via": "digit", "queue": "support"},
        id="hang-up-while-waiting-keeps-the-wait",
    ),
    pytest.param(
        h().menu().escape(8, "speech").queued(8).wait(9).agent(38).left(300, "bridged").ended(300),
        "agent",
        {"time_to_agent_ms": 38_000, "wait_ms": 30_000, "agent": "alice"},
        id="agent-on-the-line-is-timed-at-agent-connected-not-bridged",
    ),
    pytest.param(
        h()
        .menu()
        .queued(10)
        .wait(11)
        .wait(40, "callback_offered", queue="support")
        .wait(45, "callback_requested", 5, queue="support")
        .left(46, "leave")
        .ended(50)
        .callback(1200, "callback_dialed")
        .callback(1210, "callback_connected"),
        "callback_completed",
        {
            "callback_to_agent_ms": 1_210_000,
            "time_to_callback_ms": 1_165_000,
            "on_hold_ms": 35_000,
            "callback_accepted": True,
        },
        id="agent-reached-after-a-callback",
    ),
    pytest.param(
        h()
        .menu()
        .queued(10)
        .wait(40, "callback_requested", queue="support")
        .left(41, "leave")
        .ended(42)
        .callback(2000, "callback_dialed")
        .callback(2030, "callback_failed"),
        "callback_failed",
        {"callback_accepted": False, "time_to_callback_ms": None},
        id="callback-that-never-connected",
    ),
    pytest.param(
        h()
        .menu()
        .queued(10)
        .wait(40, "callback_requested", queue="support")
        .left(41, "leave")
        .ended(42)
        .callback(1000, "callback_dialed")
        .callback(1030, "callback_retry", status="busy", attempts=1)
        .callback(1630, "callback_dialed", attempt=2)
        .callback(1660, "callback_retry", attempt=2, status="no-answer", attempts=2)
        .callback(5260, "callback_dialed", attempt=3)
        .callback(5270, "callback_connected", attempt=3),
        "callback_completed",
        {"callback_to_agent_ms": 5_270_000},
        id="callback-answered-on-its-third-try",
    ),
    pytest.param(
        h()
        .menu()
        .queued(10)
        .wait(40, "callback_requested", queue="support")
        .left(41, "leave")
        .ended(42)
        .callback(1000, "callback_dialed")
        .callback(1030, "callback_retry", status="busy", attempts=1)
        .callback(1630, "callback_dialed", attempt=2)
        .callback(1660, "callback_failed", attempt=2, status="no-answer", attempts=2),
        "callback_failed",
        {"callback_accepted": False},
        id="callback-never-answered-after-its-retries",
    ),
    pytest.param(
        h()
        .menu()
        .goto(3, "after_hours", "callback")
        .main(3, "callback_requested", "after_hours", queue="support")
        .ended(15),
        "callback_requested",
        {"callback_accepted": False, "queue": "support"},
        id="closed-hours-callback-still-pending",
    ),
    pytest.param(
        h().menu().queued(10).left(10, "queue-full").ended(20),
        "callback_requested",
        {},
        id="full-queue-books-a-callback",
    ),
    pytest.param(
        h().menu().queued(10).wait(11).wait(100),
        "abandoned_queue",
        {"ended_at_ms": None, "wait_ms": 90_000},
        id="no-status-callback-is-provisional-as-of-the-last-event",
    ),
    pytest.param(
        h()
        .menu()
        .goto(4, "vm", "voicemail")
        .main(4, "voicemail", "vm", queue=None)
        .main(40, "voicemail", "vm", recording_url="https://x", duration="30")
        .ended(41),
        "voicemail",
        {},
        id="voicemail",
    ),
    pytest.param(
        h()
        .menu()
        .escape(9, "digit")
        .main(9, "transfer", "main_menu", target="+15005550011")
        .side(sequence.TRANSFER_ANSWERED + 7, 20, "agent_connected", "main_menu")
        .main(200, "transfer", "main_menu", status="completed")
        .ended(200),
        "agent",
        {"time_to_agent_ms": 20_000},
        id="transfer-answered-is-timed-at-the-whisper",
    ),
    pytest.param(
        h().menu().main(9, "transfer", "main_menu", target="+15005550011").ended(30),
        "abandoned_queue",
        {"queue": None},
        id="hang-up-while-a-transfer-rings",
    ),
    pytest.param(
        h().menu().goto(2, "bye", "end").main(2, "call_ended", "bye", resolved=False).ended(9),
        "error",
        {},
        id="unresolved-end-is-an-error",
    ),
    pytest.param(h().menu().ended(30, "failed"), "error", {}, id="twilio-says-failed"),
]


@pytest.mark.parametrize(("history", "outcome", "facts"), CASES)
def test_outcome(history: History, outcome: str, facts: dict[str, object]) -> None:
    summary = summarize(history.events)
    assert summary.outcome == outcome
    assert summary.outcome in OUTCOMES
    for name, value in facts.items():
        assert getattr(summary, name) == value, name


@pytest.mark.parametrize(("history", "outcome", "facts"), CASES)
def test_arrival_order_does_not_matter(
    history: History, outcome: str, facts: dict[str, object]
) -> None:
    expected = summarize(history.events)
    for seed in range(5):
        shuffled = list(history.events)
        random.Random(seed).shuffle(shuffled)
        assert summarize(shuffled + shuffled[:3]) == expected  # duplicates too


def test_short_abandon_threshold_is_configurable() -> None:
    events = h().menu().ended(8).events
    assert summarize(events).outcome == "abandoned_ivr"
    assert summarize(events, short_abandon_s=10).outcome == "short_abandon"


def test_the_side_channels_start_where_the_webhooks_number_them() -> None:
    assert SIDE_CHANNELS == sequence.WAIT
    assert STATUS_CHANNEL == sequence.STATUS
