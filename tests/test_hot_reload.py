"""Hot reload over real HTTP: the flow file is edited while calls are in progress.

A call finishes on the version it started on, new calls get the new version, a broken edit
is refused with located errors and the last good version keeps serving. Also `ivr serve`
as a real process reloads on SIGHUP.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from analytics.call_log import StoreCallLog
from flows.versions import ServedFlows
from ivr.flow_watch import FlowWatcher
from tests.twilio_caller import FakeTwilio, free_port, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "reload-token"

V1 = """
id: shop
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Version one. For news press 1. Press 0 or say agent for a person."
      options: [{digit: "1", goto: news}]
  news: {end: {say: "Old news from version one.", resolved: true}}
"""

V2 = """
id: shop
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Version two. For offers press 2. Press 0 or say agent for a person."
      options: [{digit: "2", goto: offers}]
  offers: {end: {say: "New offers from version two.", resolved: true}}
"""

_probes = itertools.count(1)


def probe(twilio: FakeTwilio) -> str:
    """What a brand-new call hears first."""
    return said(start_call(twilio, f"CAprobe{next(_probes)}")[1])


BASE = {"AccountSid": "AC" + "0" * 32, "From": "+15555550100", "To": "+15005550006"}


def eventually(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_call(twilio: FakeTwilio, sid: str) -> tuple[str, ET.Element]:
    """Answer a new call up to its first prompt; the Gather's action URL and the prompt."""
    url = twilio.base_url + "/twilio/voice"
    answer = twilio.post(url, {**BASE, "CallSid": sid})
    assert answer.status_code == 200
    gather = ET.fromstring(answer.text).find("Gather")
    assert gather is not None, answer.text
    return urljoin(url, gather.get("action", "")), gather


def press(twilio: FakeTwilio, action: str, sid: str, digits: str) -> str:
    answer = twilio.post(action, {**BASE, "CallSid": sid, "Digits": digits})
    assert answer.status_code == 200
    return answer.text


def said(element: ET.Element) -> str:
    return " ".join(s.text or "" for s in element.iter("Say"))


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(V1)
    return path


@pytest.fixture
def served(shop: Path) -> Iterator[ServedFlows]:
    flows = ServedFlows([str(shop)])
    watcher = FlowWatcher(flows, debounce_ms=100)
    watcher.start()
    try:
        yield flows
    finally:
        watcher.stop()


@pytest.fixture
def twilio(served: ServedFlows, call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    app = create_app(Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}), served.catalog, call_log)
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def version_now(served: ServedFlows) -> str:
    loaded = served.catalog().by_id("shop")
    assert loaded is not None
    return loaded.version


def test_an_edit_mid_call_serves_new_calls_and_lets_old_ones_finish(
    shop: Path, served: ServedFlows, twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    v1 = version_now(served)
    old_action, prompt = start_call(twilio, "CAold")
    assert "Version one" in said(prompt)

    shop.write_text(V2)
    eventually(lambda: version_now(served) != v1, "the watcher to load version two")
    v2 = version_now(served)

    finished = press(twilio, old_action, "CAold", "1")
    assert "Old news from version one." in finished

    new_action, prompt = start_call(twilio, "CAnew")
    assert "Version two" in said(prompt)
    assert "New offers from version two." in press(twilio, new_action, "CAnew", "2")

    old, new = call_log.load("CAold"), call_log.load("CAnew")
    assert old is not None and new is not None
    assert (old.flow_version, new.flow_version) == (v1, v2)
    assert old.path == ("menu", "news") and new.path == ("menu", "offers")
    assert httpx.get(twilio.base_url + "/readyz").json()["status"] == "ok"


def test_a_broken_edit_is_refused_logged_and_the_last_good_version_serves(
    shop: Path,
    served: ServedFlows,
    twilio: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop.write_text(V2)
    eventually(lambda: "Version two" in probe(twilio), "version two")
    v2 = version_now(served)

    caplog.set_level(logging.INFO, logger="ivr.reload")
    shop.write_text(V2.replace("prompt:", "promt:"))
    located = f"{shop}:9:7: F102 unknown key 'promt' in menu"
    eventually(lambda: any(located in r.getMessage() for r in caplog.records), "the error log")
    assert any("refused" in r.getMessage() for r in caplog.records)

    assert version_now(served) == v2
    action, prompt = start_call(twilio, "CAafter")
    assert "Version two" in said(prompt)
    assert "New offers" in press(twilio, action, "CAafter", "2")
    assert httpx.get(twilio.base_url + "/readyz").json()["status"] == "ok"


def test_ivr_serve_reloads_on_sighup(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "shop.yaml").write_text(V1)
    port = free_port()
    log_file = tmp_path / "serve.log"
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": ""}
    with log_file.open("w") as output:
        command = ["serve", "--flows", str(flows), "--db", "memory://", "--port", str(port)]
        command += ["--spool", str(tmp_path / "spool"), "--no-watch"]
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr", *command],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, log_file.read_text()
            try:
                return httpx.get(base + "/readyz").status_code == 200
            except httpx.TransportError:
                return False

        eventually(up, "ivr serve to start", 30)
        with FakeTwilio(base, TOKEN) as twilio:
            old_action, prompt = start_call(twilio, "CAhup1")
            assert "Version one" in said(prompt)
            (flows / "shop.yaml").write_text(V2)
            time.sleep(1)  # --no-watch: the edit alone changes nothing
            assert "Version one" in probe(twilio)
            process.send_signal(signal.SIGHUP)
            eventually(lambda: "Version two" in probe(twilio), "version two")
            assert "Old news from version one." in press(twilio, old_action, "CAhup1", "1")

            (flows / "shop.yaml").write_text(V2.replace("prompt:", "promt:"))
            process.send_signal(signal.SIGHUP)
            eventually(lambda: "F102" in log_file.read_text(), "the refused reload in the log")
            assert f"{flows}/shop.yaml:9:7: F102 unknown key 'promt'" in log_file.read_text()
            assert "Version two" in probe(twilio)
            assert httpx.get(base + "/readyz").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
