"""PostgreSQL silently drops every packet in the middle of calls (the slow kind of outage:
each connection attempt would wait for the whole connect timeout). Callers still get every
answer at once and right, a callback booked meanwhile is kept, and once the network is
back every event and the booking are in the database exactly once."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest
from sqlalchemy.engine import make_url

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from tests.conftest import _postgres_database
from tests.tcp_proxy import TcpProxy
from tests.twilio_caller import Call, FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "blackhole-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
# Half the database connect timeout (5 s): an answer that waited for the database would
# not arrive in time, as Twilio would give up on a webhook that hangs.
PATIENCE = 2.5
FLOW = """
id: blackhole
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


def settle(log: StoreCallLog) -> None:
    """Once the network is back: everything written or replayed (a transaction the cut
    orphaned may hold its locks until the server's idle timeout ends it)."""
    deadline = time.monotonic() + 60
    log.flush()
    while log.spool.depth() or log.writer.held():
        assert time.monotonic() < deadline, "the spool was never replayed"
        time.sleep(0.5)
        log.flush()


def take_callback(twilio: FakeTwilio, call: Call, keyed: str = "") -> list[str]:
    """Wait long enough to be offered a callback, take it, key a number (or not)."""
    enqueue = ET.fromstring(call.documents[-1]).find("Enqueue")
    assert enqueue is not None
    wait = urljoin(twilio.base_url, enqueue.get("waitUrl", ""))
    params = {
        "CallSid": call.sid,
        "From": "+15555550100",
        "To": "+15005550006",
        "QueuePosition": "5",
        "QueueTime": "100",
        "AvgQueueTime": "400",
        "CurrentQueueSize": "5",
    }
    gather = ET.fromstring(twilio.post(wait, params).text).find("Gather")
    assert gather is not None, "a long wait offers a callback"
    confirm = ET.fromstring(
        twilio.post(urljoin(wait, gather.get("action", "")), {**params, "Digits": "1"}).text
    )
    number = confirm.find("Gather")
    assert number is not None
    settled = twilio.post(
        urljoin(wait, number.get("action", "")), {**params, "Digits": keyed} if keyed else params
    )
    root = ET.fromstring(settled.text)
    twilio.post(call.end_url, {**params, "QueueResult": "leave"})
    return [v.tag for v in root] + [v.text or "" for v in root if v.tag == "Say"]


def test_answers_do_not_wait_for_a_database_that_drops_packets(pg_url: str, tmp_path: Path) -> None:
    real = make_url(pg_url)
    loaded = load_text(FLOW, "blackhole.yaml")
    with TcpProxy(real.port or 5432) as proxy:
        via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
        log = StoreCallLog.open(via_proxy, tmp_path / "spool")
        app = create_app(
            Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
            lambda: Catalog((loaded,)),
            log,
            clock=lambda: NOW,
        )
        try:
            with serve(app) as base, FakeTwilio(base, TOKEN, timeout=PATIENCE) as twilio:
                before = twilio.dial(["1", "1234#"])
                proxy.blackhole()
                during = twilio.dial(["1", "", "4321#"])
                assert "Account 4321: nothing due." in during.heard
                assert during.end == "hangup"
                queued = twilio.dial(["agent"])
                assert queued.end == "queue:support"
                heard = take_callback(twilio, queued, keyed="2125550123")
                # The normal confirmation, not the escape route: the booking is kept.
                assert heard[:2] == ["Say", "Leave"]
                assert "call you back at 1 2 1 2 5 5 5 0 1 2 3" in heard[2]
                status = twilio.post(
                    base + "/twilio/status",
                    {"CallSid": during.sid, "CallStatus": "completed", "SequenceNumber": "3"},
                )
                assert status.status_code == 204
                proxy.restore()
            settle(log)
            for call in (before, during, queued):
                numbers = [e.seq for e in log.events_of(call.sid) if e.seq < 100_000]
                assert numbers == list(range(1, len(numbers) + 1)), call.sid
            kinds = [e.kind for e in log.events_of(during.sid)]
            assert kinds[0] == "call_started"
            assert kinds.count("no_input") == 1 and kinds.count("node_entered") == 3
            queue_kinds = [e.kind for e in log.events_of(queued.sid)]
            assert queue_kinds.count("callback_offered") == 1
            assert queue_kinds.count("callback_requested") == 1
            assert queue_kinds.count("queue_left") == 1
            booked = log.callbacks_for(queued.sid)
            assert [(c.request.number, c.status) for c in booked] == [("+12125550123", "pending")]
            saved = log.load(during.sid)
            assert saved is not None and saved.variables == {"account": "4321"}
        finally:
            log.close()


def test_callback_booked_while_the_database_is_cut_is_kept(pg_url: str, tmp_path: Path) -> None:
    real = make_url(pg_url)
    loaded = load_text(FLOW, "blackhole.yaml")
    with TcpProxy(real.port or 5432) as proxy:
        via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
        log = StoreCallLog.open(via_proxy, tmp_path / "spool")
        app = create_app(
            Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
            lambda: Catalog((loaded,)),
            log,
            clock=lambda: NOW,
        )
        try:
            with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
                call = twilio.dial(["0"])  # queued while the database is up
                proxy.cut()
                heard = take_callback(twilio, call)
                assert heard[:2] == ["Say", "Leave"]
                assert "call you back at 1 5 5 5 5 5 5 0 1 0 0" in heard[2]
                proxy.restore()
            settle(log)
            log.flush()  # replaying twice books nothing twice
            booked = log.callbacks_for(call.sid)
            assert [(c.request.number, c.status) for c in booked] == [("+15555550100", "pending")]
        finally:
            log.close()
