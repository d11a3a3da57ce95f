"""How fast are the reports on a large history, and how fast can events be written?

    .venv/bin/python bench/report_bench.py [--calls 1000000] [--only sqlite|postgresql]

Bulk-loads N calls (their events and their summary rows, both made by the real code:
`ivr.outcomes.summarize` and `analytics.summaries`) into a fresh SQLite file and a fresh
PostgreSQL database, builds the per-day report rollups (as `ivr serve` does every five
minutes) with the last day left to be read call by call (as today's calls are in
service), times every report with and without filters, then times the event writer
(events/s through the real `Store`, summaries kept up to date). Prints the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics import EventRow, Store, epoch_ms
from analytics.call_log import StoreCallLog
from analytics.reports import StoreReports
from analytics.rollups import day_of, mark_dirty
from analytics.summaries import rows_for
from analytics.tables import call_summaries, events
from ivr.state import CallState
from tests.history import History
from webhooks.reports_api import ReportFilter

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAYS = 90
START = datetime(2025, 9, 1, tzinfo=UTC)
CHUNK = 5_000


def _templates() -> list[Callable[[History, random.Random], History]]:
    def served(h: History, r: random.Random) -> History:
        t = r.uniform(5, 60)
        return (
            h.menu()
            .goto(t, "outage_info")
            .goto(t + 1, "outage_done", "end")
            .main(t + 1, "call_ended", "outage_done", resolved=True)
            .ended(t + 10)
        )

    def short(h: History, r: random.Random) -> History:
        return h.menu().ended(r.uniform(1, 5))

    def menu(h: History, r: random.Random) -> History:
        return h.menu().main(8, "no_input", "main_menu", attempt=1).ended(r.uniform(10, 90))

    def hold_hangup(h: History, r: random.Random) -> History:
        w = r.uniform(10, 400)
        return (
            h.menu()
            .escape(9, "digit")
            .queued(9)
            .wait(10)
            .wait(10 + w / 2)
            .left(9 + w, "hangup")
            .ended(9 + w)
        )

    def agent(h: History, r: random.Random) -> History:
        w = r.expovariate(1 / 60)
        return (
            h.menu()
            .main(6, "input", "main_menu", digits="1")
            .goto(6, "account", "ask")
            .goto(12, "billing_queue", "queue")
            .queued(12, "billing", "billing_queue")
            .wait(13)
            .agent(12 + w)
            .left(200 + w, "bridged")
            .ended(200 + w)
        )

    def agent_by_voice(h: History, r: random.Random) -> History:
        w = r.expovariate(1 / 90)
        return h.menu().escape(7, "speech").queued(7).wait(8).agent(7 + w).ended(300 + w)

    def callback(h: History, r: random.Random) -> History:
        back = r.uniform(300, 3600)
        h = (
            h.menu()
            .goto(10, "support_q", "queue")
            .queued(10, node="support_q")
            .wait(40, "callback_offered", queue="support")
            .wait(45, "callback_requested", 5, queue="support")
            .left(46, "leave")
            .ended(50)
            .callback(back, "callback_dialed")
        )
        return h.callback(
            back + 20, "callback_connected" if r.random() < 0.8 else "callback_failed"
        )

    return [served, short, menu, hold_hangup, agent, agent, agent_by_voice, callback]


def generate(n: int, seed: int = 1) -> Iterator[tuple[list[EventRow], list[dict[str, Any]]]]:
    """Calls in chunks: (event rows, summary rows)."""
    r = random.Random(seed)
    templates = _templates()
    versions = ["v1", "v2", "v3"]
    for start in range(0, n, CHUNK):
        rows: list[EventRow] = []
        for i in range(start, min(n, start + CHUNK)):
            moment = START + timedelta(seconds=r.uniform(0, DAYS * 86_400))
            flow = "acme" if r.random() < 0.8 else "other"
            version = versions[min(2, int((moment - START).days / 30))]
            history = History(f"CA{i:032d}", moment, flow, version)
            rows.extend(r.choice(templates)(history, r).rows())
        yield rows, rows_for(rows, 5.0)


def _copy(connection: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY: the loading is not what is measured, so take the fast road."""
    from psycopg.types.json import Jsonb

    names = [c.name for c in table.columns if c.name in rows[0]]
    cursor = connection.connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([Jsonb(row[n]) if isinstance(row[n], dict) else row[n] for n in names])


def load(store: Store, n: int) -> tuple[int, float]:
    began = time.perf_counter()
    count = 0
    days: set[int] = set()
    with store.engine.begin() as connection:
        for rows, summaries in generate(n):
            if store.dialect == "postgresql":
                _copy(connection, events, [row.to_json() for row in rows])
                _copy(connection, call_summaries, summaries)
            else:
                connection.execute(insert(events), [row.to_json() for row in rows])
                connection.execute(insert(call_summaries), summaries)
            count += len(rows)
            days.update(day_of(s["started_at_ms"]) for s in summaries)
        mark_dirty(connection, store.dialect, days)
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with store.engine.begin() as c:
            c.execute(text("ANALYZE"))
    return count, time.perf_counter() - began


def roll_up(store: Store) -> tuple[int, float]:
    """Build every day's rollups, as `ivr serve`'s sweeper does, then mark the last day
    changed again: in service, today's calls are always being written."""
    began = time.perf_counter()
    built = store.roll_up()
    took = time.perf_counter() - began
    with store.engine.begin() as connection:
        mark_dirty(connection, store.dialect, [epoch_ms(START + timedelta(days=DAYS - 1))])
    return built, took


def time_reports(store: Store) -> list[tuple[str, str, float]]:
    reports = StoreReports(store)
    filters = {
        "all calls": ReportFilter(),
        "flow acme, one week": ReportFilter(
            since=START + timedelta(days=30), until=START + timedelta(days=37), flow="acme"
        ),
        "queue support": ReportFilter(queue="support"),
    }
    results = []
    for label, f in filters.items():
        for name in ("summary", "abandonment", "time_to_agent", "callbacks", "funnel"):
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                getattr(reports, name)(f)
                runs.append(time.perf_counter() - began)
            results.append((label, name, statistics.median(runs)))
    for name in ("flows", "queues"):
        began = time.perf_counter()
        getattr(reports, name)()
        results.append(("all calls", f"{name} (list)", time.perf_counter() - began))
    return results


def writer_throughput(store: Store, calls: int = 300) -> dict[str, float]:
    """Events/s through Store.append_rows: one webhook request at a time (a few events per
    transaction), and spool-replay batches (many calls per transaction)."""
    r = random.Random(9)
    templates = _templates()

    def histories(prefix: str) -> list[list[EventRow]]:
        return [r.choice(templates)(History(f"{prefix}{i}", START), r).rows() for i in range(calls)]

    figures = {}
    per_request = histories(f"W{uuid.uuid4().hex[:6]}")
    began = time.perf_counter()
    total = 0
    for rows in per_request:
        for start in range(0, len(rows), 3):  # a webhook request writes about three events
            total += store.append_rows(rows[start : start + 3])
    figures["per request (3 events a transaction)"] = total / (time.perf_counter() - began)
    batched = [row for rows in histories(f"B{uuid.uuid4().hex[:6]}") for row in rows]
    began = time.perf_counter()
    total = store.append_rows(batched)
    figures[f"batched ({len(batched)} events a transaction)"] = total / (
        time.perf_counter() - began
    )
    figures["journal, as ivr serve writes (8 request threads)"] = journal_throughput(
        store, histories(f"J{uuid.uuid4().hex[:6]}")
    )
    return figures


def journal_throughput(store: Store, calls: list[list[EventRow]], threads: int = 8) -> float:
    """Events/s through the product's own writer: each request's events (and the call's
    state) into an fsync'ed journal file by the request's thread, moved into the database
    by the background thread; timed until every event is in the database."""
    url = store.engine.url.render_as_string(hide_password=False)
    requests = []
    for rows in calls:
        state = CallState(
            rows[0].call_sid, rows[0].flow_id, rows[0].flow_version, "+1", "+2", START
        )
        for start in range(0, len(rows), 3):
            requests.append((state, [row.to_event() for row in rows[start : start + 3]]))
    with tempfile.TemporaryDirectory() as spool:
        call_log = StoreCallLog.open(url, spool_dir=spool)
        try:
            began = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda r: call_log.record(*r), requests))
            assert call_log.writer.drain(timeout=600), "the journal was not replayed"
            took = time.perf_counter() - began
        finally:
            call_log.close()
    return sum(len(events) for _, events in requests) / took


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"ivr_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        with database(kind) as url, Store(url) as store:
            store.upgrade()
            count, took = load(store, args.calls)
            print(f"{kind}: loaded {args.calls:,} calls, {count:,} events in {took:.0f} s")
            days, took = roll_up(store)
            print(
                f"{kind}: rolled up {days} days in {took:.1f} s ({took / days * 1000:.0f} ms a day)"
            )
            for label, name, seconds in time_reports(store):
                print(f"  {kind:10} {label:22} {name:14} {seconds * 1000:8.0f} ms")
            for label, rate in writer_throughput(store).items():
                print(f"  {kind:10} event writer, {label}: {rate:,.0f} events/s")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
