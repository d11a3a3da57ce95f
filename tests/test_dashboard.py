"""The dashboard at `/` in headless Chromium (Debian's `chromium` + `chromium-driver`).

The real app runs on uvicorn; the browser opens `/`, the page fetches the reports (the
real `/api/reports/*` router) and draws them. Screenshots of each chart are checked for
the colours of its data. Most tests feed the router the hand-written calls of
`tests/dashboard_reports.py`, whose figures are worked out by hand; the last one runs
calls through the signed webhooks into SQLite and reads the real analytics reports.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from flows.catalog import Catalog
from flows.loader import load_path
from ivr.ports import MemoryCallLog
from tests.dashboard_reports import A1, CALLS, Call, HandWrittenReports
from tests.twilio_caller import serve
from webhooks.app import create_app
from webhooks.reports_api import ReportFilter
from webhooks.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,2400",
    "--force-device-scale-factor=1",
    "--lang=en-US",
]
CHARTS = [
    "funnel-chart",
    "hour-chart",
    "weekday-chart",
    "queue-chart",
    "escape-node-chart",
    "escape-how-chart",
    "tta-chart",
    "hold-chart",
    "callbacks-chart",
    "callbacks-queue-chart",
    "versions-chart",
]
REPORT_PATHS = [
    f"/api/reports/{name}"
    for name in ("summary", "abandonment", "time-to-agent", "callbacks", "funnel")
]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium, so the dashboard "
            "cannot be tried in a browser: apt-get install -y chromium chromium-driver"
        )
    assert CHROMEDRIVER.exists(), (
        "chromium is installed but not chromium-driver: apt-get install -y chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, list[str]]
    api_key: str | None


@dataclass
class Server:
    base: str
    seen: list[Seen]

    def asked(self, path: str) -> list[dict[str, list[str]]]:
        return [s.query for s in self.seen if s.path == path]


@contextmanager
def dashboard(reports: HandWrittenReports, api_key: str | None = None) -> Iterator[Server]:
    """The real app on uvicorn, with the dashboard, recording what the page asks for."""
    catalog = Catalog((load_path(ROOT / "flows.example.yaml"),))
    settings = Settings.from_env({}, insecure_dev=True)
    app = create_app(settings, lambda: catalog, MemoryCallLog(), reports=reports)
    seen: list[Seen] = []
    _record_and_guard(app, seen, api_key)
    with serve(app) as base:
        yield Server(base, seen)


def _record_and_guard(app: FastAPI, seen: list[Seen], api_key: str | None) -> None:
    Next = Callable[[Request], Awaitable[Response]]

    @app.middleware("http")
    async def record(request: Request, call_next: Next) -> Response:
        key = request.headers.get("x-api-key")
        seen.append(Seen(request.url.path, parse_qs(request.url.query), key))
        # Like the IVR_API_KEY protection of /api/* (another branch): no key, no data.
        if api_key and request.url.path.startswith("/api/") and key != api_key:
            return Response(
                '{"detail": "an API key is needed"}', 401, media_type="application/json"
            )
        return await call_next(request)


def open_page(browser: WebDriver, url: str, state: str = "ready") -> None:
    browser.get(url)
    wait_for(
        browser,
        lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == state,
    )


def wait_for(browser: WebDriver, condition: Callable[[], bool], timeout: float = 15) -> None:
    WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda _: condition())


def tile(browser: WebDriver, name: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'[data-summary="{name}"]').text


def loads(browser: WebDriver) -> int:
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-loads") or 0)


def script_errors(browser: WebDriver) -> list[str]:
    log: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [e["message"] for e in log if e["level"] == "SEVERE"]


def drawn(browser: WebDriver) -> dict[str, list[dict[str, Any]]]:
    """Each chart's bar colours with the total of the data drawn in them, read from Chart.js."""
    result: dict[str, list[dict[str, Any]]] = browser.execute_script(
        """
        const out = {};
        for (const canvas of document.querySelectorAll("canvas")) {
          const chart = Chart.getChart(canvas);
          out[canvas.id] = !chart ? [] : chart.data.datasets.filter((d) => d.type === "bar")
            .flatMap((d) => Array.isArray(d.backgroundColor)
              ? d.data.map((v, i) => ({color: d.backgroundColor[i], total: v || 0}))
              : [{color: d.backgroundColor, total: d.data.reduce((a, v) => a + (v || 0), 0)}]);
        }
        return out;
        """
    )
    return result


def pixels_of(image: Image.Image, color: str) -> int:
    rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    colors = image.convert("RGB").getcolors(image.width * image.height) or []
    return sum(n for n, pixel in colors if pixel == rgb)


def test_charts_draw_the_reports(browser: WebDriver, tmp_path: Path) -> None:
    with dashboard(HandWrittenReports()) as server:
        open_page(browser, server.base + "/")
        browser.save_screenshot(str(tmp_path / "dashboard.png"))

        for chart in CHARTS:
            canvas = browser.find_element(By.ID, chart)
            assert canvas.is_displayed(), chart
            image = Image.open(io.BytesIO(canvas.screenshot_as_png))
            assert image.width > 200 and image.height > 100, chart
            bars = [b for b in drawn(browser)[chart] if b["total"] > 0]
            assert bars, f"{chart} has no data"
            for b in bars:  # every non-empty dataset shows up in its colour on screen
                assert pixels_of(image, b["color"]) > 20, f"{chart}: nothing drawn in {b}"
        assert script_errors(browser) == []

        # Worked out from CALLS: 12 calls, 1 short abandon; 2 hung up in the menus and 1 in
        # the queue, so 3 of 11; 5 spoke to a person live after 15, 20, 45, 130, 320 s.
        assert tile(browser, "calls") == "12"
        assert tile(browser, "short_abandons") == "1"
        assert tile(browser, "abandoned") == "3"
        assert tile(browser, "abandonment_rate") == "27.3%"
        assert tile(browser, "reached_agent") == "5"
        # p90 and p99 lie between 130 and 320 s: 130 + 0.6 * 190 = 244, 130 + 0.96 * 190 = 312.4.
        assert tile(browser, "time_to_agent") == "45 s / 4 m 04 s / 5 m 12 s"
        # Offered to 3 (one after hours, two in the queue), taken by 2: 1 done, 1 failed.
        assert tile(browser, "callbacks") == "2 / 1 / 1"
        assert tile(browser, "callbacks_offered") == "3"

        # The funnel is the acme menu tree as an outline: each node under the one before it.
        labels = browser.execute_script(
            "return Chart.getChart(document.getElementById('funnel-chart')).data.labels"
        )
        outline = [
            (label.count("\u2003") + label.count("\u2514"), label.split()[-1]) for label in labels
        ]
        assert outline == [
            (0, "greeting"),
            (1, "office_hours"),
            (2, "main_menu"),
            (3, "account"),
            (4, "billing_queue"),
            (3, "outage_info"),
            (4, "outage_done"),
            (2, "after_hours"),
        ]
        assert browser.find_element(By.ID, "funnel-flow").text == "(acme-support)"
        assert "45 s" in browser.find_element(By.CSS_SELECTOR, '[data-row="live"]').text

        # The figures behind the new charts, worked out from CALLS. Tuesday 1 December: 3
        # calls that count (one short abandon left out), one hung up in the menus.
        assert chart_data(browser)["weekday-chart"][0][1] == pytest.approx(100 / 3)
        # Billing: waits of 20, 75 and 250 s, one hung up waiting (after 75 s).
        queues = browser.find_elements(By.CSS_SELECTOR, "#queue-stats tbody tr")
        assert queues[0].text == "billing 3 1 33.3% 1 m 55 s 1 m 15 s"
        escapes = browser.find_elements(By.CSS_SELECTOR, "#escape-node-stats tbody tr")
        assert [e.text for e in escapes] == ["main_menu 10 3 30.0%"]
        # Live callers held 5, 20, 60 and 250 s: p50 40 s; the callback held 35 s.
        hold = browser.find_element(By.CSS_SELECTOR, '#hold-stats [data-row="live-hold"]').text
        assert hold.split("hold ")[1].startswith("40 s")
        assert chart_data(browser)["hold-chart"] == [[45, 900], [40, 35]]


def test_page_uses_nothing_from_outside(browser: WebDriver) -> None:
    with dashboard(HandWrittenReports()) as server:
        page = httpx.get(server.base + "/")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        library = httpx.get(server.base + "/static/vendor/chart.umd.min.js")
        assert library.status_code == 200
        assert "Chart.js v4.6.1" in library.text[:200]

        open_page(browser, server.base + "/")
        origins = browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).origin)"
        )
        assert origins and set(origins) == {server.base}


def test_no_calls_shows_an_honest_empty_state(browser: WebDriver, tmp_path: Path) -> None:
    with dashboard(HandWrittenReports(calls=[])) as server:
        open_page(browser, server.base + "/", state="empty")
        browser.save_screenshot(str(tmp_path / "empty.png"))
        empty = browser.find_element(By.ID, "empty")
        assert empty.is_displayed()
        assert "No calls yet" in empty.text
        assert tile(browser, "calls") == "0"
        assert tile(browser, "abandonment_rate") == "–"
        for chart in CHARTS:
            card = browser.find_element(By.ID, chart).find_element(By.XPATH, "ancestor::article")
            assert not browser.find_element(By.ID, chart).is_displayed(), chart
            assert card.find_element(By.CSS_SELECTOR, ".no-data").text == "No calls yet."
        assert script_errors(browser) == []


def test_only_short_abandons_says_why_the_charts_are_empty(browser: WebDriver) -> None:
    """A first try with scripted `ivr call`s: calls that hung up within seconds."""
    short = [
        Call("acme-support", A1, f"2026-12-01T09:0{i}", "greeting", "short_abandon") for i in (1, 2)
    ]
    with dashboard(HandWrittenReports(calls=short)) as server:
        open_page(browser, server.base + "/")
        assert tile(browser, "calls") == "2" and tile(browser, "short_abandons") == "2"
        assert "All 2 calls hung up within seconds of the start (short abandons)" in (
            browser.find_element(By.ID, "empty").text
        )
        funnel = browser.find_element(By.ID, "funnel-card")
        assert "Only short abandons so far" in funnel.find_element(By.CSS_SELECTOR, ".no-data").text
        assert script_errors(browser) == []


def set_date(browser: WebDriver, field: str, value: str) -> None:
    # Typing into a date input depends on the browser's locale; set it as a picker would.
    browser.execute_script(
        "const input = document.getElementById(arguments[0]); input.value = arguments[1];"
        "input.dispatchEvent(new Event('change'));",
        field,
        value,
    )


def test_filters_are_sent_to_the_api(browser: WebDriver) -> None:
    reports = HandWrittenReports()
    with dashboard(reports) as server:
        open_page(browser, server.base + "/")
        assert [o.text for o in Select(browser.find_element(By.ID, "flow")).options] == [
            "All flows",
            "acme-support",
            "dental-clinic",
        ]

        set_date(browser, "since", "2026-12-03")
        set_date(browser, "until", "2026-12-03")
        Select(browser.find_element(By.ID, "flow")).select_by_visible_text("acme-support")
        # "To" is inclusive on the page, `until` exclusive in the API: the next midnight.
        wanted = {"since": ["2026-12-03"], "until": ["2026-12-04"], "flow": ["acme-support"]}
        wait_for(browser, lambda: all(server.asked(p)[-1:] == [wanted] for p in REPORT_PATHS))
        # On 3 December acme had 3 calls: self service, a completed and a failed callback.
        wait_for(browser, lambda: tile(browser, "calls") == "3")
        assert tile(browser, "abandonment_rate") == "0.0%"
        assert reports.asked[-1] == ReportFilter(
            since=datetime(2026, 12, 3, tzinfo=UTC),
            until=datetime(2026, 12, 4, tzinfo=UTC),
            flow="acme-support",
        )

        # The filters stay in the address: reopening it asks for the same view at once.
        address = browser.current_url
        assert "since=2026-12-03" in address and "flow=acme-support" in address
        server.seen.clear()
        open_page(browser, address)
        assert server.asked("/api/reports/summary")[0] == wanted
        assert tile(browser, "calls") == "3"


def chart_data(browser: WebDriver) -> dict[str, list[list[float | None]]]:
    """Each chart's datasets as drawn: the figures, in Chart.js, of every series."""
    result: dict[str, list[list[float | None]]] = browser.execute_script(
        """
        const out = {};
        for (const canvas of document.querySelectorAll("canvas")) {
          const chart = Chart.getChart(canvas);
          out[canvas.id] = chart ? chart.data.datasets.map((d) => d.data) : [];
        }
        return out;
        """
    )
    return result


def pct100(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def expected_charts(api: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """What each new chart must draw, worked out from the API's own answers."""
    abandonment, tta, callbacks = api["abandonment"], api["time-to-agent"], api["callbacks"]
    vias = ["digit", "speech", "failures", "error", "fallback"]
    escapes = sorted(abandonment["escapes_by_node"], key=lambda n: (-n["escapes"], n["node"]))
    live, back = tta["live"], tta["callback"]
    return {
        "weekday-chart": [[pct100(d["rate"]) for d in abandonment["by_weekday"]]],
        "queue-chart": [
            [pct100(q["rate"]) for q in abandonment["by_queue"]],
            [q["mean_wait"] for q in abandonment["by_queue"]],
        ],
        "escape-node-chart": [[n["via"][via] for n in escapes] for via in vias],
        "escape-how-chart": [[sum(n["via"][via] for n in escapes) for via in vias]],
        "hold-chart": [
            [live["p50"], back["p50"]],
            [live["on_hold"]["p50"], back["on_hold"]["p50"]],
        ],
        "callbacks-queue-chart": [
            [q[name] for q in callbacks["by_queue"]]
            for name in ("offered", "requested", "completed", "failed")
        ],
    }


def test_the_queue_filter_shows_that_queues_figures(browser: WebDriver) -> None:
    reports = HandWrittenReports()
    with dashboard(reports) as server:
        open_page(browser, server.base + "/")
        queue = Select(browser.find_element(By.ID, "queue"))
        assert [o.text for o in queue.options] == ["All queues", "billing", "support"]
        everything = chart_data(browser)

        queue.select_by_visible_text("support")
        wanted = {"queue": ["support"]}
        wait_for(browser, lambda: all(server.asked(p)[-1:] == [wanted] for p in REPORT_PATHS))
        # Support: 4 calls (2 live after 130 and 20 s, a callback done and one failed), nobody
        # hung up waiting; three asked for a person at main_menu, each a different way.
        wait_for(browser, lambda: tile(browser, "calls") == "4")
        assert tile(browser, "abandonment_rate") == "0.0%"
        assert tile(browser, "reached_agent") == "2"
        assert tile(browser, "callbacks") == "2 / 1 / 1"
        assert reports.asked[-1] == ReportFilter(queue="support")

        api = {
            name: httpx.get(f"{server.base}/api/reports/{name}", params={"queue": "support"}).json()
            for name in ("abandonment", "time-to-agent", "callbacks")
        }
        shown = chart_data(browser)
        for chart, figures in expected_charts(api).items():
            assert browser.find_element(By.ID, chart).is_displayed(), chart
            assert shown[chart] == [pytest.approx(f) for f in figures], chart
        # Every escape was in support; the other charts now draw fewer calls.
        changed = {chart for chart in expected_charts(api) if shown[chart] != everything[chart]}
        assert changed == {"weekday-chart", "queue-chart", "hold-chart", "callbacks-queue-chart"}
        assert shown["escape-how-chart"] == [[1, 1, 1, 0, 0]]
        assert shown["queue-chart"] == [[0.0], [pytest.approx(100 / 3)]]  # waits 60, 35, 5 s
        rows = browser.find_elements(By.CSS_SELECTOR, "#queue-stats tbody tr")
        assert [r.text.split()[:4] for r in rows] == [["support", "4", "0", "0.0%"]]

        # The queue is in the address: reopening it shows the same view at once.
        address = browser.current_url
        assert "queue=support" in address
        server.seen.clear()
        open_page(browser, address)
        assert server.asked("/api/reports/summary")[0] == wanted
        assert Select(browser.find_element(By.ID, "queue")).first_selected_option.text == "support"

        # Billing: nobody asked for a person there, and the escape cards say so.
        billing = {"queue": ["billing"]}
        loaded = loads(browser)
        Select(browser.find_element(By.ID, "queue")).select_by_visible_text("billing")
        wait_for(browser, lambda: tile(browser, "calls") == "3")
        wait_for(browser, lambda: server.asked("/api/reports/abandonment")[-1:] == [billing])
        wait_for(browser, lambda: loads(browser) > loaded)
        for card in ("escape-node-card", "escape-how-card"):
            element = browser.find_element(By.ID, card)
            note = element.find_element(By.CSS_SELECTOR, ".no-data").text
            assert note == "No caller asked for a person yet.", card
            assert not element.find_element(By.TAG_NAME, "canvas").is_displayed()
        assert script_errors(browser) == []


def test_auto_refresh_sends_the_api_key_and_shows_new_calls(browser: WebDriver) -> None:
    reports = HandWrittenReports(calls=list(CALLS))
    with dashboard(reports, api_key="s3cret") as server:
        open_page(browser, server.base + "/", state="error")
        error = browser.find_element(By.ID, "error").text
        assert "answered 401: an API key is needed." in error
        assert "open this page as /?key=" in error

        open_page(browser, server.base + "/?key=s3cret&refresh=1")
        assert tile(browser, "calls") == "12"
        first = loads(browser)
        reports.calls.append(
            Call("acme-support", "e5f6a7b8c9", "2026-12-04T12:00", "greeting", "abandoned_ivr")
        )
        wait_for(browser, lambda: tile(browser, "calls") == "13")
        assert loads(browser) > first
        api = [s for s in server.seen if s.path.startswith("/api/")]
        keyed = [s for s in api if s.api_key == "s3cret"]
        assert len(server.asked("/api/reports/summary")) >= 3  # the refused one and two more
        assert len(api) - len(keyed) == 7  # only the first visit, without the key, went keyless

        # Turning auto-refresh off stops the requests.
        Select(browser.find_element(By.ID, "refresh")).select_by_visible_text("off")
        time.sleep(0.5)  # a load already under way when it was turned off
        before = len(server.asked("/api/reports/summary"))
        time.sleep(2.5)
        assert len(server.asked("/api/reports/summary")) == before


def test_the_dashboard_needs_reports() -> None:
    catalog = Catalog((load_path(ROOT / "flows.example.yaml"),))
    app = create_app(Settings.from_env({}, insecure_dev=True), lambda: catalog, MemoryCallLog())
    with serve(app) as base:
        assert httpx.get(base + "/").status_code == 404


def test_calls_through_the_real_webhooks_show_on_the_dashboard(
    browser: WebDriver, tmp_path: Path
) -> None:
    """No stand-in: calls go through the signed webhooks into SQLite, and the page draws
    what the analytics reports make of them."""
    from analytics.call_log import StoreCallLog
    from analytics.reports import StoreReports
    from tests.twilio_caller import FakeTwilio

    token = "dashboard-token"
    call_log = StoreCallLog.open(f"sqlite:///{tmp_path / 'ivr.db'}", tmp_path / "spool")
    catalog = Catalog((load_path(ROOT / "flows.example.yaml"),))
    clock = [datetime(2026, 11, 24, 15, 0, tzinfo=UTC)]  # a Tuesday, the office is open
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": token}),
        lambda: catalog,
        call_log,
        clock=lambda: clock[0],
        reports=StoreReports(call_log.store),
    )
    try:
        with serve(app) as base, FakeTwilio(base, token) as twilio:
            ended = 0
            for turns, seconds in (([], 30), (["0"], 90), ([], 2)):
                call = twilio.dial(turns)
                clock[0] += timedelta(seconds=seconds)
                ended += 1
                status = {"CallSid": call.sid, "CallStatus": "completed", "SequenceNumber": "1"}
                if call.end.startswith("queue:"):
                    twilio.post(call.end_url, {"CallSid": call.sid, "QueueResult": "hangup"})
                assert twilio.post(base + "/twilio/status", status).status_code in (200, 204)
            call_log.flush()
            summary = StoreReports(call_log.store).summary(ReportFilter())
            assert summary["calls"] == ended == 3  # what the page must show, from the database

            script_errors(browser)  # the browser's log so far belongs to earlier tests
            open_page(browser, base + "/")
            assert tile(browser, "calls") == "3"
            assert tile(browser, "short_abandons") == str(summary["short_abandons"]) == "1"
            assert tile(browser, "abandoned") == str(summary["abandoned"]) == "2"
            funnel = [b for b in drawn(browser)["funnel-chart"] if b["total"] > 0]
            assert funnel, "the funnel drew nothing for real calls"
            assert script_errors(browser) == []
    finally:
        call_log.close()
