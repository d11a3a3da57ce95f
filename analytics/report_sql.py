"""Building blocks of the reports: the filter, nearest-rank percentiles, moments.

The filter is plain SQL on the `call_summaries` table that SQLite and PostgreSQL run
alike; percentiles and histograms are worked out here from the values, so both databases
give the same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, or_

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


def stats(values: Sequence[int]) -> dict[str, Any]:
    """count, p50, p90, p99 (nearest rank: the smallest value with at least p % of the
    values at or below it) and mean of sorted milliseconds, in seconds."""
    n = len(values)
    if n == 0:
        return {"count": 0, **{f"p{p}": None for p in PERCENTILES}, "mean": None}
    result: dict[str, Any] = {"count": n}
    for p in PERCENTILES:
        result[f"p{p}"] = seconds(values[nearest_rank(n, p) - 1])
    result["mean"] = seconds(sum(values) / n)
    return result


def histogram(values: Sequence[int], bin_ms: int, bins: int) -> dict[int, int]:
    """How many values fall in each bin [i * bin_ms, (i + 1) * bin_ms); bin `bins` is
    everything from bins * bin_ms up."""
    return dict(Counter(min(bins, v // bin_ms) for v in values))
