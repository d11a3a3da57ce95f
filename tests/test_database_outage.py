"""The database goes away in the middle of a call: the caller never notices, and every
event is in the database once it is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from tests.conftest import _postgres_database
from tests.tcp_proxy import TcpProxy
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "outage-token"
FLOW = """
id: outage
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


def test_events_survive_a_database_cut_mid_call(pg_url: str, tmp_path: Path) -> None:
    real = make_url(pg_url)
    loaded = load_text(FLOW, "outage.yaml")
    with TcpProxy(real.port or 5432) as proxy:
        via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
        log = StoreCallLog.open(via_proxy, tmp_path / "spool")
        log.spool.retry_after = 0.0  # try the database again on every write
        app = create_app(
            Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
            lambda: Catalog((loaded,)),
            log,
            clock=lambda: datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        )
        try:
            with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
                first = twilio.dial(["", "1"])  # reaches the ask with the database up
                assert first.end == "hung-up"
                proxy.cut()
                during = twilio.dial(["1", "", "4321#"])  # a whole call while it is down
                assert "Account 4321: nothing due." in during.heard
                assert during.end == "hangup"
                proxy.restore()
                after = twilio.dial(["0"])
                assert after.end == "queue:support"
            log.flush()
            assert log.spool.depth() == 0
            for call in (first, during, after):
                events = log.events_of(call.sid)
                numbers = [e.seq for e in events]
                assert numbers == list(range(1, len(numbers) + 1)), call.sid
            kinds = [e.kind for e in log.events_of(during.sid)]
            assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
            assert kinds.count("no_input") == 1 and kinds.count("node_entered") == 3
            saved = log.load(during.sid)
            assert saved is not None and saved.variables == {"account": "4321"}
        finally:
            log.close()
