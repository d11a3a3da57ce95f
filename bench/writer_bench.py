"""Writer benchmark (not a test): the background writer's database work per call, without
HTTP, threads or the load generator.

Calls of five writes each (the webhook benchmark's script: the start, three choices and
the status callback) go to `Store.append_rows` in batches of `--batch` calls, as the
write-behind thread hands them over, through one store or two taking a call's writes in
turn (two servers behind a round-robin: each finds events the other added and reads them
back for the call's summaries). It prints the CPU and the wall time per call, the best of
`--repeat` runs (noise on a shared machine only slows a run down), and checks that every
call's summary counts all its events.

    .venv/bin/python bench/writer_bench.py [--calls 3000] [--batch 10] [--repeat 3]
        [--only sqlite] [--pg URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from webhook_bench import database  # a fresh database of each kind, dropped after

from analytics import CallRef, Store
from analytics.records import EventRow, event_rows
from analytics.tables import call_summaries
from ivr.actions import Event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WRITES = 5


def call_writes(n: int) -> list[list[Event]]:
    """The events of call n, write by write, as the webhooks record them."""
    at = T0 + timedelta(seconds=n)

    def later(seconds: int) -> datetime:
        return at + timedelta(seconds=seconds)

    return [
        [Event("call_started", at, "menu", {}, 1), Event("node_entered", at, "menu", {}, 2)],
        [
            Event("input", later(5), "menu", {"digits": "1"}, 3),
            Event("node_entered", later(5), "billing", {}, 4),
        ],
        [
            Event("input", later(12), "billing", {"digits": "123456"}, 5),
            Event("node_entered", later(12), "account", {}, 6),
        ],
        [
            Event("input", later(20), "account", {"digits": "2"}, 7),
            Event("node_entered", later(20), "charge", {}, 8),
        ],
        [
            Event(
                "call_ended", later(30), "charge", {"status": "completed", "duration": "30"}, 10**6
            )
        ],
    ]


def run(url: str, stores: int, calls: int, batch: int) -> tuple[float, float]:
    """CPU and wall seconds per call."""
    writers = [Store(url) for _ in range(stores)]
    try:
        writers[0].upgrade()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        turn = 0
        for start in range(0, calls, batch):
            scripts = [
                (CallRef(f"CA{n:08d}", "main", "v1"), call_writes(n))
                for n in range(start, min(calls, start + batch))
            ]
            for k in range(WRITES):
                rows: list[EventRow] = []
                for call, writes in scripts:
                    rows += event_rows(call, writes[k])
                writers[turn % stores].append_rows(rows)
                turn += 1
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        with writers[0].engine.connect() as connection:
            counted = connection.scalar(select(func.sum(call_summaries.c.event_count)))
        expected = calls * sum(len(w) for w in call_writes(0))
        if counted != expected:
            raise SystemExit(f"summaries count {counted} events of {expected}: a bug, not noise")
        return cpu / calls, wall / calls
    finally:
        for writer in writers:
            writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=10, help="calls per write of the writer")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is shown")
    parser.add_argument("--only", default="", help="sqlite or postgresql")
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="admin URL of a PostgreSQL server (a bench database is made per run)",
    )
    args = parser.parse_args()
    print(f"{args.calls} calls of {WRITES} writes, {args.batch} calls a batch")
    print(f"{'database':12} {'stores':>6} {'CPU ms/call':>12} {'wall ms/call':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            if args.only and args.only not in kind:
                continue
            for stores in (1, 2):
                best: tuple[float, float] | None = None
                for n in range(args.repeat):
                    with database(kind, args.pg, Path(tmp), f"{stores}_{n}") as url:
                        figures = run(url, stores, args.calls, args.batch)
                    best = figures if best is None else min(best, figures)
                assert best is not None
                print(f"{kind:12} {stores:>6} {best[0] * 1e3:>12.3f} {best[1] * 1e3:>13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
