"""Twilio's webhooks take the short way to their endpoints, and nothing else does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from flows.catalog import Catalog
from flows.loader import load_text
from ivr.ports import MemoryCallLog
from tests.news_flow import news_flow
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.fast_path import direct_endpoints
from webhooks.settings import Settings
from webhooks.twilio_request import public_url

TOKEN = "fast-token"
PUBLIC = "https://ivr.example.com"
FLOW = news_flow("short")


def _app() -> FastAPI:
    catalog = Catalog((load_text(FLOW, "short.yaml"),))
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN})
    return create_app(settings, lambda: catalog, MemoryCallLog())


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve(_app()) as base, FakeTwilio(base, TOKEN) as caller:
        yield caller


def test_every_webhook_route_is_served_directly() -> None:
    app = _app()
    webhooks = {
        route.path
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/twilio/")
    }
    table = direct_endpoints(app.router)
    assert len(webhooks) >= 16
    # A webhook added with a parameter FastAPI must resolve would silently take the long
    # way: each one is listed here, or this fails.
    assert set(table) == webhooks
    assert not any(path.startswith(("/api/", "/metrics")) for path in table)


def test_a_call_through_the_short_way_behaves_as_before(twilio: FakeTwilio) -> None:
    call = twilio.dial(["1"])
    assert call.heard[-1] == "No news." and call.end == "hangup"
    refused = twilio.post(twilio.base_url + "/twilio/voice", {"CallSid": "CA1"}, sign=False)
    assert refused.status_code == 403


def test_other_methods_and_paths_still_go_through_the_app(twilio: FakeTwilio) -> None:
    base = twilio.base_url
    assert httpx.get(base + "/twilio/voice").status_code == 405  # FastAPI's answer
    assert httpx.post(base + "/twilio/nowhere", data={"CallSid": "CA1"}).status_code == 404
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}


@given(
    path=st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
    # As the HTTP parser hands it over: visible ASCII, the fragment already cut off.
    query=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#")
    ).map(str.encode),
)
def test_the_public_url_is_rebuilt_as_starlette_writes_the_url(path: str, query: bytes) -> None:
    """The signed URL is put together from the scope without `request.url`; it must be
    the same string, whatever the path and query hold."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/twilio/" + path,
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000")],
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
    }
    request = Request(scope)
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC})
    url = request.url
    expected = PUBLIC + url.path + (f"?{url.query}" if url.query else "")
    assert public_url(request, settings) == expected
