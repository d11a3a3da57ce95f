"""Structured logs: one JSON object per line, the CallSid and route on every line written
while a request is answered."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from flows.catalog import Catalog
from flows.loader import load_text
from ivr.logs import (
    BatchingStreamHandler,
    JsonFormatter,
    TextFormatter,
    begin_request,
    bind_call,
    end_request,
)
from ivr.ports import MemoryCallLog
from tests.news_flow import news_flow
from tests.twilio_caller import FakeTwilio, free_port, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "logs-token"
FLOW = news_flow("logged")


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    catalog = Catalog((load_text(FLOW, "logged.yaml"),))
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}), lambda: catalog, MemoryCallLog()
    )
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def test_every_line_of_a_request_carries_its_call_sid(twilio: FakeTwilio) -> None:
    captured: list[dict[str, Any]] = []
    capture = _capture(captured)
    with capture:
        call = twilio.dial(["1"])
        # A damaged state token: the handler logs the failure and fails open.
        twilio.post(twilio.base_url + "/twilio/gather?t=damaged", {"CallSid": "CAbroken"})
        capture.wait_for('"POST /twilio/gather 200"', "CAbroken")
    answered = [x for x in captured if x["logger"] == "ivr.http"]
    assert [x["message"] for x in answered[:2]] == [
        "POST /twilio/voice 200",
        "POST /twilio/gather 200",
    ]
    assert all(x["call_sid"] == call.sid for x in answered[:2])
    assert answered[0]["route"] == "/twilio/voice" and answered[0]["status"] == 200
    assert isinstance(answered[0]["duration_ms"], float)
    failed = [x for x in captured if x.get("call_sid") == "CAbroken"]
    assert {x["logger"] for x in failed} == {"ivr.webhooks", "ivr.http"}
    handler_line = next(x for x in failed if x["logger"] == "ivr.webhooks")
    assert handler_line["level"] == "error" and "BadRequest" in handler_line["exception"]
    assert handler_line["route"] == "/twilio/gather"
    for line in captured:
        assert {"time", "level", "logger", "message"} <= line.keys()
        assert line["time"].endswith("Z")


def test_query_strings_with_call_state_stay_out_of_the_log(twilio: FakeTwilio) -> None:
    captured: list[dict[str, Any]] = []
    with _capture(captured):
        twilio.dial(["1"], caller="+15555550177")
    server = [x for x in captured if x["logger"] != "httpx"]  # httpx is the test's client
    assert server
    assert not any("?t=" in json.dumps(x) or "5555550177" in json.dumps(x) for x in server)


def test_lines_outside_a_request_have_no_call_sid() -> None:
    record = logging.LogRecord("ivr.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    assert json.loads(JsonFormatter().format(record)).keys() == {
        "time",
        "level",
        "logger",
        "message",
    }
    token = begin_request("/twilio/voice", "POST")
    bind_call("CA123")
    try:
        text = TextFormatter().format(record)
        data = json.loads(JsonFormatter().format(record))
    finally:
        end_request(token)
    assert "[CA123 /twilio/voice] hello there" in text
    assert data["call_sid"] == "CA123" and data["message"] == "hello there"


def test_serve_writes_json_lines(tmp_path: Path) -> None:
    flow = tmp_path / "logged.yaml"
    flow.write_text(FLOW)
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    environ["TWILIO_AUTH_TOKEN"] = TOKEN
    command = [sys.executable, "-m", "ivr", "serve", "--flows", str(flow), "--db", "memory://"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz")
                break
            except httpx.TransportError:
                assert process.poll() is None
                time.sleep(0.1)
        url = base + "/twilio/voice"
        params = {"CallSid": "CAserved", "From": "+15555550100", "To": "+15005550006"}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    parsed = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(x["logger"].startswith("uvicorn") for x in parsed)  # uvicorn's lines too
    voice = [x for x in parsed if x["message"] == "POST /twilio/voice 200"]
    assert voice and voice[0]["call_sid"] == "CAserved"


class _capture:
    """Collect the JSON lines written inside a `with` block."""

    def __init__(self, into: list[dict[str, Any]]) -> None:
        self.into = into
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())

    def __enter__(self) -> None:
        root = logging.getLogger()
        self.level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.INFO)

    def wait_for(self, *texts: str, seconds: float = 5.0) -> None:
        """The request line is written once the answer is sent, so the client can have it
        a moment before the line exists: wait for a line holding every text."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines = self.stream.getvalue().splitlines()
            if any(all(text in line for text in texts) for line in lines):
                return
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
        self.into.extend(json.loads(line) for line in self.stream.getvalue().splitlines())


class SlowReader(io.StringIO):
    """A stream that counts the writes it is given (each a system call on a real one)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_go_out_together_a_warning_at_once_and_everything_at_exit() -> None:
    stream = SlowReader()
    handler = BatchingStreamHandler(stream, every=0.2)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("ivr.test-batching")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(50):
            logger.info("request %d answered", n)
        assert stream.getvalue() == ""  # not one write per line
        deadline = time.monotonic() + 5
        while "request 49" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stream.writes == 1  # all 50 in one write, within `every`
        logger.info("one more")
        logger.warning("the database is slow")
        lines = stream.getvalue().splitlines()
        assert [line.split(" ", 4)[-1] for line in lines[-2:]] == [
            "one more",
            "the database is slow",
        ]  # at once, in order
        logger.info("last words")
    finally:
        logger.removeHandler(handler)
        handler.close()  # what logging.shutdown does at exit
    assert stream.getvalue().splitlines()[-1].endswith("last words")
    assert len(stream.getvalue().splitlines()) == 53
