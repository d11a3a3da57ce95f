"""Calls' events read back for their summaries, many calls in one statement (both
backends): each call's events after the seq given for it, in order, details intact."""

from __future__ import annotations

from analytics import Store
from analytics.event_reads import events_after
from analytics.records import EventRow


def _row(call_sid: str, seq: int, details: dict[str, object] | None = None) -> EventRow:
    return EventRow(
        call_sid, seq, 1_000 * seq, "main", "v1", "node_entered", f"n{seq}", details or {}
    )


def test_each_call_gives_its_events_after_its_own_seq_in_order(store: Store) -> None:
    # Stored out of order, as a late replay of the spool would.
    store.append_rows([_row("CA1", 3), _row("CA1", 1), _row("CA1", 2), _row("CA2", 1)])
    store.append_rows([_row("CA2", 2), _row("CA3", 1)])
    with store.engine.connect() as connection:
        found = events_after(connection, store.dialect, {"CA1": 1, "CA2": 0, "CA9": 0})
    assert {sid: [r.seq for r in rows] for sid, rows in found.items()} == {
        "CA1": [2, 3],
        "CA2": [1, 2],
    }  # CA3 not asked for, CA9 has no events
    assert found["CA1"][0] == _row("CA1", 2)


def test_details_come_back_as_written(store: Store) -> None:
    details: dict[str, object] = {
        "said": "je voudrais parler à quelqu'un 📞",
        "digits": "0",
        "nested": {"list": [1, 2.5, None, True], "empty": {}},
    }
    store.append_rows([_row("CA1", 1, details), _row("CA1", 2)])
    with store.engine.connect() as connection:
        found = events_after(connection, store.dialect, {"CA1": 0})
    assert [r.details for r in found["CA1"]] == [details, {}]


def test_many_calls_in_one_read(store: Store) -> None:
    calls = [f"CA{n:04d}" for n in range(1_500)]  # beyond SQLite's old 999 bound parameters
    store.append_rows([_row(sid, seq) for sid in calls for seq in (1, 2, 3)])
    wanted = {sid: n % 4 for n, sid in enumerate(calls)}  # 0 to 3: all, two, one, none
    with store.engine.connect() as connection:
        found = events_after(connection, store.dialect, wanted)
    assert {sid: [r.seq for r in rows] for sid, rows in found.items()} == {
        sid: list(range(after + 1, 4)) for sid, after in wanted.items() if after < 3
    }


def test_nothing_asked_reads_nothing(store: Store) -> None:
    store.append_rows([_row("CA1", 1)])
    with store.engine.connect() as connection:
        assert events_after(connection, store.dialect, {}) == {}
