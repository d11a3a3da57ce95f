"""No event is lost: while the database is down events go to a local spool, and they are
replayed, each exactly once, when it returns."""

from __future__ import annotations

import errno
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import pytest

from analytics import CallRef, SpoolError, SpoolFlusher, SpoolingEventLog, Store, StoreError
from analytics.errors import StoreUnavailable
from ivr.actions import Event
from ivr.state import CallState

DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def events(*seqs: int) -> list[Event]:
    return [
        Event("node_entered", T0 + timedelta(seconds=s), f"n{s}", {"said": "وكيل"}, s) for s in seqs
    ]


def a_call(call_sid: str) -> CallState:
    return CallState(call_sid, "acme-support", "v1", "+15555550100", "+15005550006", T0)


@pytest.fixture
def down() -> Store:
    return Store(DOWN_URL)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"  # beside, not with, the SQLite file of `store`


def spool_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def test_appends_go_to_the_spool_while_the_database_is_down(
    down: Store, store: Store, spool_dir: Path
) -> None:
    spool = SpoolingEventLog(down, spool_dir)
    assert spool.append(CallRef("CA1", "acme-support", "v1"), events(1, 2, 3)) is False
    assert spool.append(CallRef("CA2", "acme-support", "v1"), events(1)) is False
    assert spool.record(a_call("CA3"), events(1, 2), now_ms=7) is False
    assert spool.depth() == 6
    assert all(p.suffix == ".jsonl" for p in spool_files(spool_dir))
    with pytest.raises(StoreUnavailable):
        spool.flush()
    assert spool.depth() == 6
    down.close()

    back = SpoolingEventLog(store, spool_dir)  # the server restarts, database back
    assert back.flush() == 6
    assert back.depth() == 0
    assert spool_files(spool_dir) == []
    assert [r.seq for r in store.events_for("CA1")] == [1, 2, 3]
    assert [r.seq for r in store.events_for("CA2")] == [1]
    assert store.events_for("CA1")[0].details == {"said": "وكيل"}
    assert store.load_call("CA3") == a_call("CA3")
    assert back.flush() == 0


def test_a_half_replayed_file_replays_without_duplicates(
    down: Store, store: Store, spool_dir: Path
) -> None:
    call = CallRef("CA1", "acme-support", "v1")
    SpoolingEventLog(down, spool_dir).append(call, events(1, 2, 3, 4))
    down.close()
    store.append_events(call, events(1, 2))  # the crash came after these were written
    assert SpoolingEventLog(store, spool_dir).flush() == 4
    assert [r.seq for r in store.events_for("CA1")] == [1, 2, 3, 4]


def test_the_database_coming_back_takes_writes_directly(
    store: Store, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = SpoolingEventLog(store, spool_dir, retry_after=60)
    calls: list[int] = []
    real_apply = store.apply

    def failing_apply(*args: object, **kwargs: object) -> NoReturn:
        calls.append(1)
        raise StoreUnavailable("database down (test)")

    monkeypatch.setattr(store, "apply", failing_apply)
    call = CallRef("CA1", "acme-support", "v1")
    assert spool.append(call, events(1)) is False
    assert spool.append(call, events(2)) is False  # no new attempt within retry_after
    assert len(calls) == 1
    monkeypatch.setattr(store, "apply", real_apply)
    assert spool.flush() == 2  # the flusher finds it back ...
    assert spool.append(call, events(3)) is True  # ... and writes go straight to it again
    assert [r.seq for r in store.events_for("CA1")] == [1, 2, 3]


def test_a_full_disk_is_a_clear_store_error(
    down: Store, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = SpoolingEventLog(down, spool_dir)

    def disk_full(_fd: int) -> NoReturn:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SpoolError, match="disk is full") as caught:
        spool.append(CallRef("CA1", "acme-support", "v1"), events(1))
    assert isinstance(caught.value, StoreError)
    assert "unreachable" in str(caught.value)
    assert list(spool_dir.iterdir()) == []  # no half-written file left behind
    down.close()


def test_an_unreadable_file_is_set_aside_and_the_rest_replayed(
    down: Store, store: Store, spool_dir: Path
) -> None:
    SpoolingEventLog(down, spool_dir).append(CallRef("CA1", "f", "v1"), events(1))
    down.close()
    (spool_dir / "00000000000000000000-1-000001.jsonl").write_text("{not json\n")
    spool = SpoolingEventLog(store, spool_dir)
    assert spool.flush() == 1
    assert [p.name for p in spool_files(spool_dir)] == ["00000000000000000000-1-000001.rejected"]
    assert len(store.events_for("CA1")) == 1


def test_spool_lines_are_plain_json(down: Store, spool_dir: Path) -> None:
    SpoolingEventLog(down, spool_dir).append(CallRef("CA1", "f", "v1"), events(1))
    down.close()
    (path,) = spool_files(spool_dir)
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["event"] == {
        "call_sid": "CA1",
        "seq": 1,
        "at_ms": 1795341601000,  # T0 + 1 s
        "flow_id": "f",
        "flow_version": "v1",
        "kind": "node_entered",
        "node": "n1",
        "details": {"said": "وكيل"},
    }


def test_the_background_flusher_empties_the_spool(
    down: Store, store: Store, spool_dir: Path
) -> None:
    SpoolingEventLog(down, spool_dir).append(CallRef("CA1", "f", "v1"), events(1, 2))
    down.close()
    spool = SpoolingEventLog(store, spool_dir)
    with SpoolFlusher(spool, every=0.02):
        deadline = time.monotonic() + 10
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert spool.depth() == 0
    assert len(store.events_for("CA1")) == 2


def test_the_flusher_survives_a_database_still_down(down: Store, spool_dir: Path) -> None:
    spool = SpoolingEventLog(down, spool_dir)
    spool.append(CallRef("CA1", "f", "v1"), events(1))
    flusher = SpoolFlusher(spool, every=0.01).start()
    time.sleep(0.1)
    flusher.stop()
    assert spool.depth() == 1
    down.close()
