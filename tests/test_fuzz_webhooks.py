"""Hostile input on every `/twilio/*` URL, over real HTTP, all correctly signed.

The URLs come from real calls on the shipped example flow (so their state tokens are
genuine), then hypothesis tampers with them: fields dropped, replaced by junk, unicode or
huge values, CallSid missing, tokens cut or flipped, query strings rewritten, requests
replayed and sent out of order. Whatever arrives: never a 5xx, never a traceback, always
a 200 TwiML `<Response>` that keeps the caller on a path to a person (see
`tests.hostile.keeps_caller_with_a_person`). Unsigned requests get 403.

IVR_FUZZ_EXAMPLES=2000 hunts longer; the default keeps this file to about half a minute.
"""

from __future__ import annotations

import itertools
import os
import re
import string
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_path
from tests.conftest import _postgres_database
from tests.hostile import (
    CALLER_ROUTES,
    CONCLUDED_ROUTES,
    ROUTES,
    form_fields,
    is_ended,
    keeps_caller_with_a_person,
    query_variants,
)
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "fuzz-token"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York: open
_sids = itertools.count(1)
# Seed calls on flows.example.yaml: the menus, an ask, the queue, a transfer, after hours.
SEED_TURNS = [["0"], ["1", "123456#"], ["2", "12345"], ["3"], [""] * 4, ["agent"], ["4", "1"]]


class Server:
    def __init__(self, base: str, log: StoreCallLog) -> None:
        self.base = base
        self.log = log
        self.validator = RequestValidator(TOKEN)
        self.http = httpx.Client(timeout=30)
        self.urls: list[str] = []  # every URL the seed calls were given, tokens and all
        self.base_fields: dict[str, str] = {}

    def post(self, url: str, fields: dict[str, str], *, signed: bool = True) -> httpx.Response:
        headers = {"I-Twilio-Idempotency-Token": f"fuzz-{next(_sids)}"}
        if signed:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(url, fields)
        return self.http.post(url, data=fields, headers=headers)

    def twiml(self, url: str, fields: dict[str, str]) -> str:
        """A signed request must get 200 TwiML; anything else fails the test here."""
        response = self.post(url, fields)
        assert response.status_code in (200, 204), f"{url}: {response.status_code}"
        body = response.text
        assert "Traceback" not in body and 'File "' not in body, body
        if response.status_code == 204:
            assert urlsplit(url).path == "/twilio/status"
            return "<Response/>"
        assert response.headers["content-type"].startswith("application/xml"), body
        assert ET.fromstring(body).tag == "Response", body
        return body


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database for the whole module (per backend): the fuzz shares its seed calls."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'ivr.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("fuzz")
    log = StoreCallLog.open(database, folder / "spool")
    catalog = Catalog((load_path(ROOT / "flows.example.yaml"),))
    settings_ = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN})
    app = create_app(settings_, lambda: catalog, log, clock=lambda: NOW)
    try:
        with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
            running = Server(base, log)
            for turns in SEED_TURNS:
                call = twilio.dial(turns)
                running.base_fields = dict(call.requests[0][1])
                for (url, _), document in zip(call.requests, call.documents, strict=True):
                    running.urls.append(url)
                    running.urls.extend(urls_in(url, document))
            yield running
            running.http.close()
    finally:
        log.close()


def urls_in(url: str, document: str) -> list[str]:
    found = re.findall(r'(?:action|waitUrl|url)="([^"]+)"|<Redirect[^>]*>([^<]+)<', document)
    return [urljoin(url, (a or b).replace("&amp;", "&")) for a, b in found]


def test_the_seed_calls_reach_every_caller_route(server: Server) -> None:
    seen = {urlsplit(u).path.removeprefix("/twilio/") for u in server.urls}
    assert {"voice", "gather", "dial", "wait", "queue-result", "whisper"} <= seen


def check(server: Server, url: str, fields: dict[str, str]) -> None:
    route = urlsplit(url).path.removeprefix("/twilio/")
    document = server.twiml(url, fields)
    if route not in CALLER_ROUTES:
        return
    state = server.log.load(fields.get("CallSid", "")) if fields.get("CallSid") else None
    concluded = is_ended(route, fields) or bool(
        state
        and (
            (state.route or "").startswith(CONCLUDED_ROUTES)
            or server.log.callbacks_for(state.call_sid)
        )
    )
    problem = keeps_caller_with_a_person(document, url, fields, server.twiml, concluded)
    assert not problem, f"{url} {fields}: {problem}"


@st.composite
def hostile_requests(draw: st.DrawFn, server: Server) -> tuple[str, dict[str, str]]:
    choice = draw(st.sampled_from(["seeded", "bare"]))
    if choice == "seeded":
        url = draw(query_variants(draw(st.sampled_from(server.urls))))
    else:
        url = f"{server.base}/twilio/{draw(st.sampled_from(ROUTES))}"
    return url, draw(form_fields(server.base_fields))


@FUZZ
@given(data=st.data())
def test_hostile_signed_requests_keep_the_caller_with_a_person(
    server: Server, data: st.DataObject
) -> None:
    url, fields = data.draw(hostile_requests(server))
    check(server, url, fields)
    # Junk is refused or kept, but never leaves the database looking down for everyone.
    server.log.flush()  # every write is journalled on disk first; now it is replayed
    assert server.log.spool.depth() == 0, f"{url} {fields}: spooled"
    assert not server.log.spool.database_down(), f"{url} {fields}: the database looks down"


@FUZZ
@given(data=st.data())
def test_replayed_and_reordered_requests_keep_the_caller_with_a_person(
    server: Server, data: st.DataObject
) -> None:
    """Real URLs of real calls, posted again in any order with Twilio's own fields."""
    urls = data.draw(st.lists(st.sampled_from(server.urls), min_size=2, max_size=6))
    for url in urls:
        check(server, url, dict(server.base_fields))


@FUZZ
@given(data=st.data())
def test_unsigned_or_mis_signed_requests_are_refused(server: Server, data: st.DataObject) -> None:
    url = data.draw(
        st.one_of(
            st.sampled_from(server.urls),
            st.sampled_from(ROUTES).map(lambda r: f"{server.base}/twilio/{r}"),
        )
    )
    fields = data.draw(form_fields(server.base_fields))
    how = data.draw(st.sampled_from(["none", "junk", "other-url", "other-fields"]))
    headers: dict[str, str] = {}
    if how == "junk":
        headers["X-Twilio-Signature"] = data.draw(
            st.text(alphabet=string.ascii_letters + string.digits + "+/=", min_size=1)
        )
    elif how == "other-url":
        headers["X-Twilio-Signature"] = server.validator.compute_signature(url + "x", fields)
    elif how == "other-fields":
        signed = {**fields, "Digits": fields.get("Digits", "") + "1"}
        headers["X-Twilio-Signature"] = server.validator.compute_signature(url, signed)
    response = server.http.post(url, data=fields, headers=headers)
    assert response.status_code == 403, response.text
    assert "Traceback" not in response.text
