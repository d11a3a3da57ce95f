"""The FastAPI application: Twilio's webhooks (signed, fail-open) and the JSON API.

Build it with `create_app(...)`; `ivr serve` does, and tests do with their own parts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from flows.catalog import Catalog
from ivr.logs import bind_call
from ivr.ports import CallLog
from ivr.state import CallState
from webhooks import twilio_request, twiml
from webhooks.agent_line import AgentLine
from webhooks.dashboard import dashboard_router
from webhooks.fast_path import WebhookApp
from webhooks.flow_callback import FlowCallback
from webhooks.handler_threads import HandlerThreads
from webhooks.ops import install_ops
from webhooks.queue_wait import QueueWait
from webhooks.reports_api import Reports, reports_router
from webhooks.settings import Settings
from webhooks.twilio_request import TwilioRequest
from webhooks.voice import Voice

log = logging.getLogger("ivr.webhooks")
XML = "application/xml"

Handler = Callable[[TwilioRequest], str]
# Handlers given what is kept of the request's CallSid, read before they run.
KnownHandler = Callable[[TwilioRequest, CallState | None], str]


def create_app(
    settings: Settings,
    flows: Callable[[], Catalog],
    call_log: CallLog,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    reports: Reports | None = None,
) -> FastAPI:
    if settings.auth_token is None and not settings.insecure_dev:
        raise ValueError(
            "TWILIO_AUTH_TOKEN is not set: every Twilio request would be refused. "
            "Set it, or pass --insecure-dev for local experiments."
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(call_log.flush)  # what is still pending, before exit
        handlers.close()

    app = WebhookApp(
        title="IVR with a human escape hatch",
        description="Twilio webhooks and the call context API.",
        lifespan=lifespan,
    )
    install_ops(app, settings, flows, call_log, clock)
    if reports is not None:
        app.include_router(reports_router(reports))
    voice = Voice(settings, flows, call_log, clock)
    handlers = HandlerThreads()
    queue = QueueWait(voice)
    flow_callback = FlowCallback(voice)
    agents = AgentLine(voice)

    async def respond(
        request: Request,
        run: Callable[[TwilioRequest], Awaitable[str]],
        *,
        empty_ok: bool = False,
        on_error: Callable[[TwilioRequest, str], str] | None = None,
    ) -> Response:
        """A signed request's answer from `run`, or a person whatever goes wrong."""
        req = await twilio_request.read(request, settings)
        bind_call(req.get("CallSid") or request.query_params.get("call"))
        if not twilio_request.is_signed(request, req, settings):
            log.warning("refused unsigned or mis-signed request to %s", request.url.path)
            return Response("invalid Twilio signature", status_code=403, media_type="text/plain")
        if settings.auth_token is None:
            log.warning("INSECURE DEV MODE: %s accepted without a signature", request.url.path)
        try:
            body = await run(req)
        except Exception as exc:  # fail open: the caller goes to a person, never a 5xx
            log.exception("%s failed for call %s", request.url.path, req.get("CallSid"))
            try:
                body = (on_error or voice.fail_open)(req, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("fail-open answer failed too for call %s", req.get("CallSid"))
                body = twiml.person_twiml(settings.emergency_queue, settings.emergency_number)
        if empty_ok and not body:
            return Response(status_code=204)
        return Response(body, media_type=XML)

    async def on_the_loop(handle: Handler, req: TwilioRequest) -> str:
        """For a handler that reads nothing from the database and waits for nothing: a
        thread's hand-over cost more than most steps. Its writes are on disk before the
        answer all the same, awaited without holding up the loop."""
        with call_log.deferred() as written:
            body = handle(req)
        await written()
        return body

    def twilio(
        request: Request,
        handle: Handler,
        *,
        empty_ok: bool = False,
        on_error: Callable[[TwilioRequest, str], str] | None = None,
        on_loop: bool = False,
    ) -> Awaitable[Response]:
        async def run(req: TwilioRequest) -> str:
            if on_loop:
                return await on_the_loop(handle, req)
            # On a thread: a handler that waits on the disk or the database never holds
            # up the other requests on the event loop.
            return await handlers.run(handle, req)

        return respond(request, run, empty_ok=empty_ok, on_error=on_error)

    def knowing(
        request: Request, handle: KnownHandler, *, empty_ok: bool = False
    ) -> Awaitable[Response]:
        """A handler given what is kept of the request's call, read first (on a reader
        thread, the loop answering others meanwhile); the handler then runs on the loop."""

        async def run(req: TwilioRequest) -> str:
            sid = req.get("CallSid")
            known = await call_log.aload(sid) if sid else None
            return await on_the_loop(lambda r: handle(r, known), req)

        return respond(request, run, empty_ok=empty_ok)

    def token_of(request: Request) -> str:
        return request.query_params.get("t", "")

    def announcement_of(request: Request) -> int:
        text = request.query_params.get("n", "0")
        return int(text) if text.isdigit() and len(text) < 6 else 0

    @app.post("/twilio/voice", include_in_schema=False)
    async def incoming(request: Request) -> Response:
        return await knowing(request, voice.incoming)

    @app.post("/twilio/gather", include_in_schema=False)
    async def gather(request: Request) -> Response:
        return await twilio(request, lambda r: voice.gather(r, token_of(request)), on_loop=True)

    @app.post("/twilio/dial", include_in_schema=False)
    async def dial(request: Request) -> Response:
        return await twilio(
            request, lambda r: voice.dial_result(r, token_of(request)), on_loop=True
        )

    @app.post("/twilio/whisper", include_in_schema=False)
    async def whisper(request: Request) -> Response:
        return await twilio(request, lambda r: voice.whisper(r, token_of(request)), on_loop=True)

    @app.post("/twilio/recorded", include_in_schema=False)
    async def recorded(request: Request) -> Response:
        return await twilio(request, lambda r: voice.recorded(r, token_of(request)), on_loop=True)

    @app.post("/twilio/wait", include_in_schema=False)
    async def wait(request: Request) -> Response:
        n = announcement_of(request)
        return await twilio(request, lambda r: queue.wait(r, token_of(request), n))

    @app.post("/twilio/wait-choice", include_in_schema=False)
    async def wait_choice(request: Request) -> Response:
        n = announcement_of(request)
        return await twilio(request, lambda r: queue.choice(r, token_of(request), n), on_loop=True)

    @app.post("/twilio/wait-number", include_in_schema=False)
    async def wait_number(request: Request) -> Response:
        n = announcement_of(request)
        text = request.query_params.get("w", "0")
        waited = float(text) if text.isdigit() and len(text) < 7 else 0.0
        return await twilio(request, lambda r: queue.number(r, token_of(request), n, waited))

    @app.post("/twilio/callback-number", include_in_schema=False)
    async def callback_number(request: Request) -> Response:
        nb = request.query_params.get("nb", "")
        return await twilio(
            request, lambda r: flow_callback.number(r, token_of(request), nb), on_loop=True
        )

    @app.post("/twilio/queue-result", include_in_schema=False)
    async def queue_result(request: Request) -> Response:
        return await twilio(request, lambda r: queue.result(r, token_of(request)))

    @app.post("/twilio/agent", include_in_schema=False)
    async def agent(request: Request) -> Response:
        return await twilio(request, agents.answer, on_error=agents.failed)

    @app.post("/twilio/agent-connected", include_in_schema=False)
    async def agent_connected(request: Request) -> Response:
        agent_id = request.query_params.get("agent", "")
        return await twilio(
            request, lambda r: agents.connected(r, agent_id), on_error=agents.bridge_anyway
        )

    @app.post("/twilio/agent-next", include_in_schema=False)
    async def agent_next(request: Request) -> Response:
        return await twilio(request, agents.next_offer, on_error=agents.failed)

    @app.post("/twilio/callback-answered", include_in_schema=False)
    async def callback_answered(request: Request) -> Response:
        q = request.query_params
        return await twilio(
            request,
            lambda r: agents.callback_answered(
                r, q.get("cb", ""), q.get("call", ""), q.get("n", "1")
            ),
            on_error=agents.bridge_anyway,
        )

    @app.post("/twilio/callback-done", include_in_schema=False)
    async def callback_done(request: Request) -> Response:
        q = request.query_params
        return await twilio(
            request,
            lambda r: agents.callback_done(r, q.get("cb", ""), q.get("call", ""), q.get("n", "1")),
            on_error=agents.failed,
        )

    @app.post("/twilio/fallback", include_in_schema=False)
    async def fallback(request: Request) -> Response:
        return await twilio(request, voice.fallback)

    @app.post("/twilio/status", include_in_schema=False)
    async def status(request: Request) -> Response:
        return await knowing(request, voice.status, empty_ok=True)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Flows or the database are not ready."}})
    async def readyz() -> JSONResponse:
        """Flows are loaded and the call log (database) answers."""
        flows_loaded = len(flows().flows) > 0
        database = await run_in_threadpool(call_log.ready)
        ok = flows_loaded and database
        body = {"status": "ok" if ok else "not ready", "flows": flows_loaded, "database": database}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/api/calls/{call_sid}", responses={404: {"description": "No such call."}})
    async def call_context(call_sid: str) -> JSONResponse:
        bind_call(call_sid)
        state = await run_in_threadpool(call_log.load, call_sid)
        if state is None:
            raise HTTPException(404, f"no call {call_sid}")
        return JSONResponse(
            {
                "call_sid": call_sid,
                "node": state.node,
                "route": state.route,
                "outcome": call_log.outcome(call_sid),
                **state.context(),
            }
        )

    @app.get("/api/calls/{call_sid}/events", responses={404: {"description": "No such call."}})
    async def call_events(call_sid: str) -> JSONResponse:
        bind_call(call_sid)
        if call_log.load(call_sid) is None:
            raise HTTPException(404, f"no call {call_sid}")
        events = call_log.events_of(call_sid)
        return JSONResponse(
            [
                {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "node": e.node}
                | {"details": e.details}
                for e in events
            ]
        )

    if reports is not None:
        app.include_router(dashboard_router())  # `/` and `/static/*`, drawing /api/reports/*
    return app
