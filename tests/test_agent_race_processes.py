"""Two agents race for one callback, each on the agent line of a different `ivr serve`
process, both on one PostgreSQL database: exactly one is connected to the customer, the
other is told no one is waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from analytics import Store
from tests.conftest import _postgres_database
from tests.test_database_blackhole import take_callback
from tests.twilio_caller import FakeTwilio, free_port

TOKEN = "race-token"
FLOW = """
id: race
numbers: ["+15005550006"]
escape: {queue: support}
agents:
  - {id: alice, phone: "+15005550010", queues: [support]}
  - {id: bob, phone: "+15005550011", queues: [support]}
queues: {support: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for news. Press 0 or say agent for a person."
      options: [{digit: "1", goto: news}]
  news: {end: {say: "No news today.", resolved: true}}
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


@contextmanager
def ivr_serve(flows: Path, db: str, spool: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN}
    env.pop("IVR_PUBLIC_URL", None)
    command = [sys.executable, "-m", "ivr.cli", "serve", "--flows", str(flows), "--db", db]
    command += ["--port", str(port), "--spool", str(spool)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "ivr serve exited"
            assert time.monotonic() < deadline, "ivr serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_two_agents_on_two_processes_one_callback(pg_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "race.yaml"
    flows.write_text(FLOW, encoding="utf-8")
    with ExitStack() as stack:
        first = stack.enter_context(ivr_serve(flows, pg_url, tmp_path / "spool-1"))
        second = stack.enter_context(ivr_serve(flows, pg_url, tmp_path / "spool-2"))
        one = stack.enter_context(FakeTwilio(first, TOKEN))
        two = stack.enter_context(FakeTwilio(second, TOKEN))
        call = one.dial(["0"])
        assert call.end == "queue:support"
        take_callback(one, call)
        with Store(pg_url) as store:
            deadline = time.monotonic() + 10
            while not store.callbacks_for(call.sid):  # written behind the answer
                assert time.monotonic() < deadline, "the callback never reached the database"
                time.sleep(0.05)
        answers: dict[str, ET.Element] = {}
        start = threading.Barrier(2)

        def agent(twilio: FakeTwilio, who: str) -> None:
            params = {"CallSid": f"CA{who}", "From": who, "To": "+15005550099"}
            start.wait()
            answers[who] = ET.fromstring(
                twilio.post(twilio.base_url + "/twilio/agent", params).text
            )

        racers = [
            threading.Thread(target=agent, args=(one, "+15005550010")),
            threading.Thread(target=agent, args=(two, "+15005550011")),
        ]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=30)
        dialed = [who for who, root in answers.items() if root.find("Dial/Number") is not None]
        assert len(answers) == 2 and len(dialed) == 1
        loser = answers[next(who for who in answers if who not in dialed)]
        assert [v.tag for v in loser] == ["Say", "Pause", "Redirect"]
        assert "No one is waiting" in (loser[0].text or "")
        with Store(pg_url) as store:
            booked = store.callbacks_for(call.sid)
        assert [(c.status, c.agent_id) for c in booked] == [
            ("claimed", "alice" if dialed == ["+15005550010"] else "bob")
        ]
