"""Calls through the real webhooks end with the right outcomes, in the API and `ivr report`."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from sqlalchemy import text

from analytics.call_log import StoreCallLog
from analytics.reports import StoreReports
from flows.catalog import Catalog
from flows.loader import load_path, load_text
from ivr.cli import main
from tests.test_agent_line import ALICE, FLOW, TOKEN
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.reports_api import ReportFilter
from webhooks.settings import Settings

START = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def twilio(call_log: StoreCallLog, clock: Clock) -> Iterator[FakeTwilio]:
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((load_text(FLOW, "desk.yaml"),)),
        call_log,
        clock=clock,
        reports=StoreReports(call_log.store),
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def hang_up(twilio: FakeTwilio, call: Call, number: int = 1) -> None:
    params = {"CallSid": call.sid, "CallStatus": "completed", "SequenceNumber": str(number)}
    assert twilio.post(twilio.base_url + "/twilio/status", params).status_code in (200, 204)


def agent_line(twilio: FakeTwilio) -> ET.Element:
    params = {"CallSid": "CAagent", "From": ALICE, "To": "+15005550099"}
    return ET.fromstring(twilio.post(twilio.base_url + "/twilio/agent", params).text)


def outcome(twilio: FakeTwilio, call: Call) -> str:
    body = twilio.http.get(f"{twilio.base_url}/api/calls/{call.sid}").json()
    return str(body["outcome"])


def test_calls_end_with_their_outcomes(
    twilio: FakeTwilio, call_log: StoreCallLog, clock: Clock, db_url: str
) -> None:
    # A person after 40 s: pressed 0, an agent picked the call up from the queue.
    live = twilio.dial(["0"])
    clock.wait(40)
    queue = agent_line(twilio).find("Dial/Queue")
    assert queue is not None
    twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", queue.get("url", "")),
        {"CallSid": live.sid, "QueueTime": "40", "DequeingCallSid": "CAagent"},
    )
    clock.wait(120)
    hang_up(twilio, live)  # the status callback comes before the Enqueue action's result
    twilio.post(live.end_url, {"CallSid": live.sid, "QueueResult": "bridged", "QueueTime": "40"})

    # Waited a minute in the queue, hung up.
    waited = twilio.dial(["billing", "4321#"])
    clock.wait(60)
    twilio.post(waited.end_url, {"CallSid": waited.sid, "QueueResult": "hangup"})
    hang_up(twilio, waited)

    # Hung up in the menu after 20 s, and another after 2 s (a short abandon).
    menu = twilio.dial([])
    clock.wait(20)
    hang_up(twilio, menu)
    short = twilio.dial([])
    clock.wait(2)
    hang_up(twilio, short)

    assert [outcome(twilio, c) for c in (live, waited, menu, short)] == [
        "agent",
        "abandoned_queue",
        "abandoned_ivr",
        "short_abandon",
    ]
    report = twilio.http.get(twilio.base_url + "/api/reports/summary").json()
    assert report["calls"] == 4 and report["reached_agent"] == 1
    assert report["time_to_agent"]["p50"] == 40.0
    assert report["abandonment_rate"] == round(2 / 3, 4)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "summary", "--db", db_url, "--format", "json"]) == 0
    assert json.loads(out.getvalue()) == report


def test_a_callback_is_counted_once_completed(
    twilio: FakeTwilio, call_log: StoreCallLog, clock: Clock
) -> None:
    from tests.test_agent_line import take_callback

    call = twilio.dial(["0"])
    clock.wait(30)
    take_callback(twilio, call)
    hang_up(twilio, call)
    assert outcome(twilio, call) == "callback_requested"
    clock.wait(600)
    root = agent_line(twilio)
    number, dial = root.find("Dial/Number"), root.find("Dial")
    assert number is not None and dial is not None
    clock.wait(10)
    twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", number.get("url", "")),
        {"CallSid": "CAleg", "ParentCallSid": "CAagent", "From": "+15005550006"},
    )
    twilio.post(
        urljoin(twilio.base_url + "/twilio/agent", dial.get("action", "")),
        {"CallSid": "CAagent", "From": ALICE, "DialCallStatus": "completed"},
    )
    assert outcome(twilio, call) == "callback_completed"
    report = twilio.http.get(twilio.base_url + "/api/reports/time-to-agent").json()
    assert report["callback"]["count"] == 1 and report["callback"]["p50"] == 640.0
    with call_log.store.engine.connect() as connection:
        linked = connection.execute(
            text("SELECT callback_call_sid FROM call_outcomes WHERE call_sid = :sid"),
            {"sid": call.sid},
        ).scalar()
    assert linked == "CAleg"  # the callback's own call names the call that asked for it


def test_calls_dialed_in_the_terminal_show_in_the_report(db_url: str, tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    flow = str(Path(__file__).resolve().parent.parent / "flows.example.yaml")
    for turns in ("4", "0", "3"):  # the opening hours (resolved), a person, a transfer
        with contextlib.redirect_stdout(io.StringIO()):
            main(
                [
                    "call",
                    flow,
                    "--input",
                    turns,
                    "--db",
                    db_url,
                    "--spool",
                    spool,
                    "--at",
                    "2025-11-24T10:00:00-05:00",
                ]
            )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "summary", "--db", db_url, "--format", "json"]) == 0
    report = json.loads(out.getvalue())
    assert report["calls"] == 3
    assert report["outcomes"]["self_service"] == 1
    # Nobody answers in the terminal: the second caller was still holding when it ended.
    assert report["outcomes"]["short_abandon"] + report["outcomes"]["abandoned_queue"] == 1
    # The sales transfer was answered (--dial-status answered, the default): a person.
    assert report["outcomes"]["agent"] == report["reached_agent"] == 1


def report_json(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", *args, "--format", "json"]) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_a_callback_asked_for_in_the_terminal_is_booked_and_served(
    db_url: str, tmp_path: Path
) -> None:
    """`ivr call --db` books the callback as the server does: counted by `ivr report`, and
    the agent line calls the caller back once the office opens."""
    spool = str(tmp_path / "spool")
    flow = Path(__file__).resolve().parent.parent / "flows.example.yaml"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "call",
                str(flow),
                "--input",
                "0",  # a person, on Saturday night: closed, so a callback at opening
                "--db",
                db_url,
                "--spool",
                spool,
                "--at",
                "2025-11-22T23:00:00-05:00",
                "--caller",
                "+15555550123",
            ]
        )
    assert code == 0
    assert "reached: callback support (not before 2025-11-24T08:00:00-05:00)" in out.getvalue()

    callbacks = report_json("callbacks", "--db", db_url)
    assert {k: callbacks[k] for k in ("offered", "requested", "pending", "completed")} == {
        "offered": 0,
        "requested": 1,
        "pending": 1,
        "completed": 0,
    }
    assert callbacks["by_queue"] == [
        {"queue": "support", "offered": 0, "requested": 1, "completed": 0, "failed": 0}
    ]
    assert report_json("summary", "--db", db_url)["outcomes"]["callback_requested"] == 1

    # Monday 08:30 in New York: alice calls the agent line and is put through to the caller.
    opened = datetime(2025, 11, 24, 13, 30, tzinfo=UTC)
    call_log = StoreCallLog.open(db_url, tmp_path / "spool-server")
    try:
        app = create_app(
            Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
            lambda: Catalog((load_path(flow),)),
            call_log,
            clock=lambda: opened,
        )
        with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
            params = {"CallSid": "CAagent", "From": "+15005550010", "To": "+15005550099"}
            root = ET.fromstring(twilio.post(base + "/twilio/agent", params).text)
        number = root.find("Dial/Number")
        assert number is not None and number.text == "+15555550123"
    finally:
        call_log.close()


def test_a_transfer_answered_is_timed_when_the_person_answers(
    call_log: StoreCallLog, clock: Clock
) -> None:
    from tests.test_webhooks import FLOW as WEB_FLOW

    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((load_text(WEB_FLOW, "web.yaml"),)),
        call_log,
        clock=clock,
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
        call = twilio.dial(["2"])  # sales: a transfer
        number = ET.fromstring(call.documents[-1]).find("Dial/Number")
        assert number is not None
        clock.wait(25)
        twilio.post(base + (number.get("url") or ""), {"CallSid": "CA-leg", "To": "+15005550011"})
        clock.wait(300)
        twilio.post(call.end_url, {"CallSid": call.sid, "DialCallStatus": "completed"})
        hang_up(twilio, call)
        assert outcome(twilio, call) == "agent"
    report = StoreReports(call_log.store).time_to_agent(ReportFilter())
    assert report["live"]["count"] == 1 and report["live"]["p50"] == 25.0
