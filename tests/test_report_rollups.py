"""Report rollups: whatever is built, reports give the figures of the calls themselves.

Calls over several days, read through windows with ragged ends, flows and queues, with no
rollup built, every day built, and some days changed after they were built (a late event,
a late `call_started` that moves a call to the day before, a silent call closed by the
timeout). The reference is the same report with every day read call by call.
"""

from __future__ import annotations

import contextlib
import io
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from analytics import Store, epoch_ms, report_source
from analytics.reports import StoreReports
from analytics.rollups import day_of, mark_dirty
from analytics.tables import call_summaries, report_cells, report_dirty_days, report_values
from ivr.cli import main
from tests.history import History
from webhooks.reports_api import ReportFilter

MONDAY = datetime(2025, 11, 3, tzinfo=UTC)
DAYS = 4
NAMES = ("summary", "abandonment", "time_to_agent", "callbacks", "funnel")


def call(i: int, start: datetime, r: random.Random) -> History:
    flow = "acme" if i % 3 else "other"
    h = History(f"CA{i:05d}", start, flow, "v1" if start.day < 5 else "v2")
    kind = i % 5
    if kind == 0:  # served itself
        return (
            h.menu()
            .goto(9, "outage_info")
            .main(9, "call_ended", "outage_info", resolved=True)
            .ended(30)
        )
    if kind == 1:  # hung up in the menu
        return h.menu().main(8, "no_input", "main_menu", attempt=1).ended(r.uniform(10, 60))
    if kind == 2:  # a person live
        w = r.randint(5, 300)
        return (
            h.menu()
            .escape(6, "digit")
            .queued(6, r.choice(["support", "billing"]))
            .agent(6 + w)
            .ended(200 + w)
        )
    if kind == 3:  # gave up waiting
        w = r.randint(5, 300)
        return h.menu().escape(6, "speech").queued(6).wait(7).left(6 + w, "hangup").ended(6 + w)
    return (  # a callback, completed
        h.menu()
        .goto(10, "support_q", "queue")
        .queued(10, node="support_q")
        .wait(40, "callback_offered", queue="support")
        .wait(45, "callback_requested", 5, queue="support")
        .left(46, "leave")
        .ended(50)
        .callback(r.randint(300, 900), "callback_dialed")
        .callback(r.randint(901, 1200), "callback_connected")
    )


def histories(count: int = 120, seed: int = 7) -> list[History]:
    r = random.Random(seed)
    return [
        call(i, MONDAY + timedelta(seconds=r.uniform(0, DAYS * 86_400 - 2_000)), r)
        for i in range(count)
    ]


def load(store: Store, calls: list[History]) -> None:
    for h in calls:
        store.append_rows(h.rows())


WINDOWS = [
    ReportFilter(),
    ReportFilter(since=MONDAY + timedelta(hours=7, minutes=13)),
    ReportFilter(until=MONDAY + timedelta(days=2, hours=5)),
    ReportFilter(since=MONDAY + timedelta(days=1), until=MONDAY + timedelta(days=3)),
    ReportFilter(
        since=MONDAY + timedelta(hours=20), until=MONDAY + timedelta(days=3, hours=1), flow="acme"
    ),
    ReportFilter(since=MONDAY + timedelta(hours=3), until=MONDAY + timedelta(hours=9)),
    ReportFilter(queue="support"),
    ReportFilter(queue="billing", since=MONDAY + timedelta(days=1, hours=12)),
]


def everything(store: Store) -> list[Any]:
    reports = StoreReports(store)
    return [getattr(reports, name)(f) for f in WINDOWS for name in NAMES]


def call_by_call(store: Store) -> list[Any]:
    """The reports with every day read from the summary rows (no rollup used)."""
    with store.engine.begin() as connection:
        days = (
            connection.execute(
                select(func.distinct(report_cells.c.day_ms)).union(
                    select(report_values.c.day_ms), select(report_dirty_days.c.day_ms)
                )
            )
            .scalars()
            .all()
        )
        for table in (report_cells, report_values, report_dirty_days):
            connection.execute(delete(table))
        mark_dirty(connection, store.dialect, days)
    return everything(store)


def dirty(store: Store) -> list[int]:
    with store.engine.connect() as connection:
        query = select(report_dirty_days.c.day_ms).order_by(report_dirty_days.c.day_ms)
        return [int(d) for d in connection.scalars(query)]


def test_rolled_up_days_give_the_figures_of_the_calls_themselves(store: Store) -> None:
    calls = histories()
    load(store, calls)
    before = everything(store)
    assert len(dirty(store)) == DAYS
    assert store.roll_up() == DAYS and dirty(store) == []
    assert everything(store) == before
    summary = StoreReports(store).summary(ReportFilter())
    assert summary["calls"] == len(calls)
    assert summary["outcomes"]["agent"] == sum(1 for i in range(len(calls)) if i % 5 == 2)
    assert summary["outcomes"]["callback_completed"] == len(calls) // 5
    # Built days hold every closed call once.
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.sum(report_cells.c.calls))) == len(calls)


def test_a_day_changed_after_it_was_built_is_read_again(store: Store) -> None:
    calls = histories()
    load(store, calls)
    store.roll_up()
    # A caller who had given up turns out to have reached a person after all (a late
    # agent_connected arrives), and a silent new call shows up on the second day.
    gave_up = next(h for i, h in enumerate(calls) if i % 5 == 3)
    late = History(gave_up.sid, gave_up.start, gave_up.flow, gave_up.version).agent(20)
    store.append_rows(late.rows())
    assert store.outcome_of(gave_up.sid) == "agent"
    silent = History("CA_SILENT", MONDAY + timedelta(days=3, hours=2)).menu()
    store.append_rows(silent.rows())
    assert dirty(store) == sorted({day_of(epoch_ms(gave_up.start)), day_of(epoch_ms(silent.start))})
    after = everything(store)
    assert after == call_by_call(store)
    summary = StoreReports(store).summary(ReportFilter())
    assert summary["calls"] == len(calls) + 1  # the silent one counts: its timeout passed
    store.roll_up()
    assert everything(store) == after


def test_a_late_call_started_moves_a_call_to_the_day_before(store: Store) -> None:
    h = History("CA_MIDNIGHT", MONDAY + timedelta(days=1) - timedelta(milliseconds=500))
    h.menu().escape(6, "digit").queued(6).agent(30).ended(300)
    rows = h.rows()
    store.append_rows(rows[3:])  # the call's first events come last
    store.roll_up()
    store.append_rows(rows[:3])
    assert len(dirty(store)) == 2  # the day it seemed to start and the day it did
    store.roll_up()
    monday = ReportFilter(since=MONDAY, until=MONDAY + timedelta(days=1))
    tuesday = ReportFilter(since=MONDAY + timedelta(days=1), until=MONDAY + timedelta(days=2))
    reports = StoreReports(store)
    assert reports.summary(monday)["calls"] == 1
    assert reports.summary(tuesday)["calls"] == 0


def test_a_silent_call_closed_by_the_sweep_stays_counted_once(store: Store) -> None:
    calls = histories(40)
    load(store, calls)
    silent = History("CA_SILENT", MONDAY + timedelta(hours=5)).menu()
    store.append_rows(silent.rows())
    store.roll_up()
    before = StoreReports(store).summary(ReportFilter())
    assert before["calls"] == 41
    assert store.close_stale(int((MONDAY + timedelta(days=10)).timestamp() * 1000)) == 1
    assert dirty(store) != []
    assert StoreReports(store).summary(ReportFilter()) == before
    store.roll_up()
    assert StoreReports(store).summary(ReportFilter()) == before


def test_two_builders_at_once_count_every_call_once(store: Store) -> None:
    calls = histories(80)
    load(store, calls)
    expected = everything(store)
    threads = [threading.Thread(target=store.roll_up) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert dirty(store) == []
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.sum(report_cells.c.calls))) == 80
    assert everything(store) == expected


def test_ivr_db_rollup_builds_the_changed_days(store: Store) -> None:
    load(store, histories(30))
    url = store.engine.url.render_as_string(hide_password=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["db", "rollup", "--db", url]) == 0
    assert f"Rolled up the reports of {DAYS} day(s)." in out.getvalue()
    assert dirty(store) == []


def test_the_flow_list_has_flows_of_built_days_and_of_calls_still_going(store: Store) -> None:
    load(store, histories(30))
    store.roll_up()
    live = History("CA_LIVE", MONDAY + timedelta(days=1), flow="new-flow").menu()
    store.append_rows(live.rows())
    store.roll_up()  # its day is built, but the call is not over: in no cell
    assert StoreReports(store).flows() == ["acme", "new-flow", "other"]
    with store.engine.connect() as connection:
        queues = connection.scalars(
            select(call_summaries.c.queue).where(call_summaries.c.queue.is_not(None)).distinct()
        )
        assert StoreReports(store).queues() == sorted(queues) != []


def test_many_silent_calls_are_read_by_condition_with_the_same_figures(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(store, histories(40))
    for i in range(3):
        silent = History(f"CA_SILENT{i}", MONDAY + timedelta(hours=5 + i)).menu()
        store.append_rows(silent.rows())
    store.roll_up()
    by_id = everything(store)
    monkeypatch.setattr(report_source, "MANY_OPEN", 1)  # more than that: by condition
    assert everything(store) == by_id
    assert StoreReports(store).summary(ReportFilter())["calls"] == 43


def test_the_sweeper_builds_the_days_that_are_over_and_reads_today_call_by_call(
    store: Store,
) -> None:
    """Today is marked again by every webhook a moment after it would be built: the
    sweeper leaves it (and any later day) to be read call by call, and the reports stay
    those of the calls themselves."""
    from analytics.sweeper import StaleCallSweeper

    load(store, histories())
    before = everything(store)
    today = MONDAY + timedelta(days=2, hours=10)
    StaleCallSweeper(store, clock=lambda: today).sweep()
    assert dirty(store) == [epoch_ms(MONDAY + timedelta(days=d)) for d in (2, 3)]
    assert everything(store) == before
    StaleCallSweeper(store, clock=lambda: MONDAY + timedelta(days=DAYS)).sweep()
    assert dirty(store) == []
    assert everything(store) == before
