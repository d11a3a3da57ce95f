"""Two servers writing one call's events at the same moment (calls hop between servers
on every webhook): each call's summary still counts every event, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from analytics import CallRef, Store
from analytics.tables import call_summaries
from ivr.actions import Event

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
CALLS = 60


def first_half(at: datetime) -> list[Event]:
    return [
        Event("call_started", at, "menu", {}, seq=1),
        Event("node_entered", at, "menu", {}, seq=2),
    ]


def second_half(at: datetime) -> list[Event]:
    later = at + timedelta(seconds=40)
    return [
        Event("queued", at + timedelta(seconds=10), "menu", {"queue": "support"}, seq=3),
        Event("call_ended", later, "menu", {"status": "completed", "duration": "40"}, seq=10**6),
    ]


def test_halves_of_a_call_written_at_once_by_two_servers_are_both_counted(
    store: Store, db_url: str
) -> None:
    servers = [Store(db_url), Store(db_url)]
    halves = [first_half, second_half]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def server(index: int) -> None:
        try:
            for n in range(CALLS):
                call = CallRef(f"CAhalf{n:03d}", "shop", "v1")
                barrier.wait(timeout=30)  # both halves of this call at the same moment
                servers[index].append_events(call, halves[index](T0 + timedelta(minutes=n)))
        except BaseException as err:  # reported below
            failures.append(err)
            barrier.abort()

    threads = [threading.Thread(target=server, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for other in servers:
        other.close()
    assert failures == []
    outcomes = [store.outcome_of(f"CAhalf{n:03d}") for n in range(CALLS)]
    # Without the first half there is no start ("error"); without the second, no queue
    # and no end ("abandoned_ivr").
    assert outcomes == ["abandoned_queue"] * CALLS


def test_a_server_that_wrote_a_call_sees_what_another_added_since(
    store: Store, db_url: str
) -> None:
    """A server keeps the events it wrote so as not to read them back; an event another
    server added in between must still count (here it puts the call in a queue)."""
    other = Store(db_url)
    try:
        call = CallRef("CAshared", "shop", "v1")
        started, queued = first_half(T0)[0], second_half(T0)[0]
        ended = second_half(T0)[1]
        store.append_events(call, [started])
        other.append_events(call, [queued])
        store.append_events(call, [ended])
        assert store.outcome_of("CAshared") == "abandoned_queue"  # not "abandoned_ivr"
        other.append_events(call, [Event("node_entered", T0, "menu", {}, seq=4)])
        store.append_events(call, [Event("queue_update", T0, "menu", {}, seq=5)])
        kept = summary_of(store, "CAshared")
        fresh = Store(db_url)  # no cache: everything read back
        try:
            fresh.resummarize()
        finally:
            fresh.close()
        assert summary_of(store, "CAshared") == kept and kept["event_count"] == 5
    finally:
        other.close()


def test_events_stored_before_a_summary_existed_still_count(store: Store, db_url: str) -> None:
    """A call with no summary row is worked out from the events just added only when the
    database holds no others for it (a summary can be missing: deleted by hand, or events
    imported straight into the table)."""
    call = CallRef("CAbare", "shop", "v1")
    store.append_events(call, [first_half(T0)[0]])
    with store.engine.begin() as connection:
        connection.execute(delete(call_summaries).where(call_summaries.c.call_sid == "CAbare"))
    fresh = Store(db_url)  # nothing cached about the call
    try:
        fresh.append_events(call, [second_half(T0)[0], second_half(T0)[1]])
    finally:
        fresh.close()
    assert summary_of(store, "CAbare")["event_count"] == 3
    assert store.outcome_of("CAbare") == "abandoned_queue"  # "error" without its start


def summary_of(store: Store, call_sid: str) -> dict[str, object]:
    with store.engine.connect() as connection:
        found = connection.execute(
            select(call_summaries).where(call_summaries.c.call_sid == call_sid)
        ).one()
    return dict(found._mapping)


def test_calls_whose_steps_alternate_between_servers_are_summarised_from_all_events(
    store: Store, db_url: str
) -> None:
    """Each server reads back only the events written since its own last ones; an event
    that arrived behind those (a late retry) still counts."""
    other = Store(db_url)
    at = T0 + timedelta(hours=1)
    steps = [  # (server, seq, kind): servers in turn, as a round-robin balancer sends them
        (store, 1, "call_started"),
        (store, 2, "node_entered"),
        (other, 3, "digits"),
        (other, 4, "queued"),
        (store, 5, "queue_update"),
        (other, 7, "queue_update"),
        (store, 6, "queue_update"),  # behind 7, which the other server already wrote
        (other, 10**6, "call_ended"),
    ]
    try:
        for n in range(3):
            call = CallRef(f"CAturns{n}", "shop", "v1")
            for server, seq, kind in steps:
                details = {"queue": "support"} if kind == "queued" else {}
                if kind == "call_ended":
                    details = {"status": "completed", "duration": "90"}
                moment = at + timedelta(minutes=n, seconds=seq if seq < 100 else 90)
                server.append_events(call, [Event(kind, moment, "menu", details, seq=seq)])
        kept = {n: summary_of(store, f"CAturns{n}") for n in range(3)}
        fresh = Store(db_url)  # no cache: every summary worked out from all stored events
        try:
            fresh.resummarize()
        finally:
            fresh.close()
        for n in range(3):
            assert summary_of(store, f"CAturns{n}") == kept[n]
            assert kept[n]["event_count"] == len(steps)
            assert kept[n]["outcome"] == "abandoned_queue"
    finally:
        other.close()
