"""Where a report's calls come from: the rollups for days that are built, the summary
rows themselves for the rest, joined into one set of cells and one list of values.

A window [since, until) is cut into the whole UTC days inside it and its ragged ends.
Whole days whose rollups are up to date are read from `report_cells` / `report_values`;
the ends, the days marked dirty, and calls that never reported their end (closed by the
timeout at read time, so never in a rollup) are read from `call_summaries`. The pieces
never overlap, so every call is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    Table,
    and_,
    not_,
    or_,
    select,
    union,
    union_all,
)

from analytics.moments import epoch_ms
from analytics.report_sql import Window, conditions
from analytics.rollups import (
    CELL_KEYS,
    DAY_MS,
    MEASURES,
    cells_from_summaries,
    day_of,
    unpack,
)
from analytics.tables import call_summaries as cs
from analytics.tables import report_cells, report_dirty_days, report_values

CELL_FIGURES = (
    "calls",
    "first_started_ms",
    "escaped",
    "offered",
    "accepted",
    "requested",
    "waits",
    "wait_sum_ms",
)

Range = tuple[int | None, int | None]  # [from, to) in epoch ms; None: unbounded
MANY_OPEN = 2_000  # silent unclosed calls read by their ids at most (bound parameters)


def _within(column: Any, span: Range) -> ColumnElement[bool]:
    lo, hi = span
    parts = [column >= lo] if lo is not None else []
    if hi is not None:
        parts.append(column < hi)
    return and_(*parts) if parts else column.is_not(None)


class Source:
    def __init__(self, connection: Connection, f: Window, now_ms: int, timeout_ms: int) -> None:
        self.connection = connection
        self.f = f
        self.where = conditions(f, now_ms, timeout_ms)
        self.cutoff_ms = now_ms - timeout_ms
        since = None if f.since is None else epoch_ms(f.since)
        until = None if f.until is None else epoch_ms(f.until)
        lo = None if since is None else -(-since // DAY_MS) * DAY_MS
        hi = None if until is None else day_of(until)
        self.rolled: Range | None = (lo, hi)
        self.raw: list[Range] = []  # of call starts
        self.open: list[str] | None = None
        if lo is not None and hi is not None and lo >= hi:
            self.rolled = None  # no whole day inside: every call is read directly
            self.raw = [(since, until)]
            self.dirty: list[int] = []
            return
        if since is not None and lo is not None and since < lo:
            self.raw.append((since, lo))
        if until is not None and hi is not None and hi < until:
            self.raw.append((hi, until))
        self.dirty = [
            int(d)
            for d in connection.scalars(
                select(report_dirty_days.c.day_ms).where(
                    _within(report_dirty_days.c.day_ms, (lo, hi))
                )
            )
        ]
        self.raw.extend(_merged(self.dirty))

    # --- the pieces ---------------------------------------------------------------------
    def _raw_pieces(self) -> list[list[ColumnElement[bool]]]:
        """Conditions on `call_summaries` of the calls not in any rollup."""
        pieces = []
        if self.raw:
            pieces.append([*self.where, or_(*(_within(cs.c.started_at_ms, r) for r in self.raw))])
        if self.open is None:
            self.open = self._open_calls()
        if len(self.open) > MANY_OPEN:  # no sweeper for a long while: by condition instead
            pieces.append([*self.where, cs.c.ended_at_ms.is_(None), *self._in_rolled_days()])
        elif self.open:
            pieces.append([*self.where, cs.c.call_sid.in_(self.open)])
        return pieces

    def _in_rolled_days(self) -> list[ColumnElement[bool]]:
        assert self.rolled is not None
        inside = [_within(cs.c.started_at_ms, self.rolled)]
        if self.dirty:
            inside.append(not_(or_(*(_within(cs.c.started_at_ms, r) for r in self.raw))))
        return inside

    def _open_calls(self) -> list[str]:
        """Calls of the rolled days not stamped over (so in no rollup) that the timeout
        counts as over: silent calls the sweeper has not closed yet, few whatever the
        history. Read first on their own, by the index of open calls:
        with the window's other conditions, SQLite without ANALYZE statistics would read
        them by the queue or flow index, i.e. most of the history."""
        if self.rolled is None:
            return []
        query = select(cs.c.call_sid).where(
            cs.c.ended_at_ms.is_(None),
            cs.c.last_event_at_ms < self.cutoff_ms,
            *self._in_rolled_days(),
        )
        return list(self.connection.scalars(query))

    def _rolled(self, table: Table) -> list[ColumnElement[bool]] | None:
        if self.rolled is None:
            return None
        where = [_within(table.c.day_ms, self.rolled)]
        if self.dirty:
            where.append(table.c.day_ms.not_in(self.dirty))
        if self.f.flow is not None:
            where.append(table.c.flow_id == self.f.flow)
        if self.f.queue is not None:
            where.append(table.c.queue == self.f.queue)
        return where

    # --- what reports read --------------------------------------------------------------
    def cells(self) -> Subquery:
        """Cells (CELL_KEYS and CELL_FIGURES columns) of every call in the window."""
        selects: list[Any] = [cells_from_summaries(w) for w in self._raw_pieces()]
        rolled = self._rolled(report_cells)
        if rolled is not None:
            columns = [report_cells.c[c] for c in (*CELL_KEYS, *CELL_FIGURES)]
            selects.append(select(*columns).where(*rolled))
        return union_all(*selects).subquery() if len(selects) > 1 else selects[0].subquery()

    def values(self, measure: str) -> list[int]:
        """Every value of the measure over the window's calls, sorted (milliseconds)."""
        m = MEASURES[measure]
        runs: list[Sequence[int]] = []
        for where in self._raw_pieces():
            query = select(m.column).where(*where, cs.c.outcome == m.outcome, m.column.is_not(None))
            runs.append([int(v) for v in self.connection.scalars(query)])
        rolled = self._rolled(report_values)
        if rolled is not None:
            blobs = self.connection.scalars(
                select(report_values.c.values_ms).where(*rolled, report_values.c.measure == measure)
            )
            runs.extend(unpack(blob) for blob in blobs)
        return sorted(chain.from_iterable(runs))


def names_in_use(connection: Connection, column: str) -> list[str]:
    """The distinct values (flow ids, queues) of every call: those in built days' cells,
    and those of calls in days not built or not over (so in no cell), each read by an
    index."""
    cells, summaries = report_cells.c[column], cs.c[column]
    dirty = [int(d) for d in connection.scalars(select(report_dirty_days.c.day_ms))]
    pieces: list[Any] = [
        select(cells).where(cells.is_not(None)).distinct(),
        select(summaries).where(summaries.is_not(None), cs.c.ended_at_ms.is_(None)).distinct(),
    ]
    for span in _merged(dirty):
        within = _within(cs.c.started_at_ms, span)
        pieces.append(select(summaries).where(summaries.is_not(None), within).distinct())
    return sorted(set(connection.scalars(union(*pieces)).all()))


def _merged(days: Sequence[int]) -> list[Range]:
    """Consecutive days as one range each."""
    ranges: list[Range] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + DAY_MS)
        else:
            ranges.append((day, day + DAY_MS))
    return ranges
