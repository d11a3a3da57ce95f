"""The database is down and the spool's disk refuses every write: callers are still
routed as usual (never a 5xx, never stranded), the failure is logged loudly, and what
was held in memory reaches the database once it is back."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from tests.conftest import _postgres_database
from tests.tcp_proxy import TcpProxy
from tests.test_database_blackhole import FLOW, settle, take_callback
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "disk-full-token"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


@contextmanager
def no_room_for_files() -> Iterator[None]:
    """Every write that grows a file fails (EFBIG), as on a full disk, for this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_disk_full_while_the_database_is_down(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
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
                proxy.cut()
                with no_room_for_files():
                    paid = twilio.dial(["1", "4321#"])
                    queued = twilio.dial(["0"])
                    heard = take_callback(twilio, queued)
                    log.writer.drain()
                assert "Account 4321: nothing due." in paid.heard and paid.end == "hangup"
                assert queued.end == "queue:support"
                assert heard[:2] == ["Say", "Leave"] and "call you back" in heard[2]
                assert log.spool.depth() == 0 and log.writer.held() > 0
                loud = [r for r in caplog.records if "EVENTS NOT SAVED YET" in r.getMessage()]
                assert loud and all(r.levelname == "ERROR" for r in loud)
                proxy.restore()
            settle(log)
            assert log.writer.held() == 0
            kinds = [e.kind for e in log.events_of(paid.sid)]
            assert kinds[0] == "call_started" and kinds.count("node_entered") == 3
            booked = log.callbacks_for(queued.sid)
            assert [c.request.number for c in booked] == ["+15555550100"]
        finally:
            log.close()
