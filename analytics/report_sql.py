"""SQL building blocks of the reports: the filter, nearest-rank percentiles, moments.

Everything reads the `call_summaries` table (one row per call), never the raw events, and
is plain SQL that SQLite and PostgreSQL run alike, so both give the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, case, func, or_, select

from analytics.moments import epoch_ms, from_epoch_ms
from analytics.tables import call_summaries as cs

PERCENTILES = (50, 90, 99)


class Window(Protocol):
    """Which calls a report counts (`webhooks.reports_api.ReportFilter` is one)."""

    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def flow(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...


def conditions(f: Window, now_ms: int, open_timeout_ms: int) -> list[ColumnElement[bool]]:
    """Calls that started in [since, until), of the flow and queue asked for, and are over:
    their status callback came, or nothing happened on them for `open_timeout_ms`."""
    where: list[ColumnElement[bool]] = [
        or_(cs.c.ended_at_ms.is_not(None), cs.c.last_event_at_ms < now_ms - open_timeout_ms)
    ]
    if f.since is not None:
        where.append(cs.c.started_at_ms >= epoch_ms(f.since))
    if f.until is not None:
        where.append(cs.c.started_at_ms < epoch_ms(f.until))
    if f.flow is not None:
        where.append(cs.c.flow_id == f.flow)
    if f.queue is not None:
        where.append(cs.c.queue == f.queue)
    return where


def counted(where: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """The calls rates are taken over: short abandons are left out (SPEC §5)."""
    return [*where, cs.c.outcome != "short_abandon"]


def seconds(ms: Any) -> float | None:
    """Milliseconds (int, float or Decimal) as seconds, rounded to the millisecond."""
    return None if ms is None else round(float(ms) / 1000, 3)


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return from_epoch_ms(int(ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


def nearest_rank(n: int, p: int) -> int:
    """1-based rank of the p-th percentile of n values: ceil(p / 100 * n)."""
    return max(1, (n * p + 99) // 100)


def stats(
    connection: Connection, column: Any, where: Sequence[ColumnElement[bool]]
) -> dict[str, Any]:
    """count, p50, p90, p99 (nearest rank: the smallest value with at least p % of the
    values at or below it) and mean of a millisecond column, in seconds. One pass: the
    count and mean ride along the ranking as window aggregates."""
    ranked = (
        select(
            column.label("v"),
            func.row_number().over(order_by=column).label("rn"),
            func.count().over().label("n"),
            func.avg(column).over().label("mean"),
        )
        .where(*where, column.is_not(None))
        .subquery()
    )
    # ceil(p * n / 100) in integer arithmetic, the same on every database.
    ranks = [(ranked.c.n * p + 99) // 100 for p in PERCENTILES]
    found = connection.execute(
        select(ranked.c.rn, ranked.c.v, ranked.c.n, ranked.c.mean).where(
            or_(*(ranked.c.rn == rank for rank in ranks))
        )
    ).all()
    if not found:
        return {"count": 0, **{f"p{p}": None for p in PERCENTILES}, "mean": None}
    n, mean = int(found[0].n), found[0].mean
    by_rank = {int(row.rn): row.v for row in found}
    result: dict[str, Any] = {"count": n}
    for p in PERCENTILES:
        result[f"p{p}"] = seconds(by_rank[nearest_rank(n, p)])
    result["mean"] = seconds(mean)
    return result


def histogram(
    connection: Connection,
    column: Any,
    where: Sequence[ColumnElement[bool]],
    bin_ms: int,
    bins: int,
) -> dict[int, int]:
    """How many values fall in each bin [i * bin_ms, (i + 1) * bin_ms); bin `bins` is
    everything from bins * bin_ms up."""
    bucket = case((column >= bin_ms * bins, bins), else_=column // bin_ms)
    rows = connection.execute(
        select(bucket.label("b"), func.count()).where(*where, column.is_not(None)).group_by("b")
    ).all()
    return {int(b): int(n) for b, n in rows}
