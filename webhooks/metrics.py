"""Prometheus metrics at `/metrics` (prometheus-client), every name starting with `ivr_`.

Counted by this process: requests by route template and status, and their latency. Read
from the database at each scrape (the same from every process sharing it): calls by
outcome, callers waiting per queue, callbacks pending per queue; and from this host's
disk: events waiting in the spool. Each `ivr serve` process is its own scrape target.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as render
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.catalog import Catalog
from ivr.ports import CallLog, CallStats

log = logging.getLogger("ivr.metrics")

# Twilio gives a webhook 15 s in all; the interesting part is well under one second.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
STATIC_ROUTES = 1_000  # cached route templates, far more than the app has
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot explode it


class Metrics:
    def __init__(
        self,
        flows: Callable[[], Catalog],
        call_log: CallLog,
        clock: Callable[[], datetime],
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ivr_http_requests",
            "HTTP requests answered, by route template and status (webhooks: /twilio/*).",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ivr_http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(CallCollector(flows, call_log, clock))
        self._children: dict[tuple[str, int], tuple[Histogram, Counter]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        # The labelled children, found once per route and status: `labels()` on every
        # request showed in profiles. Routes are templates, so the pairs are few.
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.latency.labels(route), self.requests.labels(route, str(status)))
            if len(self._children) < STATIC_ROUTES:
                self._children[key] = children
        children[0].observe(seconds)
        children[1].inc()

    async def endpoint(self, _: Request) -> Response:
        return Response(render(self.registry), media_type=CONTENT_TYPE_LATEST)


def queues_of(catalog: Catalog) -> list[str]:
    """Every queue a loaded flow names: defined, escape queues and agents' queues."""
    names: set[str] = set()
    for loaded in catalog.flows:
        flow = loaded.flow
        names.update(flow.queues)
        if flow.escape.queue:
            names.add(flow.escape.queue)
        for agent in flow.agents:
            names.update(agent.queues)
    return sorted(names)


class CallCollector(Collector):
    """Gauges read at scrape time. A database failure costs those gauges, not the scrape:
    `ivr_database_up` turns 0 instead."""

    def __init__(
        self, flows: Callable[[], Catalog], call_log: CallLog, clock: Callable[[], datetime]
    ) -> None:
        self.flows = flows
        self.call_log = call_log
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        catalog = self.flows()
        yield _gauge("ivr_flows_loaded", "Flows being served.", len(catalog.flows))
        up = True
        queues = queues_of(catalog)
        stats = self.call_log if isinstance(self.call_log, CallStats) else None
        # Read before the waiting callers: that read first lets pending writes land, which
        # would empty the spool this gauge is meant to show.
        spooled = stats.spool_depth() if stats is not None else 0
        try:
            waiting = Tally(w.queue for w in self.call_log.waiting_callers(queues, self.clock()))
            family = GaugeMetricFamily(
                "ivr_queue_waiting", "Callers waiting in a queue now.", labels=["queue"]
            )
            for queue in queues:
                family.add_metric([queue], waiting[queue])
            yield family
        except Exception:  # a scrape must not fail with the database
            log.warning("metrics: could not read the waiting callers", exc_info=True)
            up = False
        if stats is not None:
            try:
                outcomes = stats.outcome_counts()
                pending = stats.callbacks_pending()
            except Exception:
                log.warning("metrics: could not read calls and callbacks", exc_info=True)
                up = False
            else:
                family = GaugeMetricFamily(
                    "ivr_calls",
                    "Calls kept in the database, by outcome (none: not ended or not known yet).",
                    labels=["outcome"],
                )
                for outcome, count in sorted(outcomes.items()):
                    family.add_metric([outcome or "none"], count)
                yield family
                family = GaugeMetricFamily(
                    "ivr_callbacks_pending",
                    "Callbacks waiting for an agent, by queue.",
                    labels=["queue"],
                )
                for queue in sorted(set(queues) | set(pending)):
                    family.add_metric([queue], pending.get(queue, 0))
                yield family
            yield _gauge(
                "ivr_spool_events",
                "Events kept on this host's disk until the database takes them.",
                spooled,
            )
        yield _gauge("ivr_database_up", "1 when the database answered this scrape.", int(up))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class MetricsMiddleware:
    """Counts and times every request under its route template (`/api/calls/{call_sid}`)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, router: Router) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router
        # (method, path) -> template, for paths that are their own template (every webhook):
        # matching against each route in turn cost more than the rest of the middleware.
        # Paths with parameters (one per call id) are matched every time: never cached.
        self._static: dict[tuple[str, str], str] = {}

    def _route(self, scope: Scope) -> str:
        key = (scope.get("method", ""), scope["path"])
        cached = self._static.get(key)
        if cached is not None:
            return cached
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                template = str(getattr(route, "path", UNMATCHED))
                if template == scope["path"] and len(self._static) < STATIC_ROUTES:
                    self._static[key] = template
                return template
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
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
            self.metrics.observe(route, status, time.perf_counter() - started)
