"""Twilio's webhooks handed straight to their endpoints: an ASGI middleware in front of the
rest of the app.

Every call step is one webhook, so what each costs decides how many calls a process
carries. Through FastAPI a webhook passed three middlewares of ours, Starlette's error and
exception layers, a match against every route and FastAPI's dependency solving, which
together took more of the process's time than the call step itself. The webhook
endpoints need none of it: each takes the request alone, `/twilio/*` is open to Twilio's
signature (access control lets it through), and the endpoints answer every failure
themselves (fail open). So this middleware calls them directly, writing the same request
log line and metrics as the middlewares it goes around. Every other request, and a
webhook URL asked with another method, goes through the app as before.

The routes stay declared once, on the FastAPI app: the table is read off its router.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

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
    def __init__(self, app: ASGIApp, router: Router, metrics: Metrics) -> None:
        self.app = app
        self.router = router
        self.metrics = metrics
        self._table: dict[str, Endpoint] | None = None  # read once the routes exist

    def _endpoint(self, scope: Scope) -> Endpoint | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        if self._table is None:
            self._table = direct_endpoints(self.router)
        return self._table.get(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoint(scope)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
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
