"""`ivr db prune`: old calls (with all their events) and finished callbacks go, in batches;
the rest stays, and so do the reports of the days pruned."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from analytics import Store, epoch_ms
from ivr.actions import Event
from ivr.cli import main
from ivr.state import CallState

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)


def a_call(store: Store, sid: str, at: datetime, events: int = 3) -> None:
    state = CallState(sid, "flow", "v1", "+15555550100", "+15005550006", at)
    happened = [Event("prompt", at, "menu", {"text": "hi"}, seq=n) for n in range(1, events + 1)]
    store.record(state.moved(events=events), happened, epoch_ms(at))


def callback(store: Store, sid: str, at: datetime, status: str | None) -> int:
    booked = store.add_callback(sid, "support", "+15555550100", epoch_ms(at), None, epoch_ms(at))
    if status is not None:
        store.finish_callback(booked, status, epoch_ms(at))
    return booked


@pytest.fixture
def filled(store: Store) -> Store:
    for n in range(3):
        a_call(store, f"CAold{n}", OLD)
    a_call(store, "CAnew", RECENT)
    callback(store, "CAold0", OLD, "completed")
    callback(store, "CAold1", OLD, "failed")
    callback(store, "CAold2", OLD, None)  # still owed a call: kept, however old
    callback(store, "CAnew", RECENT, "completed")
    return store


def counts(store: Store) -> dict[str, int]:
    return store.prune(epoch_ms(NOW - timedelta(days=90)), dry_run=True)


def test_dry_run_prints_counts_and_deletes_nothing(
    filled: Store, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "prune", "--older-than", "90d", "--db", db_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 6 events, 2 calls, 2 callbacks from before" in out
    assert counts(filled) == {"events": 6, "calls": 2, "callbacks": 2}


def test_prune_deletes_only_what_is_old_and_finished(
    filled: Store, db_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.admin"):
        assert main(["db", "prune", "--older-than", "90d", "--db", db_url]) == 0
    assert "deleted 6 events, 2 calls, 2 callbacks" in capsys.readouterr().out
    assert counts(filled) == {"events": 0, "calls": 0, "callbacks": 0}
    assert len(filled.events_for("CAnew")) == 3 and filled.load_call("CAnew") is not None
    assert filled.load_call("CAold0") is None and filled.events_for("CAold0") == []
    # Still owed a call: the booking, and the call it came from with its events.
    assert [c.status for c in filled.callbacks_for("CAold2")] == ["pending"]
    assert len(filled.events_for("CAold2")) == 3 and filled.load_call("CAold2") is not None
    assert [c.status for c in filled.callbacks_for("CAnew")] == ["completed"]
    admin = [getattr(r, "fields", {}) for r in caplog.records if r.name == "ivr.admin"]
    assert admin[-1]["action"] == "db prune"
    assert admin[-1]["rows"] == {"events": 6, "calls": 2, "callbacks": 2}
    assert admin[-1]["who"].startswith("user:")


def test_prune_works_in_batches(store: Store) -> None:
    a_call(store, "CAbig", OLD, events=11)
    deleted = store.prune(epoch_ms(NOW - timedelta(days=90)), batch=4)
    assert deleted == {"events": 11, "calls": 1, "callbacks": 0}
    assert store.events_for("CAbig") == []


def test_a_call_across_the_cut_off_stays_whole_until_all_of_it_is_old(store: Store) -> None:
    """Half of a call's events gone would leave a summary of the other half to the next
    `ivr db resummarize`: it goes whole, once its last event is old too."""
    cut_off = NOW - timedelta(days=90)
    started = cut_off - timedelta(minutes=1)
    state = CallState("CAacross", "flow", "v1", "+15555550100", "+15005550006", started)
    happened = [
        Event("prompt", started + timedelta(seconds=30 * n), "menu", {"text": "hi"}, seq=n)
        for n in range(1, 5)
    ]  # two before the cut-off, two after
    store.record(state.moved(events=4), happened, epoch_ms(started))
    assert store.prune(epoch_ms(cut_off)) == {"events": 0, "calls": 0, "callbacks": 0}
    assert len(store.events_for("CAacross")) == 4 and store.load_call("CAacross") is not None
    later = cut_off + timedelta(minutes=5)
    assert store.prune(epoch_ms(later)) == {"events": 4, "calls": 1, "callbacks": 0}
    assert store.events_for("CAacross") == [] and store.load_call("CAacross") is None


def report(db_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["report", "summary", "--db", db_url, "--format", "json"]) == 0
    figures: dict[str, object] = json.loads(capsys.readouterr().out)
    return figures


def test_reports_of_pruned_days_stay_as_they_were(
    filled: Store, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summaries hold no caller's number: they stay, and so do the reports, even after
    `ivr db resummarize` (which re-derives only the calls that still have events)."""
    before = report(db_url, capsys)
    assert before["calls"] == 4
    assert main(["db", "prune", "--older-than", "90d", "--db", db_url]) == 0
    assert report(db_url, capsys) == before
    assert main(["db", "resummarize", "--db", db_url]) == 0
    assert report(db_url, capsys) == before


@pytest.mark.parametrize("age", ["0d", "soon", "-3d"])
def test_an_unreadable_age_is_refused(age: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["db", "prune", "--older-than", age, "--db", "sqlite:///unused.db"])
    assert stop.value.code == 2
    assert "--older-than" in capsys.readouterr().err
