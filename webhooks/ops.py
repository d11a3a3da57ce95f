"""Wires access control, metrics and request logging around the app, in that order from
the inside out: so a refused request is still counted, and its log line names its route.
Before all of them, Twilio's webhooks take a shorter way to their endpoints (`fast_path`),
logged and counted the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flows.catalog import Catalog
from ivr.ports import CallLog
from webhooks.access import AccessMiddleware
from webhooks.fast_path import WebhookApp, WebhookFastPath
from webhooks.metrics import Metrics, MetricsMiddleware
from webhooks.request_log import RequestLogMiddleware
from webhooks.settings import Settings


def install_ops(
    app: WebhookApp,
    settings: Settings,
    flows: Callable[[], Catalog],
    call_log: CallLog,
    clock: Callable[[], datetime],
) -> Metrics:
    metrics = Metrics(flows, call_log, clock)
    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    app.add_middleware(AccessMiddleware, settings=settings)  # innermost
    app.add_middleware(MetricsMiddleware, metrics=metrics, router=app.router)
    app.add_middleware(RequestLogMiddleware)
    app.fast_path = WebhookFastPath(app.router, metrics)
    return metrics
