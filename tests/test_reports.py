"""Golden reports: hand-built calls whose figures are worked out below, on both databases,
written in a shuffled order; the API and `ivr report` give the same figures."""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from analytics import Store
from analytics.reports import StoreReports
from flows.catalog import Catalog
from ivr.cli import main
from ivr.ports import MemoryCallLog
from ivr.report_rows import REPORTS
from tests.history import History
from tests.twilio_caller import serve
from webhooks.app import create_app
from webhooks.reports_api import ReportFilter
from webhooks.settings import Settings

DAY = datetime(2025, 12, 2, tzinfo=UTC)  # a Tuesday, long over: every call counts


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def histories() -> dict[str, History]:
    calls = {
        # A: served itself in 40 s.
        "A": History("CA_A", at(8))
        .menu()
        .goto(5, "outage_info")
        .goto(6, "outage_done", "end")
        .main(6, "call_ended", "outage_done", resolved=True)
        .ended(40),
        # B: hung up after 3 s: a short abandon, left out of every rate.
        "B": History("CA_B", at(8, 10)).menu().ended(3),
        # C: hung up in the main menu after 25 s.
        "C": History("CA_C", at(9)).menu().main(8, "no_input", "main_menu", attempt=1).ended(25),
        # D: pressed 0, waited 60 s in support, hung up.
        "D": History("CA_D", at(9, 30))
        .menu()
        .escape(12, "digit")
        .queued(12)
        .wait(13)
        .left(72, "hangup")
        .ended(72),
        # E: billing queue through the account prompt; a person after 50 s (waited 30 s).
        "E": History("CA_E", at(10))
        .menu()
        .main(15, "input", "main_menu", digits="1")
        .goto(15, "account", "ask")
        .goto(20, "billing_queue", "queue")
        .queued(20, "billing", "billing_queue")
        .agent(50)
        .left(400, "bridged")
        .ended(400),
        # F: said "agent", a person after 38 s (waited 30 s).
        "F": History("CA_F", at(10, 15)).menu().escape(8, "speech").queued(8).agent(38).ended(200),
        # G: offered a callback after 30 s of holding, took it at 45 s (35 s on hold); the
        # callback reached them 1210 s after the call began, 1165 s after they asked.
        "G": History("CA_G", at(11))
        .menu()
        .goto(10, "support_q", "queue")
        .queued(10, node="support_q")
        .wait(40, "callback_offered", queue="support")
        .wait(45, "callback_requested", 5, queue="support")
        .left(46, "leave")
        .ended(50)
        .callback(1200, "callback_dialed")
        .callback(1210, "callback_connected"),
        # H: took a callback at 50 s (40 s on hold) that failed.
        "H": History("CA_H", at(11, 30))
        .menu()
        .goto(10, "support_q", "queue")
        .queued(10, node="support_q")
        .wait(40, "callback_offered", queue="support")
        .wait(50, "callback_requested", 5, queue="support")
        .left(51, "leave")
        .ended(52)
        .callback(2000, "callback_dialed")
        .callback(2030, "callback_failed"),
        # I: no status callback ever came; last heard of 15 s in, in the main menu.
        "I": History("CA_I", at(12)).menu().main(15, "prompt", "main_menu", text="Again?"),
        # J: a newer flow version; declined the callback offer, a person after 100 s.
        "J": History("CA_J", at(12, 30), version="v2")
        .menu()
        .goto(10, "support_q", "queue")
        .queued(10, node="support_q")
        .wait(40, "callback_offered", queue="support")
        .agent(100)
        .ended(500),
    }
    return calls


@pytest.fixture(params=["call by call", "rolled up"])
def loaded(store: Store, request: pytest.FixtureRequest) -> Store:
    """The calls, with the day's report rollups built or not: the figures are the same."""
    rows = [row for history in histories().values() for row in history.rows()]
    random.Random(4).shuffle(rows)  # status callbacks before actions, callbacks first...
    for start in range(0, len(rows), 3):
        store.append_rows(rows[start : start + 3])
    if request.param == "rolled up":
        assert store.roll_up() == 1  # DAY
    return store


def test_summary(loaded: Store) -> None:
    report = StoreReports(loaded).summary(ReportFilter())
    assert report["calls"] == 10
    assert report["short_abandons"] == 1  # B
    assert report["abandoned"] == 3  # C and I in the menu, D in the queue
    assert report["abandonment_rate"] == round(3 / 9, 4)  # B left out
    assert report["reached_agent"] == 3  # E, F, J
    # Live times to agent: 38, 50, 100 s. Nearest rank: p50 = 2nd, p90 = p99 = 3rd.
    assert report["time_to_agent"] == {
        "p50": 50.0,
        "p90": 100.0,
        "p99": 100.0,
        "mean": round(188 / 3, 3),
    }
    assert report["callbacks"] == {"offered": 3, "requested": 2, "completed": 1, "failed": 1}
    assert report["outcomes"] == {
        "agent": 3,
        "callback_requested": 0,
        "callback_completed": 1,
        "callback_failed": 1,
        "voicemail": 0,
        "self_service": 1,
        "abandoned_ivr": 2,
        "abandoned_queue": 1,
        "short_abandon": 1,
        "error": 0,
    }
    assert report["escape_rate"] == round(2 / 9, 4)  # D by key, F by voice
    assert report["filter"] == {"since": None, "until": None, "flow": None, "queue": None}


def test_abandonment(loaded: Store) -> None:
    report = StoreReports(loaded).abandonment(ReportFilter())
    assert report["overall"] == {"calls": 9, "abandoned": 3, "rate": round(3 / 9, 4)}
    by_node = {row["node"]: row for row in report["by_node"]}
    assert by_node["main_menu"] == {
        "node": "main_menu",
        "calls": 9,
        "abandoned": 2,
        "rate": round(2 / 9, 4),
    }
    assert by_node["greeting"]["abandoned"] == 0 and by_node["support_q"]["calls"] == 3
    # support: D 60 s, F 30 s, G 35 s, H 40 s, J 90 s of waiting; billing: E 30 s.
    assert report["by_queue"] == [
        {
            "queue": "billing",
            "calls": 1,
            "abandoned": 0,
            "rate": 0.0,
            "mean_wait": 30.0,
            "mean_abandoned_wait": None,
        },
        {
            "queue": "support",
            "calls": 5,
            "abandoned": 1,
            "rate": 0.2,
            "mean_wait": 51.0,
            "mean_abandoned_wait": 60.0,
        },
    ]
    hours = {row["hour"]: (row["calls"], row["abandoned"]) for row in report["by_hour"]}
    assert len(report["by_hour"]) == 24
    assert hours[8] == (1, 0) and hours[9] == (2, 2) and hours[12] == (2, 1) and hours[3] == (0, 0)
    weekdays = {row["weekday"]: row["calls"] for row in report["by_weekday"]}
    assert list(weekdays) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert weekdays["tue"] == 9 and sum(weekdays.values()) == 9
    assert report["by_flow_version"] == [
        {
            "flow": "acme",
            "version": "v1",
            "first_call": "2025-12-02T08:00:00Z",
            "calls": 8,
            "abandoned": 3,
            "rate": 0.375,
        },
        {
            "flow": "acme",
            "version": "v2",
            "first_call": "2025-12-02T12:30:00Z",
            "calls": 1,
            "abandoned": 0,
            "rate": 0.0,
        },
    ]
    assert report["escapes_by_node"] == [
        {
            "node": "main_menu",
            "calls": 9,
            "escapes": 2,
            "rate": round(2 / 9, 4),
            "via": {"digit": 1, "speech": 1, "failures": 0, "error": 0, "fallback": 0},
        },
    ]


def test_time_to_agent(loaded: Store) -> None:
    report = StoreReports(loaded).time_to_agent(ReportFilter())
    assert report["live"] == {
        "count": 3,
        "p50": 50.0,
        "p90": 100.0,
        "p99": 100.0,
        "mean": round(188 / 3, 3),
        "on_hold": {"p50": 30.0, "p90": 90.0, "p99": 90.0, "mean": 50.0},
    }
    assert report["callback"] == {
        "count": 1,
        "p50": 1210.0,
        "p90": 1210.0,
        "p99": 1210.0,
        "mean": 1210.0,
        "on_hold": {"p50": 35.0, "p90": 35.0, "p99": 35.0, "mean": 35.0},
    }
    bins = report["histogram"]
    assert len(bins) == 21 and bins[-1] == {"from": 600, "to": None, "live": 0, "callback": 1}
    assert bins[1] == {"from": 30, "to": 60, "live": 2, "callback": 0}  # 38 s and 50 s
    assert bins[3]["live"] == 1 and sum(b["live"] for b in bins) == 3  # 100 s


def test_callbacks(loaded: Store) -> None:
    report = StoreReports(loaded).callbacks(ReportFilter())
    assert report == {
        "offered": 3,
        "requested": 2,
        "accepted": 2,
        "accepted_rate": round(2 / 3, 4),
        "completed": 1,
        "failed": 1,
        "pending": 0,
        "time_to_callback": {"p50": 1165.0, "p90": 1165.0, "p99": 1165.0, "mean": 1165.0},
        "by_queue": [
            {"queue": "support", "offered": 3, "requested": 2, "completed": 1, "failed": 1}
        ],
    }


def test_funnel(loaded: Store) -> None:
    report = StoreReports(loaded).funnel(ReportFilter())
    assert report["flow"] == "acme"
    nodes = {row["node"]: row for row in report["nodes"]}
    assert nodes["greeting"] == {
        "node": "greeting",
        "entered": 9,
        "abandoned": 0,
        "escaped": 0,
        "next": {"main_menu": 9},
    }
    assert nodes["main_menu"] == {
        "node": "main_menu",
        "entered": 9,
        "abandoned": 2,
        "escaped": 2,
        "next": {"outage_info": 1, "account": 1, "support_q": 3},
    }
    assert report["nodes"][0]["node"] in ("greeting", "main_menu")  # most entered first


def test_filters(loaded: Store) -> None:
    reports = StoreReports(loaded)
    support = reports.summary(ReportFilter(queue="support"))
    assert support["calls"] == 5 and support["abandoned"] == 1  # D, F, G, H, J
    window = reports.summary(ReportFilter(since=at(10), until=at(12)))
    assert window["calls"] == 4  # E, F, G, H; 12:00 itself is left out
    assert reports.summary(ReportFilter(flow="other"))["calls"] == 0
    assert reports.summary(ReportFilter(flow="other"))["abandonment_rate"] is None
    assert reports.flows() == ["acme"]


def test_a_call_still_in_progress_is_not_counted_until_it_times_out(loaded: Store) -> None:
    soon = StoreReports(loaded, clock=lambda: at(12, 1))
    assert soon.summary(ReportFilter(until=at(12, 10)))["calls"] == 8  # I could be live
    later = StoreReports(loaded, clock=lambda: at(17))
    assert later.summary(ReportFilter(until=at(12, 10)))["calls"] == 9
    assert loaded.close_stale(int((at(17) - timedelta(hours=4)).timestamp() * 1000)) == 1
    assert soon.summary(ReportFilter(until=at(12, 10)))["calls"] == 9  # now stamped closed


def test_resummarize_applies_a_new_short_abandon_threshold(loaded: Store) -> None:
    url = loaded.engine.url.render_as_string(hide_password=False)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["db", "resummarize", "--db", url, "--short-abandon", "20"]) == 0
    outcomes = StoreReports(loaded).summary(ReportFilter())["outcomes"]
    # Within 20 s: B (3 s) and I (last heard of at 15 s); C (25 s) stays abandoned in the menu.
    assert outcomes["short_abandon"] == 2
    assert outcomes["abandoned_ivr"] == 1 and outcomes["abandoned_queue"] == 1


def test_same_summary_whatever_the_arrival_order(store: Store) -> None:
    history = histories()["G"]
    rows = history.rows()
    reordered = [r.__class__(**{**r.__dict__, "call_sid": "CA_G2"}) for r in reversed(rows)]
    store.append_rows(rows)
    for row in reordered:  # one request at a time, newest first
        store.append_rows([row])
    assert store.outcome_of("CA_G") == store.outcome_of("CA_G2") == "callback_completed"
    with store.engine.connect() as connection:
        found = (
            connection.exec_driver_sql(
                "SELECT * FROM call_outcomes WHERE call_sid IN ('CA_G', 'CA_G2') ORDER BY call_sid"
            )
            .mappings()
            .all()
        )
    first, second = ({k: v for k, v in row.items() if k != "call_sid"} for row in found)
    assert first == second
    assert first["time_to_callback_s"] == 1165.0 and first["on_hold_s"] == 35.0


def test_views_agree_with_the_reports(loaded: Store) -> None:
    with loaded.engine.connect() as connection:
        by_queue = connection.exec_driver_sql(
            "SELECT queue, calls, abandoned, mean_wait_s FROM abandonment_by_queue ORDER BY queue"
        ).all()
        live = (
            connection.exec_driver_sql(
                "SELECT seconds FROM time_to_agent WHERE kind = 'live' ORDER BY seconds"
            )
            .scalars()
            .all()
        )
        versions = connection.exec_driver_sql(
            "SELECT flow_version, calls FROM abandonment_by_flow_version ORDER BY flow_version"
        ).all()
    # I has no status callback (nobody has closed it yet), so the views leave it out.
    assert [tuple(r) for r in by_queue] == [("billing", 1, 0, 30.0), ("support", 5, 1, 51.0)]
    assert [float(s) for s in live] == [38.0, 50.0, 100.0]
    assert [tuple(r) for r in versions] == [("v1", 7), ("v2", 1)]


@contextlib.contextmanager
def api(store: Store) -> Iterator[httpx.Client]:
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": "t"}),
        lambda: Catalog(()),
        MemoryCallLog(),
        reports=StoreReports(store),
    )
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", *args]) == 0
    return out.getvalue()


@pytest.mark.parametrize("report", REPORTS)
def test_api_and_cli_agree(loaded: Store, report: str) -> None:
    url = loaded.engine.url.render_as_string(hide_password=False)
    query = {"since": "2025-12-02", "until": "2025-12-02T12:00:00Z", "queue": "support"}
    with api(loaded) as client:
        as_json = client.get(f"/api/reports/{report}", params=query)
        as_csv = client.get(f"/api/reports/{report}", params={**query, "format": "csv"})
        flows = client.get("/api/flows")
        queues = client.get("/api/queues")
    assert as_json.status_code == 200 and flows.json() == ["acme"]
    assert queues.json() == ["billing", "support"]
    flags = [
        "--db",
        url,
        "--since",
        query["since"],
        "--until",
        query["until"],
        "--queue",
        "support",
    ]
    assert json.loads(cli(report, *flags, "--format", "json")) == as_json.json()
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert cli(report, *flags, "--format", "csv") == as_csv.text
    table = cli(report, *flags)
    assert table.startswith(report)


def test_summary_csv_is_one_row_with_dotted_keys(loaded: Store) -> None:
    with api(loaded) as client:
        text = client.get("/api/reports/summary", params={"format": "csv"}).text
    header, row, *rest = text.splitlines()
    assert not rest
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert values["calls"] == "10" and values["time_to_agent.p50"] == "50.0"
    assert values["outcomes.short_abandon"] == "1" and values["filter.flow"] == ""


def test_api_refuses_a_bad_date_in_plain_words(loaded: Store) -> None:
    with api(loaded) as client:
        response = client.get("/api/reports/summary", params={"since": "yesterday"})
        schema = client.get("/openapi.json").json()
    assert response.status_code == 422 and "since 'yesterday'" in response.json()["detail"]
    assert "/api/reports/time-to-agent" in schema["paths"]


def test_cli_call_timeout_decides_when_a_silent_call_is_over(loaded: Store) -> None:
    url = loaded.engine.url.render_as_string(hide_password=False)
    three_years = str(3 * 365 * 86_400)
    waiting = json.loads(
        cli("summary", "--db", url, "--format", "json", "--call-timeout", three_years)
    )
    assert waiting["calls"] == 9  # I, silent for a year only, may still be going on
    assert json.loads(cli("summary", "--db", url, "--format", "json"))["calls"] == 10


def test_the_sweeper_closes_silent_calls_for_the_views(loaded: Store) -> None:
    from analytics.sweeper import StaleCallSweeper

    assert StaleCallSweeper(loaded, clock=lambda: at(12, 30)).sweep() == 0  # I: 15 min silent
    assert StaleCallSweeper(loaded, clock=lambda: at(17)).sweep() == 1
    with loaded.engine.connect() as connection:
        row = connection.execute(
            text("SELECT outcome, ended_by, in_progress FROM call_outcomes WHERE call_sid = 'CA_I'")
        ).one()
    assert (row.outcome, row.ended_by, bool(row.in_progress)) == ("abandoned_ivr", "timeout", False)
