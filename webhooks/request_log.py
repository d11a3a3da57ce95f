"""One context per request for the log lines written while answering it, and one line per
request when it is answered (method, path, status, milliseconds).

The path is logged without its query string: engine URLs carry the call's state (the
caller's number and words) there, and that must not land in log files.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ivr.logs import FIELDS, begin_request, end_request

log = logging.getLogger("ivr.http")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        token = begin_request(path, method)
        status = 500
        started = time.perf_counter()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            log_answer(method, path, status, time.perf_counter() - started)
            end_request(token)


def log_answer(method: str, path: str, status: int, seconds: float) -> None:
    """The request's line, written inside its context (so it names the CallSid)."""
    fields = {"method": method, "status": status, "duration_ms": round(seconds * 1000, 1)}
    # Health checks and scrapes come every few seconds: kept out of the info log.
    quiet = path in ("/healthz", "/readyz", "/metrics")
    level = logging.DEBUG if quiet and status < 500 else logging.INFO
    log.log(level, "%s %s %d", method, path, status, extra={FIELDS: fields})
