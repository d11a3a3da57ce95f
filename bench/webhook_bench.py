"""Webhook benchmark (not a test): concurrent simulated calls against `ivr serve`.

For each configuration (1 or 2 server processes, SQLite or PostgreSQL) it starts the
servers, runs CALLERS threads that each place scripted calls through the Twilio stand-in
for SECONDS, and prints webhook latency p50/p99/max, requests/s, server CPU per request,
server memory (RSS) at the start and the end, and events written against expected. The
same load against a bare FastAPI endpoint answering constant TwiML is the ceiling.

    .venv/bin/python bench/webhook_bench.py [--callers 8] [--seconds 20] [--pg URL]

Two server processes share the database and take every other webhook (the stand-in's
round-robin), as `ivr serve` behind a load balancer would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

from analytics.tables import events
from simulator.people import Scripted
from simulator.server import free_port
from simulator.standin import StandIn
from simulator.webhooks import Webhooks

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PUBLIC = "https://ivr.example.com"
TURNS = ["1", "123456#", "2"]  # billing, an account number, a charge: five webhooks
BARE = """
from fastapi import FastAPI, Response
app = FastAPI()
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say></Response>'
@app.post("/{path:path}")
async def answer(path: str) -> Response:
    return Response(TWIML, media_type="application/xml")
"""


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class TimedWebhooks(Webhooks):
    def __init__(self, run: Run, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.run = run

    def post(self, url: str, params: object, method: str = "POST") -> httpx.Response:
        started = time.perf_counter()
        response = super().post(url, params, method)  # type: ignore[arg-type]
        with self.run.lock:
            self.run.latencies.append(time.perf_counter() - started)
        return response


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def servers(count: int, db: str | None, workdir: Path) -> Iterator[list[tuple[int, str]]]:
    processes = []
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC}
    for n in range(count):
        port = free_port()
        if db is None:
            (workdir / "bare.py").write_text(BARE)
            args = [
                sys.executable,
                "-m",
                "uvicorn",
                "bare:app",
                "--port",
                str(port),
                "--log-level",
                "error",
            ]
        else:
            args = [
                sys.executable,
                "-m",
                "ivr",
                "serve",
                "--flows",
                str(ROOT / "flows.example.yaml"),
                "--db",
                db,
                "--port",
                str(port),
                "--spool",
                str(workdir / f"spool{n}"),
            ]
        log = (workdir / f"server{n}.log").open("wb")
        processes.append(
            (
                subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT),
                port,
            )
        )
        log.close()
    try:
        for process, port in processes:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.post(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"server on {port} did not start") from None
                    time.sleep(0.2)
        yield [(p.pid, f"http://127.0.0.1:{port}") for p, port in processes]
    finally:
        for process, _ in processes:
            process.terminate()
            process.wait(10)


def load(hosts: list[str], callers: int, seconds: float) -> Run:
    run = Run()
    stop = time.monotonic() + seconds

    def caller() -> None:
        webhooks = TimedWebhooks(run, PUBLIC, TOKEN, hosts=hosts)
        try:
            while True:  # at least one call each
                twilio = StandIn(webhooks, stops=("Enqueue", "Dial", "Record"))
                twilio.call(Scripted(TURNS), status_callback="/twilio/status")
                twilio.run()
                with run.lock:
                    run.calls += 1
                if time.monotonic() >= stop:
                    break
        finally:
            webhooks.close()

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def count_events(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())
    finally:
        engine.dispose()


def bench(name: str, count: int, db: str | None, callers: int, seconds: float) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, servers(count, db, Path(tmp)) as running:
        pids = [pid for pid, _ in running]
        hosts = [base for _, base in running]
        per_call = 0
        if db is not None:  # one call alone tells how many events a call writes
            load(hosts, 1, 0.0)
            per_call = count_events(db)
        cpu0 = sum(map(_cpu_seconds, pids))
        rss0 = sum(map(_rss_mb, pids))
        began = time.perf_counter()
        run = load(hosts, callers, seconds)
        elapsed = time.perf_counter() - began
        cpu = sum(map(_cpu_seconds, pids)) - cpu0
        rss1 = sum(map(_rss_mb, pids))
        time.sleep(1)  # the spool flusher, if the database stalled
        written = count_events(db) - per_call if db is not None else 0
    lat = sorted(run.latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    expected = per_call * run.calls
    events_text = f"{written}/{expected}" if db is not None else "-"
    return [
        name,
        f"{statistics.median(lat) * 1000:.1f}",
        f"{p99 * 1000:.1f}",
        f"{lat[-1] * 1000:.1f}",
        f"{len(lat) / elapsed:.0f}",
        f"{cpu / len(lat) * 1000:.2f}",
        f"{rss0:.0f}->{rss1:.0f}",
        events_text,
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=8, help="concurrent calls (threads)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per configuration")
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="admin URL of a PostgreSQL server (a bench database is made)",
    )
    args = parser.parse_args()
    rows = [
        [
            "configuration",
            "p50 ms",
            "p99 ms",
            "max ms",
            "req/s",
            "CPU ms/req",
            "RSS MB",
            "events written/expected",
        ]
    ]
    rows.append(bench("bare FastAPI (ceiling)", 1, None, args.callers, args.seconds))
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            rows.append(
                bench(
                    f"ivr serve x{workers}, SQLite",
                    workers,
                    f"sqlite:///{tmp}/bench{workers}.db",
                    args.callers,
                    args.seconds,
                )
            )
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    for workers in (1, 2):
        name = f"ivr_bench_{os.getpid()}_{workers}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            rows.append(
                bench(f"ivr serve x{workers}, PostgreSQL", workers, url, args.callers, args.seconds)
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
