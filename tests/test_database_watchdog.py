"""A PostgreSQL connection whose packets are swallowed (acknowledged, never answered: a
stuck proxy in between) would wait for ever: libpq has no timeout of its own. The
watchdog gives it up, so the store reports the database unreachable instead of hanging,
and works again once the network is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from analytics import database
from analytics.store import Store
from analytics.watchdog import guarded
from ivr.state import CallState
from tests.conftest import _postgres_database
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


def test_a_hung_connection_is_given_up(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "HUNG_AFTER_S", 1.0)
    real = make_url(pg_url)
    with Store(pg_url) as direct:
        direct.upgrade()
    with TcpProxy(real.port or 5432) as proxy:
        store = Store(real.set(port=proxy.port).render_as_string(hide_password=False))
        try:
            call = CallState("CA1", "f", "v1", "+15555550100", "+15005550006", datetime.now(UTC))
            store.save_call(call, 1)  # a pooled connection, through the proxy
            proxy.blackhole()
            with guarded():  # as the journal's writer is
                assert store.ping() is False  # the pre-ping hung on that connection
            proxy.restore()
            store.save_call(call.moved(steps=2), 3)
            assert store.load_call("CA1") == call.moved(steps=2)
        finally:
            store.close()


def test_a_long_query_outside_the_writer_is_left_alone(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration, a bulk load or an analyst's query may take longer than the bound."""
    monkeypatch.setattr(database, "HUNG_AFTER_S", 0.5)
    with Store(pg_url) as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_sleep(2), 42").one()[1] == 42
