"""A simulated day through the real server: what the database holds equals what the
simulated callers did, on SQLite and PostgreSQL; and `ivr simulate` from the command line.

The reports (analytics) are built on another branch: until they are merged, the figures
are counted from the event log the reports read (`ivr.cli.simulation_report` is the hook).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from analytics.call_log import StoreCallLog
from analytics.tables import events
from ivr.cli import main
from simulator.contact_centre import Tally
from simulator.distributions import Distribution, Shift
from tests.simulation import simulate

FLOW = """
id: shop
numbers: ["+15005550006"]
escape: {queue: support}
agents:
  - {id: alice, phone: "+15005550010", queues: [support]}
  - {id: bob, client: bob, queues: [support]}
queues:
  support:
    announce_every: 30s
    callback: {offer_after: 40s, digit: "1"}
start: hello
nodes:
  hello: {say: "Thanks for calling the shop. Press 0 or say agent for a person.", next: menu}
  menu:
    menu:
      prompt: "For orders press 1 or say orders. For opening hours press 2 or say hours."
      options:
        - {digit: "1", phrases: [orders], goto: order}
        - {digit: "2", phrases: [hours], goto: hours_info}
  order:
    ask: {prompt: "Please key your order number, then press pound.", digits: {min: 4, max: 6},
          save_as: order}
    next: desk
  desk: {queue: support}
  hours_info: {end: {say: "We are open every day from 9 to 5.", resolved: true}}
"""


def figures_from_events(call_log: StoreCallLog) -> dict[str, int]:
    """The outcomes as the event log tells them, the way the reports count them."""
    with call_log.store.engine.connect() as connection:
        rows = connection.execute(select(events.c.call_sid, events.c.kind, events.c.details)).all()
    kinds: dict[str, Counter[str]] = {}
    ended: dict[str, dict[str, object]] = {}
    queue_hangup: set[str] = set()
    routed: set[str] = set()
    for sid, kind, details in rows:
        kinds.setdefault(sid, Counter())[kind] += 1
        if kind == "call_ended" and "status" in details:  # the status callback's, not an end's
            ended[sid] = details
        elif kind in ("call_ended", "queued", "transfer", "voicemail", "callback_requested"):
            routed.add(sid)  # the engine handed the call on (the status callback's own copy
            # of the route may be a moment old when another server answered it)
        if kind == "queue_left" and details.get("result") == "hangup":
            queue_hangup.add(sid)
    calls = [sid for sid, seen in kinds.items() if seen["call_started"]]
    unrouted = [sid for sid in calls if sid not in routed]
    short = [s for s in unrouted if int(str(ended[s].get("duration") or 0)) < 5]
    return {
        "calls": len(calls),
        "short_abandons": len(short),
        "abandoned_menu": len(unrouted) - len(short),
        "abandoned_queue": len(queue_hangup),
        "reached_agent": sum(1 for s in calls if kinds[s]["agent_connected"]),
        "callbacks_requested": sum(1 for s in calls if kinds[s]["callback_requested"]),
        "callbacks_connected": sum(1 for s in calls if kinds[s]["callback_connected"]),
        "ended": len(ended),
    }


def figures_from_reports(call_log: StoreCallLog) -> dict[str, int]:
    """The same figures as the analytics reports give them (`ivr report summary`)."""
    from analytics.reports import StoreReports
    from webhooks.reports_api import ReportFilter

    summary = StoreReports(call_log.store).summary(ReportFilter())
    outcomes = summary["outcomes"]
    return {
        "calls": summary["calls"],
        "short_abandons": summary["short_abandons"],
        "abandoned_menu": outcomes.get("abandoned_ivr", 0),
        "abandoned_queue": outcomes.get("abandoned_queue", 0),
        "reached_agent": outcomes.get("agent", 0),
        "callbacks_requested": summary["callbacks"]["requested"],
        "callbacks_connected": summary["callbacks"]["completed"],
        "ended": figures_from_events(call_log)["ended"],
    }


def tally_figures(tally: Tally) -> dict[str, int]:
    return {
        "calls": tally.calls,
        "short_abandons": tally.short_abandons,
        "abandoned_menu": tally.abandoned_menu,
        "abandoned_queue": tally.abandoned_queue,
        "reached_agent": tally.reached_agent,
        "callbacks_requested": tally.callbacks_requested,
        "callbacks_connected": tally.callbacks_connected,
        "ended": tally.calls,  # every call got its status callback
    }


def test_the_database_counts_what_the_callers_did(db_url: str, tmp_path: Path) -> None:
    tally, call_log = simulate(
        FLOW,
        db_url,
        tmp_path,
        calls_per_hour=100,
        duration=1800,
        handle=Distribution("exp", 150),
        patience=Distribution("exp", 150),
        shifts=(Shift(1), Shift(1, 600, 1800)),
        choices={"1": 4, "2": 1, "0": 1, "hangup": 1},
        speech_share=0.4,
        callback_acceptance=0.5,
        seed=5,
    )
    assert isinstance(call_log, StoreCallLog)
    try:
        call_log.flush()
        measured = figures_from_events(call_log)
        reported = figures_from_reports(call_log)
    finally:
        call_log.close()
    assert measured == tally_figures(tally)
    assert reported == tally_figures(tally)  # what `ivr report summary` says of the day
    # The day exercised every path the figures count.
    assert min(tally.abandoned_menu, tally.abandoned_queue, tally.reached_agent) > 0
    assert tally.callbacks_requested > 0 and tally.callbacks_connected > 0


def test_ivr_simulate_prints_the_tally_and_leaves_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "shop.yaml"
    flows.write_text(FLOW)
    db = tmp_path / "demo.db"
    code = main(
        [
            "simulate",
            "--flows",
            str(flows),
            "--db",
            f"sqlite:///{db}",
            "--spool",
            str(tmp_path / "spool"),
            "--minutes",
            "10",
            "--rate",
            "60",
            "--agents",
            "1",
            "--seed",
            "3",
            "--start",
            "2026-11-23T12:00:00+00:00",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    calls = int(out.split("calls", 1)[1].split()[0])
    assert calls > 0 and "abandoned in queue" in out
    call_log = StoreCallLog.open(f"sqlite:///{db}", tmp_path / "spool")
    try:
        assert figures_from_events(call_log)["calls"] == calls
    finally:
        call_log.close()


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        pytest.param(["--agents", "3@60-10"], "start < end", id="backwards-shift"),
        pytest.param(["--handle", "gamma:3"], "not a duration distribution", id="unknown-dist"),
        pytest.param(["--choice", "1"], "is not KEY=WEIGHT", id="choice-without-weight"),
        pytest.param(["--speech", "2"], "between 0 and 1", id="share-above-one"),
    ],
)
def test_bad_simulate_flags_say_what_to_write(
    flag: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", *flag])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
