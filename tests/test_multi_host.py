"""Two `ivr serve` processes on one PostgreSQL, behind a round-robin: the stand-in sends
each webhook to the next process, so every call hops between them, and the calls still
behave and count as the callers lived them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import simpy

from analytics.call_log import StoreCallLog
from flows.loader import load_text
from ivr.cli import main
from simulator.contact_centre import Scenario, Simulation
from simulator.distributions import Distribution, Shift
from simulator.server import free_port
from simulator.standin import StandIn
from simulator.webhooks import Webhooks
from tests.conftest import _postgres_database
from tests.test_simulate import FLOW, figures_from_events, tally_figures

TOKEN = "multi-host-token"
PUBLIC = "https://ivr.example.com"  # what Twilio calls and signs; the balancer's address


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


def start_server(flow: Path, db_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (workdir / "server.log").open("wb")
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ivr",
            "serve",
            "--flows",
            str(flow),
            "--db",
            db_url,
            "--port",
            str(port),
            "--spool",
            str(workdir / "spool"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    log.close()  # the server process keeps its own copy
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} never became ready")


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two `ivr serve` processes on one PostgreSQL database; their base URLs."""
    flow = tmp_path / "shop.yaml"
    flow.write_text(FLOW)
    with ExitStack() as stack:
        hosts = []
        for name in ("a", "b"):
            workdir = tmp_path / name
            workdir.mkdir()
            process, base = start_server(flow, pg_url, workdir)
            stack.callback(process.wait, 10)
            stack.callback(process.terminate)
            hosts.append((process, base))
        for (process, base), name in zip(hosts, "ab", strict=True):
            wait_ready(process, base, tmp_path / name / "server.log")
        yield [base for _, base in hosts]


def test_calls_hop_between_two_servers_and_count_right(
    two_servers: list[str], pg_url: str, tmp_path: Path
) -> None:
    webhooks = Webhooks(PUBLIC, TOKEN, hosts=two_servers)
    try:
        scenario = Scenario(
            load_text(FLOW, "shop.yaml").flow,
            calls_per_hour=120,
            duration=900,
            handle=Distribution("exp", 120),
            patience=Distribution("exp", 150),
            shifts=(Shift(2),),
            choices={"1": 4, "2": 1, "0": 1, "hangup": 1},
            speech_share=0.4,
            callback_acceptance=0.5,
            seed=11,
        )
        # The servers keep the wall clock; the callers' time is virtual, so the run is short.
        tally = Simulation(scenario, StandIn(webhooks, simpy.Environment())).run()
        counts = list(webhooks.by_host.values())
    finally:
        webhooks.close()
    assert abs(counts[0] - counts[1]) <= 1  # every other webhook on each server
    assert tally.reached_agent > 0 and tally.abandoned_queue + tally.abandoned_menu > 0
    # Each server journals its writes on its own disk first and moves them into the
    # database a moment later: count once both journals are empty.
    journals = [tmp_path / name / "spool" for name in ("a", "b")]
    deadline = time.monotonic() + 30
    while any(any(j.iterdir()) for j in journals) and time.monotonic() < deadline:
        time.sleep(0.05)
    call_log = StoreCallLog.open(pg_url, tmp_path / "spool")
    try:
        # From the events (the servers keep the wall clock while the callers' time is
        # virtual, so the reports' durations would not be the simulated ones).
        assert figures_from_events(call_log) == tally_figures(tally)
    finally:
        call_log.close()


def test_ivr_simulate_against_running_servers_at_the_wall_clock(
    two_servers: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    flows = tmp_path / "shop.yaml"
    hosts = [arg for base in two_servers for arg in ("--host", base)]
    started = time.monotonic()
    code = main(
        [
            "simulate",
            "--flows",
            str(flows),
            "--url",
            PUBLIC,
            *hosts,
            "--speed",
            "200",
            "--minutes",
            "3",
            "--rate",
            "100",
            "--agents",
            "1",
            "--handle",
            "exp:30",
            "--seed",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    calls = int(out.split("calls", 1)[1].split()[0])
    simulated = float(out.split("simulated time", 1)[1].split()[0]) * 60
    assert calls > 0
    assert time.monotonic() - started < simulated  # faster than the wall clock, as asked
