"""A small stand-in for Twilio's side of a call, over real HTTP.

It posts form parameters the way Twilio does, signs them with the auth token, resolves
relative URLs against the URL it called, and follows the TwiML it gets back: Say, Gather
(feeding the scripted turns), Redirect, and stops at Enqueue, Dial, Record or Hangup.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
import uvicorn
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

_sids = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app on uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Call:
    sid: str
    heard: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    end: str = ""  # queue:NAME, dial:TARGET, record, hangup, or hung-up (turns ran out)
    end_url: str = ""  # the action URL of the verb the call ended on


class FakeTwilio:
    def __init__(self, base_url: str, auth_token: str, *, timeout: float = 15.0) -> None:
        """`timeout`: how long to wait for an answer; Twilio's own limit is 15 s."""
        self.base_url = base_url
        self.validator = RequestValidator(auth_token)
        self.http = httpx.Client(timeout=timeout)

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def post(
        self, url: str, params: dict[str, str], *, sign: bool = True, signature: str | None = None
    ) -> httpx.Response:
        headers = {"I-Twilio-Idempotency-Token": f"idem-{next(_sids)}"}
        if sign:
            headers["X-Twilio-Signature"] = signature or self.validator.compute_signature(
                url, params
            )
        return self.http.post(url, data=params, headers=headers)

    def twiml(self, call: Call, url: str, params: dict[str, str]) -> ET.Element:
        call.requests.append((url, params))
        response = self.post(url, params)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/xml")
        call.documents.append(response.text)
        root = ET.fromstring(response.text)
        assert root.tag == "Response"
        return root

    def dial(
        self,
        turns: list[str],
        *,
        to: str = "+15005550006",
        caller: str = "+15555550100",
    ) -> Call:
        """Place a call and answer each Gather with the next turn: keys, words or ''."""
        call = Call(f"CA{next(_sids):032d}")
        base = {
            "CallSid": call.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": to,
            "CallStatus": "in-progress",
            "ApiVersion": "2010-04-01",
            "Direction": "inbound",
            "CallerName": "",
        }
        remaining = iter(turns)
        url = self.base_url + "/twilio/voice"
        root = self.twiml(call, url, base)
        for _ in range(100):
            next_url, params = self._follow(call, url, root, base, remaining)
            if next_url is None:
                return call
            url = next_url
            root = self.twiml(call, url, params)
        raise AssertionError("the call never ended")

    def _follow(
        self,
        call: Call,
        url: str,
        root: ET.Element,
        base: dict[str, str],
        turns: Iterator[str],
    ) -> tuple[str | None, dict[str, str]]:
        for verb in root:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Gather":
                call.heard.extend(s.text or "" for s in verb if s.tag == "Say")
                turn = next(turns, None)
                if turn is None:
                    call.end = "hung-up"
                    return None, {}
                action = urljoin(url, verb.get("action", url))
                params = dict(base)
                text = turn.strip()
                if text and set(text) <= set("0123456789*#"):
                    digits = (
                        text[: int(verb.get("numDigits", "0"))] if verb.get("numDigits") else text
                    )
                    params["Digits"] = digits.removesuffix(verb.get("finishOnKey", "#") or "\0")
                elif text:
                    params["SpeechResult"] = text
                    params["Confidence"] = "0.91"
                elif verb.get("actionOnEmptyResult") != "true":
                    continue  # Twilio moves on to the next verb
                return action, params
            elif verb.tag == "Redirect":
                return urljoin(url, verb.text or url), dict(base)
            elif verb.tag == "Enqueue":
                call.end, call.end_url = f"queue:{verb.text}", urljoin(url, verb.get("action", ""))
                return None, {}
            elif verb.tag == "Dial":
                target = next(iter(verb), None)
                name = (target.text or "") if target is not None else (verb.text or "")
                if target is not None and target.tag == "Client":
                    name = "client:" + name
                call.end, call.end_url = f"dial:{name}", urljoin(url, verb.get("action", ""))
                return None, {}
            elif verb.tag == "Record":
                call.end, call.end_url = "record", urljoin(url, verb.get("action", ""))
                return None, {}
            elif verb.tag == "Hangup":
                call.end = "hangup"
                return None, {}
            else:
                raise AssertionError(f"unexpected verb <{verb.tag}>")
        call.end = "hangup"  # the document ran out: Twilio hangs up
        return None, {}
