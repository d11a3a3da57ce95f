"""The callback line on SQLite and PostgreSQL: place in line, opening times, queue lists,
and agents racing from separate Stores (separate connection pools, as separate processes
would have) never getting the same callback."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from analytics import Callback, Store, callback_line


def book(store: Store, call_sid: str, place_at_ms: int, **options: object) -> int:
    queue = str(options.get("queue", "support"))
    not_before = options.get("not_before_ms")
    assert not_before is None or isinstance(not_before, int)
    return store.add_callback(call_sid, queue, "+15555550100", place_at_ms, not_before, 10_000)


def test_oldest_place_in_line_first(store: Store) -> None:
    late = book(store, "CA-late", place_at_ms=3_000)
    early = book(store, "CA-early", place_at_ms=1_000)  # asked later, but waited longer
    middle = book(store, "CA-middle", place_at_ms=2_000)
    order = [store.claim_next_callback(["support"], "alice", 20_000) for _ in range(4)]
    assert [c.id if c else None for c in order] == [early, middle, late, None]


def test_a_claim_is_marked_with_agent_time_and_attempt(store: Store) -> None:
    callback_id = book(store, "CA1", place_at_ms=1_000)
    claimed = store.claim_next_callback(["support"], "alice", 20_000)
    assert claimed == Callback(
        id=callback_id,
        call_sid="CA1",
        queue="support",
        number="+15555550100",
        requested_at_ms=10_000,
        place_at_ms=1_000,
        not_before_ms=None,
        status="claimed",
        agent_id="alice",
        claimed_at_ms=20_000,
        finished_at_ms=None,
        attempts=1,
    )
    assert store.callback(callback_id) == claimed


def test_not_before_waits_for_opening_time(store: Store) -> None:
    book(store, "CA-tomorrow", place_at_ms=1_000, not_before_ms=50_000)
    later = book(store, "CA-now", place_at_ms=2_000)
    first = store.claim_next_callback(["support"], "alice", 20_000)
    assert first is not None and first.id == later
    assert store.claim_next_callback(["support"], "alice", 49_999) is None
    opened = store.claim_next_callback(["support"], "alice", 50_000)
    assert opened is not None and opened.call_sid == "CA-tomorrow"


def test_only_the_agents_queues(store: Store) -> None:
    billing = book(store, "CA-billing", place_at_ms=1_000, queue="billing")
    sales = book(store, "CA-sales", place_at_ms=500, queue="sales")
    support = book(store, "CA-support", place_at_ms=2_000, queue="support")
    assert store.claim_next_callback([], "alice", 20_000) is None
    got = [store.claim_next_callback(["support", "billing"], "alice", 20_000) for _ in range(3)]
    assert [c.id if c else None for c in got] == [billing, support, None]
    other = store.claim_next_callback(["sales"], "bob", 20_000)
    assert other is not None and other.id == sales


def test_finish_and_put_back_in_line(store: Store) -> None:
    first = book(store, "CA1", place_at_ms=1_000)
    second = book(store, "CA2", place_at_ms=2_000)
    claimed = store.claim_next_callback(["support"], "alice", 20_000)
    assert claimed is not None and claimed.id == first
    assert store.finish_callback(first, "pending", 21_000)  # handed back undialed
    again = store.claim_next_callback(["support"], "bob", 22_000)
    assert again is not None and again.id == first  # kept its place
    assert (again.agent_id, again.attempts) == ("bob", 1)  # the undialed claim did not count
    # The customer did not answer: back in line at the same place, not before 30_000.
    assert store.finish_callback(first, "pending", 22_050, retry_at_ms=30_000)
    early = store.claim_next_callback(["support"], "alice", 29_999)
    assert early is not None and early.id == second  # the retry is not due yet
    assert store.finish_callback(second, "pending", 29_999)
    again = store.claim_next_callback(["support"], "bob", 30_000)
    assert again is not None and again.id == first and again.attempts == 2  # its place kept
    assert store.finish_callback(first, "dialing", 30_100)
    assert store.finish_callback(first, "completed", 31_000)
    done = store.callback(first)
    assert done is not None and (done.status, done.finished_at_ms) == ("completed", 31_000)
    nxt = store.claim_next_callback(["support"], "alice", 32_000)
    assert nxt is not None and nxt.id == second and nxt.attempts == 1
    assert store.finish_callback(second, "failed", 33_000)
    assert store.claim_next_callback(["support"], "alice", 34_000) is None
    assert not store.finish_callback(999_999, "completed", 1)
    with pytest.raises(ValueError, match="not one of"):
        store.finish_callback(first, "lost", 1)


def test_asking_again_updates_the_open_callback(store: Store) -> None:
    first = store.add_callback("CA1", "support", "+15555550100", 1_000, None, 10_000)
    again = store.add_callback("CA1", "support", "+15555550199", 1_000, None, 10_500)
    assert again == first
    (only,) = store.callbacks_for("CA1")
    assert (only.number, only.place_at_ms, only.requested_at_ms) == ("+15555550199", 1_000, 10_000)
    other_queue = store.add_callback("CA1", "billing", "+15555550100", 1_000, None, 10_000)
    assert other_queue != first


# A closed queue's booking (the caller's own number, asked at 10 s), the caller keying
# another number at the question after it (asked at 14 s, in line from then), and the first
# written again (a retried request, a spool replayed twice): two servers may write them in
# any order.
OWN = ("+15555550100", 10_000, 10_000, 50_000)  # number, place in line, asked at, not before
KEYED = ("+12125550123", 14_000, 14_000, 60_000)


@pytest.mark.parametrize(
    "order",
    [
        pytest.param([OWN, KEYED], id="as-asked"),
        pytest.param([KEYED, OWN], id="keyed-number-written-first"),
        pytest.param([OWN, KEYED, OWN], id="first-written-again-after"),
        pytest.param([KEYED, OWN, KEYED, OWN], id="both-twice-reversed"),
    ],
)
def test_bookings_of_a_call_end_the_same_in_any_order(
    store: Store, order: list[tuple[str, int, int, int]]
) -> None:
    ids = {
        store.add_callback("CA1", "support", number, place, not_before, asked)
        for number, place, asked, not_before in order
    }
    (only,) = store.callbacks_for("CA1")
    assert ids == {only.id}
    assert (only.number, only.not_before_ms) == ("+12125550123", 60_000)  # the latest asked
    assert (only.place_at_ms, only.requested_at_ms) == (10_000, 10_000)  # the earliest


def test_a_booking_written_again_after_its_callback_is_done_changes_nothing(
    store: Store,
) -> None:
    first = store.add_callback("CA1", "support", "+15555550100", 1_000, None, 10_000)
    claimed = store.claim_next_callback(["support"], "alice", 20_000)
    assert claimed is not None and claimed.id == first
    store.finish_callback(first, "completed", 30_000)
    again = store.add_callback("CA1", "support", "+15555550100", 1_000, None, 10_000)
    older = store.add_callback("CA1", "support", "+15555550199", 900, None, 9_000)
    assert again == older == first
    (only,) = store.callbacks_for("CA1")
    assert (only.status, only.number, only.place_at_ms) == ("completed", "+15555550100", 1_000)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_booking_looks_up_its_calls_callbacks_by_index(store: Store) -> None:
    """Each booking reads the call's callbacks: by its CallSid, not by reading through the
    whole line of its queue, which grows with every callback waiting."""
    query = callback_line._CALL_BOOKINGS.compile(store.engine)
    params = ("CA1", "support")
    with store.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", params)
        )
    assert "ix_callbacks_call_sid" in plan, plan


def test_two_agents_racing_never_share_a_callback(db_url: str) -> None:
    total = 120
    with Store(db_url) as setup:
        setup.upgrade()
        ids = {
            book(setup, f"CA{n}", place_at_ms=n, queue="support" if n % 3 else "billing")
            for n in range(total)
        }
    claimed: dict[str, list[int]] = {"alice": [], "bob": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def agent(name: str) -> None:
        try:
            with Store(db_url) as own:  # its own engine and pool, as another process
                start.wait()
                while (got := own.claim_next_callback(["support", "billing"], name, 1)) is not None:
                    claimed[name].append(got.id)
                    time.sleep(0.001)  # the agent dials; the other one gets a turn
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=agent, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    counts = Counter(claimed["alice"] + claimed["bob"])
    assert set(counts) == ids
    assert max(counts.values()) == 1
    assert claimed["alice"] and claimed["bob"], "both agents should have won some"
    with Store(db_url) as check:
        agents = {cb_id: check.callback(cb_id) for cb_id in ids}
    for name, won in claimed.items():
        assert all((cb := agents[i]) is not None and cb.agent_id == name for i in won)


# Row locks are PostgreSQL's; SQLite serialises writers instead (covered by the race).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_locked_candidate_is_skipped_not_waited_for(store: Store) -> None:
    assert store.dialect == "postgresql"
    first = book(store, "CA1", place_at_ms=1_000)
    second = book(store, "CA2", place_at_ms=2_000)
    with store.engine.connect() as other_agent, other_agent.begin():
        other_agent.exec_driver_sql(f"SELECT id FROM callbacks WHERE id = {first} FOR UPDATE")
        claimed = store.claim_next_callback(["support"], "alice", 20_000)
        assert claimed is not None and claimed.id == second
