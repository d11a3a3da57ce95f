"""`ivr serve` as an operator runs it: a real process, a real port, a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.news_flow import news_flow
from tests.twilio_caller import free_port

FLOW = news_flow("served")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    flow = tmp_path / "served.yaml"
    flow.write_text(FLOW)
    db = tmp_path / "ivr.db"
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": "serve-token", "IVR_PUBLIC_URL": ""}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ivr",
            "serve",
            "--flows",
            str(flow),
            "--db",
            f"sqlite:///{db}",
            "--port",
            str(port),
            "--spool",
            str(tmp_path / "spool"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
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
        yield base, process, db
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_answers_signed_calls_and_keeps_them(
    server: tuple[str, subprocess.Popen[str], Path],
) -> None:
    base, _, db = server
    assert httpx.get(base + "/readyz").json() == {"status": "ok", "flows": True, "database": True}
    url = base + "/twilio/voice"
    params = {"CallSid": "CAserve1", "From": "+15555550100", "To": "+15005550006"}
    signature = RequestValidator("serve-token").compute_signature(url, params)
    answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and "<Gather" in answer.text
    assert httpx.post(url, data=params).status_code == 403
    context = httpx.get(base + "/api/calls/CAserve1").json()
    assert context["path"] == ["menu"]
    assert db.exists()


def test_serve_prints_the_urls_for_the_twilio_console(
    server: tuple[str, subprocess.Popen[str], Path],
) -> None:
    base, process, _ = server
    process.terminate()
    output, _ = process.communicate(timeout=10)
    for route in ("/twilio/voice", "/twilio/fallback", "/twilio/status", "/twilio/agent"):
        assert f"POST {base}{route}" in output


def test_serve_refuses_broken_flows_and_missing_token(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(FLOW.replace("prompt:", "promt:"))
    env = {k: v for k, v in os.environ.items() if k != "TWILIO_AUTH_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "serve", "--flows", str(broken), "--db", "memory://"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and f"{broken}:" in done.stderr and "F102" in done.stderr
    good = tmp_path / "good.yaml"
    good.write_text(FLOW)
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "serve", "--flows", str(good), "--db", "memory://"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "TWILIO_AUTH_TOKEN" in done.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "ivr", "db", "upgrade", "--db", f"sqlite:///{db}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "schema at revision" in done.stdout
