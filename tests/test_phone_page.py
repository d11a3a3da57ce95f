"""The `/phone` page: walking flows.example.yaml through the stand-in and `ivr serve`.

A real `ivr serve` process (signed webhooks, an API key, the call log on a SQLite file)
serves the page; headless Chromium presses keys on its dial pad and types in its say box,
and the calls it places go through the stand-in to the server's real webhooks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from simulator.phone_page import phone_router
from tests.test_dashboard import browser  # noqa: F401 - the headless Chromium fixture
from tests.twilio_caller import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "phone-page-key"


@pytest.fixture(scope="module")
def flow() -> dict[str, Any]:
    """flows.example.yaml with its support queue open around the clock, so the escape
    reaches the queue whatever the hour the test runs at."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "flows.example.yaml").read_text())
    del data["queues"][data["escape"]["queue"]]["hours"]
    return data


@pytest.fixture(scope="module")
def server(flow: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("phone")
    flows = tmp / "flows.yaml"
    flows.write_text(yaml.safe_dump(flow, allow_unicode=True))
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": "phone-token", "IVR_API_KEY": KEY}
    env.pop("IVR_PUBLIC_URL", None)
    command = [sys.executable, "-m", "ivr", "serve", "--flows", str(flows), "--port", str(port)]
    command += ["--db", f"sqlite:///{tmp / 'ivr.db'}", "--spool", str(tmp / "spool")]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"ivr serve did not start:\n{process.communicate()[0]}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def said(flow: dict[str, Any], node: str) -> str:
    """The words a node speaks, in the flow's locale."""
    spec = flow["nodes"][node]
    text = spec.get("say") or next(v for v in spec.values() if isinstance(v, dict))["prompt"]
    return str(text[flow["locale"]] if isinstance(text, dict) else text)


def test_the_phone_api_walks_a_call_to_the_escape_queue(server: str, flow: dict[str, Any]) -> None:
    key = {"X-API-Key": KEY}
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.post("/phone/calls", json={}).status_code == 401  # the key is needed
        assert http.get("/phone").status_code == 401
        assert http.get("/phone/static/phone.js").status_code == 200  # code, not data
        assert http.get("/phone/flows", headers=key).json() == [
            {"flow": flow["id"], "number": "+15550100000"}
        ]
        first = http.post("/phone/calls", json={"flow": flow["id"]}, headers=key).json()
        assert said(flow, "greeting") in first["heard"]
        assert said(flow, "main_menu") in first["heard"]
        assert first["ended"] is False and "dtmf" in first["prompt"]["input"]

        turn = f"/phone/calls/{first['sid']}/turn"
        account = http.post(turn, json={"kind": "digits", "text": "1"}, headers=key).json()
        assert account["heard"] == [said(flow, "account")]
        assert account["prompt"]["finish_on_key"] == "#"

        silent = http.post(turn, json={"kind": "silence"}, headers=key).json()
        assert silent["ended"] is False and silent["heard"]  # re-prompted, still at `account`

        out = http.post(turn, json={"kind": "digits", "text": "0"}, headers=key).json()
        assert out["ended"] is True
        assert out["end"] == f"queue:{flow['escape']['queue']}"
        assert flow["escape"]["queue"] in out["ending"]
        assert http.post(turn, json={"kind": "silence"}, headers=key).status_code == 404

        context = http.get(out["context_url"], headers=key).json()
        assert context["path"][:2] == ["greeting", "route_caller"]
        assert "account" in context["path"]
        kinds = [e["kind"] for e in http.get(out["events_url"], headers=key).json()]
        assert "escape" in kinds, kinds
        assert http.get("/api/calls/CAnone/events", headers=key).status_code == 404


def test_the_phone_page_in_headless_chromium(
    browser: WebDriver,  # noqa: F811
    server: str,
    flow: dict[str, Any],
) -> None:
    browser.get(f"{server}/phone?key={KEY}")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#flow option"))
    Select(browser.find_element(By.ID, "flow")).select_by_value(flow["id"])
    browser.find_element(By.ID, "call").click()

    def transcript() -> list[str]:
        return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#transcript li")]

    def press(keys: str) -> None:
        for digit in keys:
            key = (By.CSS_SELECTOR, f'[data-key="{digit}"]')
            wait.until(expected_conditions.element_to_be_clickable(key)).click()

    wait.until(lambda b: said(flow, "main_menu") in transcript())
    assert said(flow, "greeting") in transcript()
    press("1")  # a menu key is sent at once (numDigits=1)
    wait.until(lambda b: said(flow, "account") in transcript())
    press("123456#")  # the finish key sends the account number
    billing = said(flow, "billing_menu").replace("{account_number}", "123456")
    wait.until(lambda b: billing in transcript())

    wait.until(lambda b: b.find_element(By.ID, "send-say").is_enabled())
    browser.find_element(By.ID, "say").send_keys("agent")
    browser.find_element(By.ID, "send-say").click()
    status = browser.find_element(By.ID, "status")
    wait.until(lambda b: "ended" in status.text)
    queue = flow["escape"]["queue"]
    assert status.text.endswith(f"queue:{queue}")
    lines = transcript()
    assert lines.index("agent") < len(lines) - 2  # the flow answered before the queue
    assert queue in lines[-1]

    # The page shows the call's context and events, and links to them.
    wait.until(lambda b: '"path"' in b.find_element(By.ID, "context").text)
    link = browser.find_element(By.ID, "context-link").get_attribute("href")
    assert link is not None
    context = httpx.get(link, headers={"X-API-Key": KEY}).json()
    assert context["path"][:2] == ["greeting", "route_caller"]
    assert {"account", "billing_menu"} <= set(context["path"])
    assert context["said"] == ["agent"]
    assert context["values"]["account_number"] == "123456"
    events = browser.find_element(By.ID, "events").text
    assert '"escape"' in events
    log: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [e for e in log if e["level"] == "SEVERE"]
    assert not errors, errors


def test_every_phone_url_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    router = phone_router(list, "http://127.0.0.1:8000", None)
    paths = {getattr(route, "path", "") for route in router.routes} | {
        "/api/calls/{CallSid}/events"
    }
    assert len(paths) >= 5
    for path in paths:
        assert f"`{path}" in readme or f" {path}`" in readme, path
