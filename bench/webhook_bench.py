"""Webhook benchmark (not a test): simulated calls against `ivr serve`.

For each configuration (1 or 2 server processes, SQLite or PostgreSQL, and a bare FastAPI
endpoint answering constant TwiML as the ceiling) it starts the servers and measures:

- closed loop: CALLERS threads each place scripted calls through the Twilio stand-in,
  one after the other, for SECONDS: the most requests/s the configuration answers;
- open loop (`--rate R`): calls arrive at fixed intervals so that R webhook requests/s
  are sent whatever the answers take (each call's webhooks in turn, as Twilio sends
  them): webhook latency p50/p99/max at that rate.

It prints a table: requests/s, for `ivr serve` that as a share of the bare endpoint's
measured just before each closed loop (a bare server runs alongside all along: the shared
machine's speed drifts within a run, and a single bare figure at its start does not
follow), latency, server CPU per request, the load generator's CPU
per request in the closed loop (it shares the cores with the servers), the machine's idle
share of CPU in that loop (a server whose answers wait on its own threads, a journal's
fsync or a read, leaves cores idle that the bare endpoint keeps busy), server memory
(RSS) at the start and the end, and events written against expected (every call writes
as many as one call alone: nothing may be lost), counted once the servers' journals have
been replayed into the database, with how long that took after the load ended.

    .venv/bin/python bench/webhook_bench.py [--callers 8] [--seconds 20] [--rate 200]
        [--repeat 3] [--only sqlite] [--pg URL]
    .venv/bin/python bench/webhook_bench.py --soak 600 --rate 200 [--every 10]

With `--repeat N` each configuration is measured N times in a row (the same servers):
the table shows its best max req/s (noise on a shared machine only ever slows a run) and
the open-loop run with the median p99. CPU, memory and events cover all N.

`--soak` runs one configuration (the first that `--only` names; SQLite with one worker by
default) at the fixed rate for that many seconds and prints the servers' RSS every
`--every` seconds, with its start, end and peak, then the p99, max and late calls of
each such period.

The calls follow one path whatever the hour: flows.example.yaml with its office always
open (`bench_flow`), into the billing queue. Outside the example's own hours they would
book a callback instead, a heavier path: figures taken at different hours did not compare.

Two server processes share the database and take every other webhook (the stand-in's
round-robin), as `ivr serve` behind a load balancer would.

The load comes from LOADERS processes started together (each with its share of the
callers or of the paced calls), as Twilio's requests come from many machines: from one
Python process, answers waited on its own threads and the bare endpoint's p99 read
40-160 ms instead of 3.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, func, select, text

from analytics.tables import events
from simulator.people import Scripted
from simulator.server import free_port
from simulator.standin import StandIn
from simulator.webhooks import Webhooks

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PUBLIC = "https://ivr.example.com"
TURNS = ["1", "123456#", "2"]  # billing, an account number, a charge (and the status callback)
FLOW = ROOT / "flows.example.yaml"
POOL = 64  # threads placing calls in the open loop: more than are ever on the line at once
LOADERS = 4  # processes sending the load
LATE = 0.010  # seconds a call may start after its time before it counts as late
DRAIN = 180.0  # seconds the journals get to reach the database after the load
BARE = """
from fastapi import FastAPI, Response
app = FastAPI()
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say></Response>'
@app.post("/{path:path}")
async def answer(path: str) -> Response:
    return Response(TWIML, media_type="application/xml")
"""
CONFIGURATIONS = (  # name, server processes, database ("sqlite", "postgresql" or None)
    ("bare FastAPI (ceiling)", 1, None),
    ("ivr serve x1, SQLite", 1, "sqlite"),
    ("ivr serve x2, SQLite", 2, "sqlite"),
    ("ivr serve x1, PostgreSQL", 1, "postgresql"),
    ("ivr serve x2, PostgreSQL", 2, "postgresql"),
)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each request
    late_at: list[float] = field(default_factory=list)  # open loop: when late calls were due
    calls: int = 0
    late: int = 0  # open loop: calls that started more than LATE after their time
    seconds: float = 0.0
    load_cpu: float = 0.0  # CPU seconds the load generator's processes spent sending it
    idle: float | None = None  # the machine's share of CPU time idle meanwhile (Linux)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


class TimedWebhooks(Webhooks):
    def __init__(self, run: Run, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.run = run

    def post(self, url: str, params: object, method: str = "POST") -> httpx.Response:
        sent, started = time.monotonic(), time.perf_counter()
        response = super().post(url, params, method)  # type: ignore[arg-type]
        with self.run.lock:
            self.run.latencies.append(time.perf_counter() - started)
            self.run.sent_at.append(sent)
        return response


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int] | None:
    """All CPUs' (busy, idle) clock ticks since boot (idle counting the wait for the
    disk), or None where there is no /proc/stat."""
    try:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, idle


def _idle_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None:
        return None
    busy, idle = after[0] - before[0], after[1] - before[1]
    return idle / (busy + idle) if busy + idle else None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Servers:
    pids: list[int]
    hosts: list[str]
    spools: list[Path]

    def cpu(self) -> float:
        return sum(map(_cpu_seconds, self.pids))

    def rss(self) -> float:
        return sum(map(_rss_mb, self.pids))


def bench_flow(workdir: Path) -> Path:
    """flows.example.yaml with its office always open and no clock in its branches: the
    calls take the same path (into the billing queue) whenever the benchmark runs. With
    the example's own hours, calls outside them book a callback instead, a different
    and heavier path, so figures taken at different hours did not compare."""
    flow = yaml.safe_load(FLOW.read_text(encoding="utf-8"))
    flow["hours"]["office"].update(open={"mon-sun": "00:00-24:00"}, closed_dates=[])
    for node in flow["nodes"].values():
        if "branch" in node:
            node["branch"]["cases"] = [c for c in node["branch"]["cases"] if "time" not in c["if"]]
    # A folder of its own: `ivr serve` watches the flow file's folder for edits, and the
    # servers' logs and spools written next to it kept its watcher busy.
    path = workdir / "flow" / "bench-flow.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def servers(count: int, db: str | None, workdir: Path) -> Iterator[Servers]:
    processes = []
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC}
    spools = [workdir / f"spool{n}" for n in range(count)]
    for n in range(count):
        port = free_port()
        if db is None:
            (workdir / "bare.py").write_text(BARE)
            args = [sys.executable, "-m", "uvicorn", "bare:app", "--port", str(port)]
            args += ["--log-level", "error"]
        else:
            args = [sys.executable, "-m", "ivr", "serve", "--flows"]
            args += [str(bench_flow(workdir)), "--db", db, "--port", str(port)]
            args += ["--spool", str(spools[n])]
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
        yield Servers(
            [p.pid for p, _ in processes],
            [f"http://127.0.0.1:{port}" for _, port in processes],
            spools,
        )
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            try:
                process.wait(DRAIN)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def place_call(webhooks: Webhooks) -> None:
    twilio = StandIn(webhooks, stops=("Enqueue", "Dial", "Record"))
    twilio.call(Scripted(TURNS), status_callback="/twilio/status")
    twilio.run()


def closed_loop(hosts: list[str], callers: int, seconds: float) -> Run:
    """`callers` calls at a time, each caller placing one call after the other for
    `seconds`, spread over LOADERS processes."""
    shares = [(hosts, len(range(i, callers, LOADERS)), seconds) for i in range(LOADERS)]
    return in_processes(_closed_share, [s for s in shares if s[1]])


def _closed_share(
    started: Callable[[], float], hosts: list[str], callers: int, seconds: float
) -> Run:
    run = Run()
    clients = [TimedWebhooks(run, PUBLIC, TOKEN, hosts=hosts) for _ in range(callers)]
    began = started()
    stop = began + seconds

    def caller(webhooks: TimedWebhooks) -> None:
        while True:  # at least one call each
            place_call(webhooks)
            with run.lock:
                run.calls += 1
            if time.monotonic() >= stop:
                break

    return _threads(run, began, clients, caller)


def open_loop(
    hosts: list[str],
    rate: float,
    seconds: float,
    per_call: int,
    tick: Callable[[float], None] | None = None,
) -> Run:
    """Calls start every `per_call / rate` seconds (so `rate` webhooks/s in all), each on
    a thread of a pool, whether or not the earlier ones were answered; LOADERS processes
    take turns. `tick(elapsed)` is called about once a second meanwhile (the soak samples
    memory there)."""
    interval = per_call / rate
    shares = [(hosts, interval, seconds, i) for i in range(LOADERS)]
    return in_processes(_open_share, shares, tick)


def _open_share(
    started: Callable[[], float], hosts: list[str], interval: float, seconds: float, turn: int
) -> Run:
    """Calls `turn`, `turn + LOADERS`, ... of the open loop."""
    run = Run()
    due: queue.Queue[float | None] = queue.Queue()
    clients = [TimedWebhooks(run, PUBLIC, TOKEN, hosts=hosts) for _ in range(POOL // LOADERS)]

    def worker(webhooks: TimedWebhooks) -> None:
        while (at := due.get()) is not None:
            if time.monotonic() - at > LATE:
                with run.lock:
                    run.late += 1
                    run.late_at.append(at)
            place_call(webhooks)
            with run.lock:
                run.calls += 1

    def pace() -> None:
        n = turn
        while (at := began + n * interval) < began + seconds:
            now = time.monotonic()
            if at > now:
                time.sleep(at - now)
            due.put(at)
            n += LOADERS
        for _ in clients:
            due.put(None)

    began = started()
    pacer = threading.Thread(target=pace)
    pacer.start()
    run = _threads(run, began, clients, worker)
    pacer.join()
    return run


def _threads(
    run: Run, began: float, clients: list[TimedWebhooks], work: Callable[[TimedWebhooks], None]
) -> Run:
    """`work(client)` on a thread per client; `run.seconds` from `began` to the last
    one's end (closing the clients afterwards is not part of it)."""
    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - began
    for client in clients:
        client.close()
    return run


def _load_process(
    target: Callable[..., Run],
    share: tuple[object, ...],
    ready: Any,
    start: Any,
    results: Any,
) -> None:
    cpu_at_start = [0.0]

    def started() -> float:
        """Waits for every process to be set up: they start together."""
        ready.wait()
        ready.wait()
        cpu_at_start[0] = time.process_time()  # all of this process's threads
        return float(start.value)

    run = target(started, *share)
    load_cpu = time.process_time() - cpu_at_start[0]
    results.put((run.latencies, run.sent_at, run.late_at, run.calls, run.seconds, load_cpu))


def in_processes(
    target: Callable[..., Run],
    shares: list[tuple[Any, ...]],
    tick: Callable[[float], None] | None = None,
) -> Run:
    """`target(started, *share)` in a process of its own for each share, `started()`
    returning one moment for all once they are set up; their runs merged (see the
    module's docstring for why the load comes from several processes)."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(len(shares) + 1)
    start = context.Value("d", 0.0)
    results = context.Queue()
    processes = [
        context.Process(target=_load_process, args=(target, share, ready, start, results))
        for share in shares
    ]
    for process in processes:
        process.start()
    ready.wait(timeout=120)
    start.value = began = time.monotonic() + 0.1
    ready.wait(timeout=10)
    ticks = _machine_ticks()
    merged = Run()
    received = 0
    last_tick = 0.0
    while received < len(processes):
        try:
            latencies, sent_at, late_at, calls, seconds, load_cpu = results.get(timeout=0.2)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a load process failed") from None
        else:
            received += 1
            merged.latencies += latencies
            merged.sent_at += sent_at
            merged.late_at += late_at
            merged.calls += calls
            merged.late += len(late_at)
            merged.seconds = max(merged.seconds, seconds)
            merged.load_cpu += load_cpu
        elapsed = time.monotonic() - began
        if tick is not None and elapsed - last_tick >= 1.0:
            last_tick = elapsed
            tick(elapsed)
    merged.idle = _idle_share(ticks, _machine_ticks())
    for process in processes:
        process.join()
    return merged


def count_events(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())
    finally:
        engine.dispose()


def drained(running: Servers, db: str, expected: int) -> tuple[int, float]:
    """Events in the database once the journals are replayed (or DRAIN s have passed),
    and how long after the load that took."""
    began = time.monotonic()
    while True:
        spooled = any(any(spool.iterdir()) for spool in running.spools)  # journals, spool
        written = count_events(db)
        if (not spooled and written >= expected) or time.monotonic() - began > DRAIN:
            return written, time.monotonic() - began
        time.sleep(0.2)


@dataclass
class Figures:
    name: str
    closed: Run | None = None
    fixed: Run | None = None
    cpu_ms: float = 0.0
    load_cpu_ms: float = 0.0  # the load generator's CPU per request, flat out
    rss: tuple[float, float] = (0.0, 0.0)
    events: str = "-"
    drain_s: str = "-"
    # Max req/s over the bare endpoint's, each measured right after the bare one: the
    # shared machine's speed drifts by half within a run, which a single bare figure at
    # the start does not follow.
    share: float | None = None


def bench(
    name: str,
    count: int,
    db: str | None,
    args: argparse.Namespace,
    workdir: Path,
    bare: list[str] | None = None,
) -> Figures:
    """`bare`: the bare endpoint's hosts, measured before each closed loop."""
    figures = Figures(name)
    with servers(count, db, workdir) as running:
        hosts = running.hosts
        # One call alone tells how many webhooks and events a call makes.
        probe = Run()
        webhooks = TimedWebhooks(probe, PUBLIC, TOKEN, hosts=hosts)
        place_call(webhooks)
        webhooks.close()
        per_call_requests = len(probe.latencies)
        per_call_events = drained(running, db, 1)[0] if db is not None else 0
        cpu0 = running.cpu()
        figures.rss = (running.rss(), 0.0)
        requests = calls = 0
        closed: list[Run] = []
        fixed: list[Run] = []
        shares: list[float] = []
        for _ in range(args.repeat):  # noise only ever slows a run down
            if not args.rate_only:
                ceiling = closed_loop(bare, args.callers, args.seconds) if bare else None
                closed.append(closed_loop(hosts, args.callers, args.seconds))
                if ceiling is not None and ceiling.rate():
                    shares.append(closed[-1].rate() / ceiling.rate())
            if args.rate:
                fixed.append(open_loop(hosts, args.rate, args.seconds, per_call_requests))
        for run in closed + fixed:
            requests += len(run.latencies)
            calls += run.calls
        # The most a configuration did is what it can do; a latency is the run in the middle.
        figures.closed = max(closed, key=lambda r: r.rate()) if closed else None
        figures.fixed = sorted(fixed, key=lambda r: r.ms(0.99))[len(fixed) // 2] if fixed else None
        figures.share = sorted(shares)[len(shares) // 2] if shares else None
        figures.cpu_ms = (running.cpu() - cpu0) / requests * 1000
        if closed:
            sent = sum(len(run.latencies) for run in closed)
            figures.load_cpu_ms = sum(run.load_cpu for run in closed) / sent * 1000
        figures.rss = (figures.rss[0], running.rss())
        if db is not None:
            expected = per_call_events * calls
            written, took = drained(running, db, per_call_events * (calls + 1))
            figures.events = f"{written - per_call_events}/{expected}"
            figures.drain_s = f"{took:.1f}"
    return figures


def table(all_figures: list[Figures], rate: float) -> str:
    header = ["configuration", "max req/s", "of bare alongside"]
    if rate:
        header += [f"req/s sent (of {rate:.0f})", "late calls", "p50 ms", "p99 ms", "max ms"]
    else:
        header += ["p50 ms", "p99 ms", "max ms"]
    header += ["CPU ms/req", "load gen. CPU ms/req", "idle CPU", "RSS MB"]
    header += ["events written/expected"]
    header += ["drain s"]
    rows = [header]
    for f in all_figures:
        closed = f.closed
        measured = f.fixed if rate else closed
        row = [f.name, f"{closed.rate():.0f}" if closed else "-"]
        row.append(f"{f.share:.0%}" if f.share is not None else "-")
        if rate and measured is not None:
            row += [f"{measured.rate():.0f}", f"{measured.late}/{measured.calls}"]
        if measured is not None:
            row += [f"{measured.ms(0.5):.1f}", f"{measured.ms(0.99):.1f}", f"{measured.ms(1):.1f}"]
        load = f"{f.load_cpu_ms:.2f}" if f.closed else "-"
        idle = f"{closed.idle:.0%}" if closed is not None and closed.idle is not None else "-"
        row += [f"{f.cpu_ms:.2f}", load, idle, f"{f.rss[0]:.0f}->{f.rss[1]:.0f}"]
        row += [f.events, f.drain_s]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@contextmanager
def database(kind: str, pg: str, tmp: Path, tag: str) -> Iterator[str]:
    """A fresh database of that kind for one configuration."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/bench-{tag}.db"
        return
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    name = f"ivr_bench_{os.getpid()}_{tag}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def soak(name: str, count: int, kind: str | None, args: argparse.Namespace) -> int:
    if kind is None or not args.rate:
        print("--soak needs --rate and an ivr serve configuration", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(kind, args.pg, Path(tmp), "soak") as db,
        servers(count, db, Path(tmp)) as running,
    ):
        probe = Run()
        webhooks = TimedWebhooks(probe, PUBLIC, TOKEN, hosts=running.hosts)
        place_call(webhooks)
        webhooks.close()
        per_call_events = drained(running, db, 1)[0]
        samples = [(0.0, running.rss())]

        def tick(elapsed: float) -> None:
            if elapsed - samples[-1][0] >= args.every:
                samples.append((elapsed, running.rss()))
                print(f"  {elapsed:6.0f} s  RSS {samples[-1][1]:6.1f} MB", flush=True)

        print(f"{name}: {args.rate:.0f} webhook requests/s for {args.soak:.0f} s", flush=True)
        cpu0 = running.cpu()
        run = open_loop(running.hosts, args.rate, args.soak, len(probe.latencies), tick)
        cpu = running.cpu() - cpu0
        samples.append((run.seconds, running.rss()))
        written, took = drained(running, db, per_call_events * (run.calls + 1))
    series = " ".join(f"{mb:.0f}" for _, mb in samples)
    rss = [mb for _, mb in samples]
    print(f"RSS MB every {args.every:.0f} s: {series}")
    print(f"RSS MB start {rss[0]:.1f}, end {rss[-1]:.1f}, peak {max(rss):.1f}")
    for line in periods(run, args.every):
        print(line)
    print(
        f"requests {len(run.latencies)} ({run.rate():.0f}/s), late calls {run.late}/{run.calls}, "
        f"p50 {run.ms(0.5):.1f} ms, p99 {run.ms(0.99):.1f} ms, max {run.ms(1):.1f} ms, "
        f"CPU {cpu / len(run.latencies) * 1000:.2f} ms/req"
    )
    print(
        f"events written/expected {written - per_call_events}/{per_call_events * run.calls} "
        f"(drained {took:.1f} s after the load)"
    )
    return 0


def periods(run: Run, every: float) -> list[str]:
    """Latency and late calls per `every` seconds of a run: whether a high p99 comes from
    a few moments (the machine, or the load generator falling behind: late calls) or
    from all along."""
    if not run.sent_at:
        return []
    origin = min(run.sent_at)
    by_period: dict[int, Run] = {}
    for sent, latency in zip(run.sent_at, run.latencies, strict=True):
        by_period.setdefault(int((sent - origin) // every), Run()).latencies.append(latency)
    for due in run.late_at:
        by_period.setdefault(max(0, int((due - origin) // every)), Run()).late += 1
    return [
        f"  {n * every:5.0f}-{(n + 1) * every:.0f} s: {len(part.latencies)} requests, "
        f"p99 {part.ms(0.99) if part.latencies else 0:.1f} ms, "
        f"max {part.ms(1) if part.latencies else 0:.1f} ms, late calls {part.late}"
        for n, part in sorted(by_period.items())
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callers", type=int, default=8, help="closed loop: concurrent calls")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each configuration this many times: the best max req/s, the median p99",
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, help="open loop: webhook requests/s (calls paced)"
    )
    parser.add_argument(
        "--rate-only", action="store_true", help="skip the closed loop (max requests/s)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run configurations whose name contains this (case-insensitive; repeatable)",
    )
    parser.add_argument("--soak", type=float, default=0.0, help="soak for this many seconds")
    parser.add_argument("--every", type=float, default=10.0, help="soak: seconds between RSS")
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="admin URL of a PostgreSQL server (a bench database is made)",
    )
    args = parser.parse_args()
    chosen = [
        c
        for c in CONFIGURATIONS
        if not args.only or any(o.lower() in c[0].lower() for o in args.only)
    ]
    if args.soak:
        serving = [c for c in chosen if c[2] is not None] if args.only else [CONFIGURATIONS[1]]
        if not serving:
            print("--only names no ivr serve configuration", file=sys.stderr)
            return 2
        return soak(*serving[0], args)
    results = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as alongside:
        bare: list[str] | None = None
        if not args.rate_only and any(kind is not None for _, _, kind in chosen):
            (Path(tmp) / "alongside").mkdir()
            bare = alongside.enter_context(servers(1, None, Path(tmp) / "alongside")).hosts
        for index, (name, count, kind) in enumerate(chosen):
            workdir = Path(tmp) / f"run{index}"
            workdir.mkdir()
            if kind is None:
                results.append(bench(name, count, None, args, workdir))
            else:
                with database(kind, args.pg, Path(tmp), str(index)) as db:
                    results.append(bench(name, count, db, args, workdir, bare))
            print(table(results, args.rate), file=sys.stderr, flush=True)
    print(table(results, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
