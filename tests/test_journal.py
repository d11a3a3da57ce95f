"""The journal: what a process has answered for is on disk before the answer, shared
fsyncs lose nothing, and a dead process's journal is taken over by whoever shares the
folder (real processes, real files, real `kill -9`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics import CallRef, Store
from analytics.call_log import StoreCallLog
from analytics.journal import SUFFIX, Journal
from analytics.records import event_rows
from analytics.spool import SpoolingEventLog
from analytics.write_behind import Pending, WriteBehind
from ivr.actions import Event
from tests.test_spool_disk_full import no_room_for_files

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}"))


def test_lines_appended_by_many_threads_at_once_are_each_on_disk_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    tickets = []
    lock = threading.Lock()

    def request(n: int) -> None:
        for k in range(50):
            ticket = journal.append(json.dumps({"request": n, "k": k}))
            with lock:
                tickets.append(ticket)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (segment,) = segments(tmp_path)
    lines = segment.read_text().splitlines()
    assert sorted(lines) == sorted(
        json.dumps({"request": n, "k": k}) for n in range(16) for k in range(50)
    )
    assert journal.pending() == 800
    journal.done(tickets[:799])
    assert segments(tmp_path) == [segment] and journal.pending() == 1
    journal.done(tickets[799:])  # all applied elsewhere: nothing left to keep
    assert segments(tmp_path) == [] and journal.pending() == 0
    journal.close()


def test_a_full_segment_gives_way_to_a_new_one_and_goes_once_applied(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1_000)
    tickets = [journal.append("x" * 300) for _ in range(10)]
    found = segments(tmp_path)
    assert len(found) >= 3
    assert sum(len(p.read_text().splitlines()) for p in found) == 10
    journal.done(tickets[:4])
    assert len(segments(tmp_path)) < len(found)  # the first ones, all applied, are gone
    journal.done(tickets[4:])
    assert segments(tmp_path) == []
    journal.close()


def test_a_live_process_keeps_its_journal_and_a_killed_ones_is_taken_over(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from analytics.journal import Journal
        journal = Journal({str(tmp_path)!r})
        for n in range(3):
            journal.append('{{"n": %d}}' % n)
        print("appended", flush=True)
        sys.stdin.readline()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == "appended\n"
        mine = Journal(tmp_path)
        assert list(mine.orphans()) == []  # its owner holds it
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        (orphan,) = mine.orphans()
        lines, torn = orphan.lines()
        assert [json.loads(line)["n"] for line in lines] == [0, 1, 2] and torn == 0
        orphan.remove()
        assert segments(tmp_path) == []
        mine.close()


def test_a_write_cut_off_mid_line_is_dropped_and_said(tmp_path: Path) -> None:
    path = tmp_path / f"00000000000000000001-1-000001{SUFFIX}"
    path.write_bytes(b'{"n": 0}\n{"n": 1}\n{"n": 2, "na')
    (orphan,) = Journal(tmp_path).orphans()
    lines, torn = orphan.lines()
    assert lines == ['{"n": 0}', '{"n": 1}'] and torn == len(b'{"n": 2, "na')
    orphan.release()
    assert path.exists()  # released, not removed: still there for later


def test_a_disk_that_refuses_the_journal_is_an_error_to_the_writer(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.done([journal.append("{}")])  # the segment exists already, and is empty
    with no_room_for_files(), pytest.raises(OSError):
        journal.append('{"n": 1}')
    assert journal.pending() == 0  # nothing in the file to wait for
    assert journal.append('{"n": 2}')  # room again: a fresh segment
    assert [p.read_text() for p in segments(tmp_path)][-1] == '{"n": 2}\n'
    journal.close()


def test_lines_added_on_an_event_loop_are_on_disk_when_synced_returns(tmp_path: Path) -> None:
    """Requests answered on the loop: each awaits its line's fsync, done by the journal's
    own thread, and finds it in the file the moment it is woken."""
    journal = Journal(tmp_path)
    found_at_wake: list[bool] = []

    async def request(n: int) -> None:
        for k in range(20):
            line = json.dumps({"request": n, "k": k})
            added = journal.add(line)
            assert await journal.synced([added]) is None
            (segment,) = segments(tmp_path)
            found_at_wake.append(line in segment.read_text().splitlines())

    async def requests() -> None:
        await asyncio.gather(*(request(n) for n in range(16)))

    asyncio.run(requests())
    assert len(found_at_wake) == 320 and all(found_at_wake)
    (segment,) = segments(tmp_path)
    assert len(segment.read_text().splitlines()) == 320  # each once: shared fsyncs
    journal.close()


def test_a_write_applied_before_its_line_is_on_disk_keeps_the_segment_till_then(
    tmp_path: Path,
) -> None:
    """The writer may put a write in the database before its line's commit: the segment
    is not deleted under the commit, and goes once both are over."""
    journal = Journal(tmp_path)
    added = journal.add('{"n": 1}')
    journal.done([added.ticket])  # applied elsewhere already
    (segment,) = segments(tmp_path)
    assert asyncio.run(journal.synced([added])) is None
    assert segments(tmp_path) == [] and journal.pending() == 0
    assert not segment.exists()
    journal.close()


def test_a_disk_that_refuses_a_line_added_on_the_loop_says_so(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.done([journal.append("{}")])  # the segment exists already, and is empty

    async def refused() -> OSError | None:
        added = journal.add('{"n": 1}')
        with no_room_for_files():
            error = await journal.synced([added])
        journal.done([added.ticket])  # the writer applies it anyway, from memory
        return error

    assert isinstance(asyncio.run(refused()), OSError)
    assert journal.pending() == 0
    assert journal.append('{"n": 2}')  # room again: a fresh segment
    assert [p.read_text() for p in segments(tmp_path)][-1] == '{"n": 2}\n'
    journal.close()


def call_events(*kinds: str) -> list[Event]:
    return [Event(kind, T0, "menu", {}, seq=n) for n, kind in enumerate(kinds, start=1)]


def test_writes_of_a_process_killed_before_they_reached_the_database_are_replayed(
    db_url: str, tmp_path: Path
) -> None:
    """The dead process's writer never ran a transaction (it gathers for a minute): only
    its journal holds the writes, and the next process on the folder replays them."""
    spool = tmp_path / "spool"
    with Store(db_url) as store:
        store.upgrade()
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from datetime import UTC, datetime
        from analytics import CallRef, Store
        from analytics.records import event_rows
        from analytics.spool import SpoolingEventLog
        from analytics.write_behind import Pending, WriteBehind
        from ivr.actions import Event
        at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        writer = WriteBehind(SpoolingEventLog(Store({db_url!r}), {str(spool)!r}), gather=60)
        writer.start()
        call = CallRef("CAkilled", "shop", "v1")
        for n, kind in enumerate(["call_started", "node_entered", "queued"], start=1):
            writer.submit(Pending(rows=tuple(event_rows(call, [Event(kind, at, "m", {{}}, n)]))))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(segments(spool)) == 1
    with Store(db_url) as store:
        assert store.events_for("CAkilled") == []
    log = StoreCallLog.open(db_url, spool)  # the server starts again on that folder
    try:
        log.flush()
        assert [e.kind for e in log.events_of("CAkilled")] == [
            "call_started",
            "node_entered",
            "queued",
        ]
        assert segments(spool) == [] and list(spool.glob("*.jsonl")) == []
    finally:
        log.close()


def test_a_write_is_in_the_database_a_moment_after_and_its_journal_line_gone(
    db_url: str, tmp_path: Path
) -> None:
    with Store(db_url) as store:
        store.upgrade()
        writer = WriteBehind(SpoolingEventLog(store, tmp_path / "spool"), gather=0.05).start()
        try:
            call = CallRef("CAone", "shop", "v1")
            rows = tuple(event_rows(call, call_events("call_started", "node_entered")))
            writer.submit(Pending(rows=rows))
            assert len(segments(tmp_path / "spool")) == 1  # on disk before submit returned
            assert writer.drain(10)
            assert [r.kind for r in store.events_for("CAone")] == ["call_started", "node_entered"]
            assert segments(tmp_path / "spool") == []  # applied, and the server idle: nothing kept
        finally:
            writer.close()
    assert os.listdir(tmp_path / "spool") == []
