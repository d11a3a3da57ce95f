"""The Store on SQLite and PostgreSQL: migrations, call state, the event log."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import analytics
from analytics import CallRef, EventRow, Store, StoreError, StoreUnavailable, epoch_ms
from analytics.tables import Base
from ivr.actions import Event
from ivr.state import CallState, Turn

DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
T0 = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)


def a_call(call_sid: str = "CA100", **changes: object) -> CallState:
    state = CallState(
        call_sid=call_sid,
        flow_id="acme-support",
        flow_version="sha256:abc",
        caller="+15555550100",
        dialed="+15005550006",
        started_at=T0,
        node="main_menu",
        variables={"account_number": "123456", "isim": "Çağrı Öztürk"},
        path=("greeting", "main_menu"),
        turns=(Turn("main_menu", "speech", "أريد التحدث إلى وكيل"), Turn("account", "digits", "1")),
        locale="en-US",
        steps=3,
        events=4,
    )
    return state.moved(**changes)


def events(*seqs: int) -> list[Event]:
    return [
        Event(
            kind="node_entered",
            at=T0 + timedelta(seconds=seq),
            node=f"node_{seq}",
            details={"seq": seq},
            seq=seq,
        )
        for seq in seqs
    ]


def test_migrations_create_the_tables_and_can_run_twice(db_url: str) -> None:
    with Store(db_url) as store:
        assert store.revision() is None
        store.upgrade()
        store.upgrade()
        assert store.revision() == "0005_callback_changed_at"
        tables = set(inspect(store.engine).get_table_names())
        assert tables == {"alembic_version", "calls", "events", "callbacks", "call_summaries"} | {
            "report_cells",
            "report_values",
            "report_dirty_days",
        }
        assert store.ping()


def test_servers_starting_together_migrate_once(db_url: str) -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(3)

    def server() -> None:
        try:
            with Store(db_url) as own:
                start.wait()
                own.upgrade()
        except BaseException as err:  # surfaced below
            failures.append(err)

    threads = [threading.Thread(target=server) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    with Store(db_url) as store:
        assert store.revision() == "0005_callback_changed_at"


def test_a_schema_from_a_newer_release_is_a_store_error(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="9999"):
        store.upgrade()


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_call_state_round_trip(store: Store) -> None:
    state = a_call()
    store.save_call(state, now_ms=1_000)
    assert store.load_call("CA100") == state

    later = state.moved(node="account", waiting=True, failures=1, steps=4)
    store.save_call(later, now_ms=2_000)
    assert store.load_call("CA100") == later

    store.save_call(state, now_ms=1_500)  # a late replay of an older state changes nothing
    assert store.load_call("CA100") == later
    assert store.load_call("CA-unknown") is None


def test_call_status_and_end(store: Store) -> None:
    store.save_call(a_call(), now_ms=1_000)
    assert store.set_call_status("CA100", "in-progress", 1_100, ended=False)
    assert store.set_call_status("CA100", "completed", 9_000, ended=True)
    assert store.set_call_status("CA100", "completed", 9_999, ended=True)  # retried callback
    assert not store.set_call_status("CA-unknown", "completed", 9_000, ended=True)
    with store.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT status, ended_at_ms FROM calls WHERE call_sid = 'CA100'"
        ).one()
    assert tuple(row) == ("completed", 9_000)


def test_events_come_back_in_seq_order(store: Store) -> None:
    call = CallRef("CA1", "acme-support", "v1")
    assert store.append_events(call, events(3, 1, 2)) == 3
    stored = store.events_for("CA1")
    assert [row.seq for row in stored] == [1, 2, 3]
    assert [row.node for row in stored] == ["node_1", "node_2", "node_3"]
    assert {(row.flow_id, row.flow_version) for row in stored} == {("acme-support", "v1")}
    assert store.events_for("CA-other") == []


def test_details_keep_unicode_and_nesting(store: Store) -> None:
    details = {
        "said": "أريد التحدث إلى وكيل",
        "tr": "müşteri temsilcisi, İstanbul ığdır",
        "via": "speech",
        "nested": {"values": [1, 2.5, None, True], "empty": {}},
    }
    event = Event(kind="escape", at=T0, node="main_menu", details=details, seq=1)
    store.append_events(a_call(), [event])
    (row,) = store.events_for("CA100")
    assert row.details == details
    assert row.to_event() == event


def test_timestamps_are_utc_epoch_milliseconds(store: Store) -> None:
    moment = datetime.fromisoformat("2026-11-22T10:00:00.123+00:00")
    expected = int(moment.timestamp() * 1000)
    assert expected == 1795341600123
    istanbul = moment.astimezone(timezone(timedelta(hours=3)))  # same instant, other zone
    store.append_events(
        a_call(),
        [Event("call_started", moment, seq=1), Event("node_entered", istanbul, seq=2)],
    )
    rows = store.events_for("CA100")
    assert [row.at_ms for row in rows] == [expected, expected]
    assert rows[0].at == moment and rows[0].at.utcoffset() == timedelta(0)
    assert epoch_ms(moment) == expected


def test_a_retried_append_inserts_nothing(store: Store) -> None:
    call = a_call()
    assert store.append_events(call, events(1, 2, 3)) == 3
    assert store.append_events(call, events(1, 2, 3)) == 0
    assert [row.seq for row in store.events_for("CA100")] == [1, 2, 3]


def test_partial_overlap_inserts_only_the_new_events(store: Store) -> None:
    call = a_call()
    store.append_events(call, events(1, 2, 3))
    assert store.append_events(call, events(2, 3, 4, 5)) == 2
    assert [row.seq for row in store.events_for("CA100")] == [1, 2, 3, 4, 5]


def test_same_seq_on_another_call_is_not_a_duplicate(store: Store) -> None:
    assert store.append_events(a_call("CA1"), events(1)) == 1
    assert store.append_events(a_call("CA2"), events(1)) == 1


def test_record_saves_state_and_events_together(store: Store) -> None:
    state = a_call()
    assert store.record(state, events(1, 2), now_ms=5) == 2
    assert store.record(state, events(1, 2), now_ms=5) == 0  # a retried webhook
    assert store.load_call("CA100") == state
    assert len(store.events_for("CA100")) == 2


def test_many_events_in_one_append(store: Store) -> None:
    assert store.append_events(a_call(), events(*range(1, 1202))) == 1201
    assert store.append_events(a_call(), events(*range(1, 1203))) == 1


def test_event_without_seq_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="seq"):
        store.append_events(a_call(), [Event("prompt", T0)])


def test_unreachable_database_raises_store_unavailable_in_plain_words() -> None:
    with Store(DOWN_URL) as store:
        assert not store.ping()
        with pytest.raises(StoreUnavailable, match="unreachable") as caught:
            store.append_events(a_call(), events(1))
        assert "127.0.0.1:1" in str(caught.value)
        with pytest.raises(StoreError):
            store.load_call("CA100")


def test_urls_are_checked_and_passwords_hidden() -> None:
    with pytest.raises(StoreError, match="unsupported database"):
        Store("mysql://root@localhost/ivr")
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")
    with Store("postgresql://ivr:s3cret@127.0.0.1:1/ivr") as store:
        assert store.engine.dialect.driver == "psycopg"
        assert "s3cret" not in store.url
        with pytest.raises(StoreUnavailable) as caught:
            store.events_for("CA1")
        assert "s3cret" not in str(caught.value)


def test_event_rows_round_trip_through_json() -> None:
    row = EventRow("CA1", 7, 1795341600123, "f", "v", "escape", "menu", {"via": "digit"})
    assert EventRow.from_json(row.to_json()) == row


def test_analytics_never_imports_the_web_layer() -> None:
    root = Path(analytics.__file__).parent
    for source in root.rglob("*.py"):
        for line in source.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] != "webhooks", f"{source.name}: {line}"


def test_a_large_batch_is_stored_once_and_read_back_as_written(store: Store) -> None:
    """Batches go to PostgreSQL as one array per column: nulls, unicode, nested details
    and rows already stored must come back exactly as written, once."""
    rows = [
        EventRow(
            f"CA{i % 700}",
            i,
            1795341600000 + i,
            "çağrı-akışı",
            "v1",
            "input" if i % 2 else "prompt",
            None if i % 3 == 0 else "menü",
            {"speech": "إلى موظف", "n": i, "nested": {"list": [1, None, "x"]}} if i % 5 else {},
        )
        for i in range(1, 12_001)
    ]
    assert store.append_rows(rows[:100]) == 100
    assert store.append_rows(rows) == 11_900  # the first hundred were there already
    got = store.events_for("CA7")
    assert got == sorted((r for r in rows if r.call_sid == "CA7"), key=lambda r: r.seq)
    assert store.outcome_of("CA7") is not None  # its summary was worked out too
