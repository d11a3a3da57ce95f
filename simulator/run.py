"""Running a simulation: against a server app built in-process on the simulation's clock
(faster than real time), or against running servers at the wall clock."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import simpy
import simpy.rt

from simulator.contact_centre import Scenario, Simulation, Tally
from simulator.server import serve
from simulator.standin import StandIn
from simulator.webhooks import Webhooks

Clock = Callable[[], datetime]
AppFactory = Callable[[Clock], Any]  # builds the server's ASGI app with the given clock


def in_process(
    scenario: Scenario,
    make_app: AppFactory,
    *,
    auth_token: str | None,
    start: datetime | None = None,
    seconds_per_word: float = 0.4,
) -> Tally:
    """Serve `make_app(clock)` on a loopback port, its clock the simulation's, and run the
    scenario against it as fast as the requests go."""
    env = simpy.Environment()
    began = start or datetime.now(UTC)

    def clock() -> datetime:
        return began + timedelta(seconds=float(env.now))

    # The server answers in a thread of this process: hand the interpreter lock over
    # sooner than every 5 ms, or each request waits for it several times.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        with serve(make_app(clock)) as base:
            webhooks = Webhooks(base, auth_token)
            try:
                standin = StandIn(webhooks, env, start=began, seconds_per_word=seconds_per_word)
                return Simulation(scenario, standin).run()
            finally:
                webhooks.close()
    finally:
        sys.setswitchinterval(switch)


def against(
    scenario: Scenario,
    public_url: str,
    *,
    auth_token: str | None,
    hosts: Sequence[str] = (),
    speed: float = 1.0,
    seconds_per_word: float = 0.4,
) -> Tally:
    """Run the scenario against running servers (round-robin over `hosts`, signed for
    `public_url`), `speed` times faster than the wall clock (the servers keep real time)."""
    env = simpy.rt.RealtimeEnvironment(factor=1 / speed, strict=False)
    webhooks = Webhooks(public_url, auth_token, hosts=hosts)
    try:
        standin = StandIn(webhooks, env, seconds_per_word=seconds_per_word)
        return Simulation(scenario, standin).run()
    finally:
        webhooks.close()
