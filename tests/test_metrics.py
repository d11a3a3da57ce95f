"""Prometheus metrics after real calls over HTTP, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from analytics import SpoolingEventLog, Store
from analytics.call_log import StoreCallLog
from analytics.records import CallRef
from analytics.tables import calls
from flows.catalog import Catalog
from flows.loader import load_text
from ivr.actions import Event
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "metrics-token"
KEY = "metrics-key"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
FLOW = """
id: counted
escape: {queue: support}
hours:
  office: {timezone: America/New_York, open: {mon-fri: "08:00-20:00"}}
queues:
  support: {callback: {offer_after: 30s}}
  billing: {hours: office, callback: {offer_after: 30s}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for news, 2 for billing. Press 0 or say agent for a person."
      options:
        - {digit: "1", goto: news}
        - {digit: "2", goto: later}
  news: {end: {say: "No news.", resolved: true}}
  later: {callback: {queue: billing, say: "We will call you back."}}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def twilio(call_log: StoreCallLog) -> Iterator[FakeTwilio]:
    catalog = Catalog((load_text(FLOW, "counted.yaml"),))
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_API_KEY": KEY})
    app = create_app(settings, lambda: catalog, call_log, clock=lambda: NOW)
    with serve(app) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def scrape(twilio: FakeTwilio) -> Samples:
    answer = httpx.get(twilio.base_url + "/metrics", headers={"X-API-Key": KEY})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        assert family.name.startswith("ivr_"), family.name
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_webhooks_are_counted_by_route_and_status(twilio: FakeTwilio) -> None:
    for _ in range(3):
        twilio.dial(["1"])  # voice, then gather
    twilio.post(twilio.base_url + "/twilio/voice", {"CallSid": "CAx"}, sign=False)
    samples = scrape(twilio)
    requests = "ivr_http_requests_total"
    assert value(samples, requests, route="/twilio/voice", status="200") == 3
    assert value(samples, requests, route="/twilio/gather", status="200") == 3
    assert value(samples, requests, route="/twilio/voice", status="403") == 1
    latency = "ivr_http_request_duration_seconds_count"
    assert value(samples, latency, route="/twilio/voice") == 4
    assert (
        value(samples, "ivr_http_request_duration_seconds_bucket", route="/twilio/voice", le="+Inf")
        == 4
    )


def test_unknown_paths_share_one_label(twilio: FakeTwilio) -> None:
    for path in ("/wp-admin", "/../etc/passwd", "/x" * 50):
        httpx.get(twilio.base_url + path, headers={"X-API-Key": KEY})
    samples = scrape(twilio)
    assert value(samples, "ivr_http_requests_total", route="unmatched", status="404") == 3
    routes = {dict(labels).get("route") for name, labels in samples if "requests" in name}
    assert not any(r and r.startswith("/x") for r in routes)


def test_queue_sizes_and_pending_callbacks(twilio: FakeTwilio) -> None:
    twilio.dial(["0"])
    twilio.dial(["0"], caller="+15555550111")
    twilio.dial(["2"], caller="+15555550122")
    samples = scrape(twilio)
    assert value(samples, "ivr_queue_waiting", queue="support") == 2
    assert value(samples, "ivr_queue_waiting", queue="billing") == 0
    assert value(samples, "ivr_callbacks_pending", queue="billing") == 1
    assert value(samples, "ivr_callbacks_pending", queue="support") == 0
    assert value(samples, "ivr_database_up") == 1
    assert value(samples, "ivr_flows_loaded") == 1


def test_calls_by_outcome_read_the_outcome_column(
    twilio: FakeTwilio, call_log: StoreCallLog
) -> None:
    sids = [twilio.dial(["1"]).sid for _ in range(3)]
    call_log.flush()  # the calls' rows are written behind the answers
    with call_log.store.engine.begin() as connection:
        connection.execute(
            update(calls).where(calls.c.call_sid.in_(sids[:2])).values(outcome="self_service")
        )
    samples = scrape(twilio)
    assert value(samples, "ivr_calls", outcome="self_service") == 2
    assert value(samples, "ivr_calls", outcome="none") == 1


def test_spool_depth_counts_events_waiting_on_disk(
    twilio: FakeTwilio, call_log: StoreCallLog, tmp_path: Path
) -> None:
    assert value(scrape(twilio), "ivr_spool_events") == 0
    # Another process on this host, whose database is unreachable, spools to the same folder.
    unreachable = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    other = SpoolingEventLog(unreachable, call_log.spool.spool_dir)
    events = [Event("input", NOW, "menu", {"digits": "1"}, seq=n) for n in (1, 2)]
    assert other.append(CallRef("CAspooled", "counted", "v1"), events) is False
    assert value(scrape(twilio), "ivr_spool_events") == 2
    unreachable.close()
