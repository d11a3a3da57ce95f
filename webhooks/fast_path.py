"""Twilio's webhooks handed straight to their endpoints, in front of the rest of the app.

Every call step is one webhook, so what each costs decides how many calls a process
carries. Through FastAPI a webhook passed three middlewares of ours, Starlette's error and
exception layers, a match against every route and FastAPI's dependency solving, which
together took more of the process's time than the call step itself. The webhook
endpoints need none of it: each takes the request alone, `/twilio/*` is open to Twilio's
signature (access control lets it through), and the endpoints answer every failure
themselves (fail open). So the app (`WebhookApp`) calls them directly, before FastAPI's
own middleware stack, writing the same request log line and metrics as the middlewares it
goes around. Every other request, and a webhook URL asked with another method, goes
through the app as before. (As a middleware it sat inside FastAPI's error, telemetry and
body-limit layers all the same, and every await of a request went through each of them.)

The routes stay declared once, on the FastAPI app: the table is read off its router.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from ivr.logs import begin_request, end_request
from webhooks.access import is_public
from webhooks.metrics import Metrics
from webhooks.request_log import log_answer

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/twilio/"


def direct_endpoints(router: Router) -> dict[str, Endpoint]:
    """`POST /twilio/...` routes without path parameters whose endpoint takes only the
    request: those FastAPI would call with nothing to resolve."""
    table: dict[str, Endpoint] = {}
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith(PREFIX):
            continue
        if "POST" not in (route.methods or ()) or route.param_convertors or route.dependencies:
            continue
        if not is_public(route.path):
            continue
        parameters = list(inspect.signature(route.endpoint).parameters.values())
        if len(parameters) == 1 and parameters[0].name == "request":
            table.setdefault(route.path, route.endpoint)
    return table


class WebhookFastPath:
    def __init__(self, router: Router, metrics: Metrics) -> None:
        self.router = router
        self.metrics = metrics
        self._table: dict[str, Endpoint] | None = None  # read once the routes exist

    def endpoint(self, scope: Scope) -> Endpoint | None:
        """The webhook endpoint that answers this request directly, if any."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        if self._table is None:
            self._table = direct_endpoints(self.router)
        return self._table.get(scope["path"])

    async def answer(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        token = begin_request(path, "POST")
        status = 500  # unless an answer is sent: what the app's error layer would send
        started = time.perf_counter()
        try:
            response = await endpoint(Request(scope, receive))
            await response(scope, receive, send)
            status = response.status_code
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(path, status, seconds)
            log_answer("POST", path, status, seconds)
            end_request(token)


class WebhookApp(FastAPI):
    """FastAPI, with Twilio's webhooks answered by `fast_path` (once set) first."""

    fast_path: WebhookFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        endpoint = fast.endpoint(scope) if fast is not None else None
        if fast is None or endpoint is None:
            await super().__call__(scope, receive, send)
        else:
            await fast.answer(endpoint, scope, receive, send)
