"""`ivr db prune`: old calls, events and finished callbacks go, in batches; the rest stays."""

from __future__ import annotations

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
    assert "would delete 9 events, 3 calls, 2 callbacks from before" in out
    assert counts(filled) == {"events": 9, "calls": 3, "callbacks": 2}


def test_prune_deletes_only_what_is_old_and_finished(
    filled: Store, db_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.admin"):
        assert main(["db", "prune", "--older-than", "90d", "--db", db_url]) == 0
    assert "deleted 9 events, 3 calls, 2 callbacks" in capsys.readouterr().out
    assert counts(filled) == {"events": 0, "calls": 0, "callbacks": 0}
    assert len(filled.events_for("CAnew")) == 3 and filled.load_call("CAnew") is not None
    assert filled.load_call("CAold0") is None and filled.events_for("CAold0") == []
    assert [c.status for c in filled.callbacks_for("CAold2")] == ["pending"]
    assert [c.status for c in filled.callbacks_for("CAnew")] == ["completed"]
    admin = [getattr(r, "fields", {}) for r in caplog.records if r.name == "ivr.admin"]
    assert admin[-1]["action"] == "db prune"
    assert admin[-1]["rows"] == {"events": 9, "calls": 3, "callbacks": 2}
    assert admin[-1]["who"].startswith("user:")


def test_prune_works_in_batches(store: Store) -> None:
    a_call(store, "CAbig", OLD, events=11)
    deleted = store.prune(epoch_ms(NOW - timedelta(days=90)), batch=4)
    assert deleted == {"events": 11, "calls": 1, "callbacks": 0}
    assert store.events_for("CAbig") == []


@pytest.mark.parametrize("age", ["0d", "soon", "-3d"])
def test_an_unreadable_age_is_refused(age: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["db", "prune", "--older-than", age, "--db", "sqlite:///unused.db"])
    assert stop.value.code == 2
    assert "--older-than" in capsys.readouterr().err
