"""Who may read the call API, the docs, the dashboard and the metrics: over real HTTP."""

from __future__ import annotations

import base64
import hmac
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers

from flows.catalog import Catalog
from flows.loader import load_text
from ivr.ports import MemoryCallLog
from tests.news_flow import news_flow
from tests.twilio_caller import FakeTwilio, free_port, serve
from webhooks import access
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "access-token"
KEY = "k3y-for-the-api-0123456789"
FLOW = news_flow("gate")
PROTECTED = ["/api/calls/{sid}", "/docs", "/openapi.json", "/metrics", "/"]


def make_app(**env: str) -> FastAPI:
    catalog = Catalog((load_text(FLOW, "gate.yaml"),))
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN, **env})
    app = create_app(settings, lambda: catalog, MemoryCallLog())

    @app.get("/api/added-later")  # a route another module adds: protected by default
    async def added_later() -> dict[str, str]:
        return {"secret": "yes"}

    return app


@pytest.fixture
def keyed() -> Iterator[tuple[str, str]]:
    """A server with an API key, and the sid of one call it answered."""
    with serve(make_app(IVR_API_KEY=KEY)) as base, FakeTwilio(base, TOKEN) as twilio:
        call = twilio.dial([])
        yield base, call.sid


@pytest.mark.parametrize("path", [*PROTECTED, "/api/added-later"])
def test_without_a_key_every_protected_url_is_401_with_a_json_reason(
    keyed: tuple[str, str], path: str
) -> None:
    base, sid = keyed
    answer = httpx.get(base + path.format(sid=sid))
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert "X-API-Key" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer wrong"}, {"X-API-Key": KEY + "x"}, {"Authorization": KEY}],
    ids=["wrong-bearer", "wrong-header", "no-scheme"],
)
def test_a_wrong_key_is_refused(keyed: tuple[str, str], headers: dict[str, str]) -> None:
    base, sid = keyed
    answer = httpx.get(f"{base}/api/calls/{sid}", headers=headers)
    assert answer.status_code == 401
    assert "path" not in answer.text


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}],
    ids=["bearer", "x-api-key"],
)
def test_the_right_key_either_way_reads_the_call(
    keyed: tuple[str, str], headers: dict[str, str]
) -> None:
    base, sid = keyed
    answer = httpx.get(f"{base}/api/calls/{sid}", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["path"] == ["menu"]
    assert httpx.get(base + "/openapi.json", headers=headers).status_code == 200
    assert httpx.get(base + "/metrics", headers=headers).status_code == 200


def test_twilio_and_health_urls_need_no_key_but_twilio_needs_its_signature(
    keyed: tuple[str, str],
) -> None:
    base, _ = keyed
    assert httpx.get(base + "/healthz").status_code == 200
    assert httpx.get(base + "/readyz").status_code == 200
    unsigned = httpx.post(base + "/twilio/voice", data={"CallSid": "CAx", "To": "+1"})
    assert unsigned.status_code == 403
    assert "signature" in unsigned.text


def test_the_dashboard_page_takes_the_key_in_its_address_and_only_there(
    keyed: tuple[str, str],
) -> None:
    base, sid = keyed
    # A browser opening the page cannot send a header; the page sends X-API-Key afterwards.
    assert httpx.get(f"{base}/?key={KEY}").status_code != 401
    assert httpx.get(f"{base}/?key=wrong").status_code == 401
    assert httpx.get(f"{base}/api/calls/{sid}?key={KEY}").status_code == 401
    assert httpx.get(f"{base}/metrics?key={KEY}").status_code == 401


def test_the_page_code_under_static_needs_no_key_and_holds_no_data(
    keyed: tuple[str, str],
) -> None:
    base, _ = keyed
    assert httpx.get(base + "/static/missing.js").status_code == 404


def test_rotated_keys_both_work() -> None:
    with serve(make_app(IVR_API_KEY=f"old-{KEY}, {KEY}")) as base:
        for key in (f"old-{KEY}", KEY):
            assert httpx.get(base + "/api/added-later", headers={"X-API-Key": key}).is_success
        assert httpx.get(base + "/api/added-later", headers={"X-API-Key": "old"}).status_code == 401


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_basic_auth() -> None:
    with serve(make_app(IVR_BASIC_AUTH="ops:s3cret:with-colon")) as base:
        url = base + "/api/added-later"
        assert httpx.get(url, headers=basic("ops", "s3cret:with-colon")).json() == {"secret": "yes"}
        assert httpx.get(url, headers=basic("ops", "wrong")).status_code == 401
        refused = httpx.get(url)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="ivr"'


def test_without_a_key_only_loopback_clients_not_behind_a_proxy_are_served() -> None:
    with serve(make_app()) as base:
        url = base + "/api/added-later"
        assert httpx.get(url).json() == {"secret": "yes"}  # this test runs on 127.0.0.1
        proxied = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403
        assert "IVR_API_KEY" in proxied.json()["detail"]
    gate = access.Gate(Settings())
    assert gate.decide(Headers({}), "203.0.113.9").status == 403
    assert gate.decide(Headers({}), "::1").who == "loopback"


def test_a_configured_key_is_needed_from_loopback_too() -> None:
    gate = access.Gate(Settings.from_env({"IVR_API_KEY": KEY}))
    assert gate.decide(Headers({}), "127.0.0.1").status == 401


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configured key is compared, as equal-length digests, with compare_digest,
    even after a match: the time taken does not tell how much of a key was right."""
    compared: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module access.py calls
    gate = access.Gate(Settings.from_env({"IVR_API_KEY": f"{KEY},second-key"}))
    assert gate.decide(Headers({"x-api-key": KEY}), "127.0.0.1").who == access.key_name(KEY)
    assert len(compared) == 2  # the first key matched; the second was compared anyway
    assert gate.decide(Headers({"x-api-key": "k"}), "127.0.0.1").who is None
    assert len(compared) == 4
    assert all(len(a) == len(b) == 32 for a, b in compared)


def test_api_reads_and_refusals_are_logged_as_admin_actions(
    keyed: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    base, sid = keyed
    with caplog.at_level(logging.INFO, logger="ivr.admin"):
        httpx.get(f"{base}/api/calls/{sid}", headers={"X-API-Key": KEY})
        httpx.get(f"{base}/api/calls/{sid}", headers={"X-API-Key": "guess"})
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.name == "ivr.admin"]
    read, refused = lines
    assert read["who"] == access.key_name(KEY) and KEY not in str(read)
    assert read["action"] == f"GET /api/calls/{sid}" and read["status"] == 200
    assert refused["who"] == "anonymous" and refused["action"] == "refused"
    assert "not valid" in refused["reason"] and "guess" not in str(refused)


def run_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    flow = tmp_path / "gate.yaml"
    flow.write_text(FLOW)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    environ.update({"TWILIO_AUTH_TOKEN": "t", **env})
    return subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve", "--flows", str(flow), "--db", "memory://", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


def test_serve_on_all_interfaces_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    process = run_serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "0.0.0.0" in err and "IVR_API_KEY" in err and "127.0.0.1" in err


def test_serve_on_all_interfaces_with_a_key_starts_and_asks_for_it(tmp_path: Path) -> None:
    port = free_port()
    process = run_serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), IVR_API_KEY=KEY)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        assert httpx.get(base + "/metrics").status_code == 401
        assert httpx.get(base + "/metrics", headers={"X-API-Key": KEY}).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_a_malformed_basic_auth_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="user:password"):
        Settings.from_env({"IVR_BASIC_AUTH": "no-colon"})


def test_a_websocket_added_later_is_protected_too() -> None:
    """No URL takes websockets today (uvicorn here has no websocket library); one added
    later is refused the same way, before the handshake."""
    import asyncio

    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    middleware = access.AccessMiddleware(inner, Settings.from_env({"IVR_API_KEY": KEY}))
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"type": "websocket", "path": "/live", "headers": headers, "client": ("::1", 1)}

    asyncio.run(middleware(scope([]), receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}] and reached == []
    asyncio.run(middleware(scope([(b"x-api-key", KEY.encode())]), receive, send))
    assert reached == ["/live"]
