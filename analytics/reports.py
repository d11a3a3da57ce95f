"""The reports of SPEC §5 (shapes: REPORTS_CONTRACT / README "Reports and what they count").

`StoreReports` implements the `Reports` port of `webhooks.reports_api`. Each report is a
handful of GROUP BY queries over the window's cells (`analytics.report_source`: rollups
for whole days, summary rows for the rest) and, for percentiles, the measure's sorted
values. The per-node figures come from grouping calls by their path through the menus
(few distinct paths, however many calls), expanded here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Connection, Subquery, case, func, select

from analytics.errors import translated
from analytics.moments import epoch_ms
from analytics.report_source import Source, names_in_use
from analytics.report_sql import Window, histogram, iso, ratio, seconds, stats
from analytics.store import Store
from analytics.summaries import PATH_SEPARATOR
from ivr.outcomes import ABANDONED, CALLBACK_OUTCOMES, ESCAPE_VIAS, OUTCOMES

# A call with no status callback and no event for this long is over (Twilio ends calls
# after 4 hours at most).
OPEN_TIMEOUT = timedelta(hours=4)
BIN_S, BINS = 30, 20  # time-to-agent histogram: 30 s bins up to 10 minutes, then one more
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _total_if(condition: ColumnElement[bool], column: Any) -> Any:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


class StoreReports:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        open_timeout: timedelta = OPEN_TIMEOUT,
    ) -> None:
        self.store = store
        self.clock = clock
        self.open_timeout = open_timeout

    @contextmanager
    def _connection(self, report: str) -> Iterator[Connection]:
        with (
            translated(f"read the {report} report", self.store.url),
            self.store.engine.connect() as connection,
        ):
            if self.store.dialect == "postgresql":
                # One snapshot for the dirty days, the rollups and the summary rows.
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def _reading(self, report: str, f: Window) -> Iterator[tuple[Source, Subquery]]:
        timeout_ms = self.open_timeout // timedelta(milliseconds=1)
        with self._connection(report) as connection:
            source = Source(connection, f, epoch_ms(self.clock()), timeout_ms)
            yield source, source.cells()

    # --- summary -----------------------------------------------------------------
    def summary(self, f: Window) -> dict[str, Any]:
        with self._reading("summary", f) as (source, c):
            rows = source.connection.execute(
                select(
                    c.c.outcome, _total(c.c.calls), _total(c.c.escaped), _total(c.c.offered)
                ).group_by(c.c.outcome)
            ).all()
            to_agent = stats(source.values("live_to_agent"))
        outcomes = dict.fromkeys(OUTCOMES, 0)
        escaped = offered = 0
        for outcome, n, escapes, offers in rows:
            outcomes[outcome] = outcomes.get(outcome, 0) + int(n)
            offered += int(offers)
            if outcome != "short_abandon":
                escaped += int(escapes)
        calls = sum(outcomes.values())
        short = outcomes["short_abandon"]
        abandoned = outcomes["abandoned_ivr"] + outcomes["abandoned_queue"]
        to_agent.pop("count")
        return {
            "calls": calls,
            "short_abandons": short,
            "abandoned": abandoned,
            "abandonment_rate": ratio(abandoned, calls - short),
            "reached_agent": outcomes["agent"],
            "time_to_agent": to_agent,
            "callbacks": {
                "offered": offered,
                "requested": sum(outcomes[o] for o in CALLBACK_OUTCOMES),
                "completed": outcomes["callback_completed"],
                "failed": outcomes["callback_failed"],
            },
            "outcomes": outcomes,
            "escape_rate": ratio(escaped, calls - short),
            "filter": _filter(f),
        }

    # --- abandonment -------------------------------------------------------------
    def abandonment(self, f: Window) -> dict[str, Any]:
        with self._reading("abandonment", f) as (source, c):
            counted = c.c.outcome != "short_abandon"
            gave_up = c.c.outcome.in_(ABANDONED)
            in_queue = c.c.outcome == "abandoned_queue"
            # One pass for the overall, hourly, daily and per-version figures.
            cells = source.connection.execute(
                select(
                    c.c.hour,
                    c.c.weekday,
                    c.c.flow_id,
                    c.c.flow_version,
                    func.min(c.c.first_started_ms),
                    _total(c.c.calls),
                    _total_if(gave_up, c.c.calls),
                )
                .where(counted)
                .group_by(c.c.hour, c.c.weekday, c.c.flow_id, c.c.flow_version)
            ).all()
            nodes = _node_figures(source.connection, c, [counted])
            by_queue = source.connection.execute(
                select(
                    c.c.queue,
                    _total(c.c.calls),
                    _total_if(in_queue, c.c.calls),
                    _total(c.c.wait_sum_ms),
                    _total(c.c.waits),
                    _total_if(in_queue, c.c.wait_sum_ms),
                    _total_if(in_queue, c.c.waits),
                )
                .where(counted, c.c.queue.is_not(None))
                .group_by(c.c.queue)
                .order_by(c.c.queue)
            ).all()
        calls = abandoned = 0
        hours: dict[int, tuple[int, int]] = {}
        weekdays: dict[int, tuple[int, int]] = {}
        per_version: dict[tuple[str, str], tuple[int, int, int]] = {}
        for hour, weekday, flow, version, first, n, lost in cells:
            n, lost = int(n), int(lost)
            calls, abandoned = calls + n, abandoned + lost
            for table, key in ((hours, int(hour)), (weekdays, int(weekday))):
                had = table.get(key, (0, 0))
                table[key] = (had[0] + n, had[1] + lost)
            seen = per_version.get((flow, version), (int(first), 0, 0))
            per_version[(flow, version)] = (min(seen[0], int(first)), seen[1] + n, seen[2] + lost)
        versions = sorted(
            ((flow, version, *figures) for (flow, version), figures in per_version.items()),
            key=lambda row: (row[0], row[2], row[1]),
        )
        return {
            "overall": {"calls": calls, "abandoned": abandoned, "rate": ratio(abandoned, calls)},
            "by_node": [
                {
                    "node": node,
                    "calls": n.entered,
                    "abandoned": n.abandoned,
                    "rate": ratio(n.abandoned, n.entered),
                }
                for node, n in nodes.items()
            ],
            "by_queue": [
                {
                    "queue": q,
                    "calls": int(n),
                    "abandoned": int(a),
                    "rate": ratio(int(a), int(n)),
                    "mean_wait": _mean_s(w, wn),
                    "mean_abandoned_wait": _mean_s(aw, awn),
                }
                for q, n, a, w, wn, aw, awn in by_queue
            ],
            "by_hour": [{"hour": h, **_rate(*hours.get(h, (0, 0)))} for h in range(24)],
            "by_weekday": [
                {"weekday": name, **_rate(*weekdays.get(d, (0, 0)))}
                for d, name in enumerate(WEEKDAYS)
            ],
            "by_flow_version": [
                {
                    "flow": flow,
                    "version": version,
                    "first_call": iso(first),
                    "calls": n,
                    "abandoned": a,
                    "rate": ratio(a, n),
                }
                for flow, version, first, n, a in versions
            ],
            "escapes_by_node": [
                {
                    "node": node,
                    "calls": n.entered,
                    "escapes": n.escapes,
                    "rate": ratio(n.escapes, n.entered),
                    "via": dict(n.via),
                }
                for node, n in nodes.items()
                if n.escapes
            ],
        }

    # --- time to agent -------------------------------------------------------------
    def time_to_agent(self, f: Window) -> dict[str, Any]:
        with self._reading("time-to-agent", f) as (source, _):
            live_values = source.values("live_to_agent")
            back_values = source.values("callback_to_agent")
            live = stats(live_values)
            live["on_hold"] = _no_count(stats(source.values("live_on_hold")))
            callback = stats(back_values)
            callback["on_hold"] = _no_count(stats(source.values("callback_on_hold")))
        bin_ms = BIN_S * 1000
        live_bins = histogram(live_values, bin_ms, BINS)
        back_bins = histogram(back_values, bin_ms, BINS)
        return {
            "live": live,
            "callback": callback,
            "histogram": [
                {
                    "from": i * BIN_S,
                    "to": (i + 1) * BIN_S if i < BINS else None,
                    "live": live_bins.get(i, 0),
                    "callback": back_bins.get(i, 0),
                }
                for i in range(BINS + 1)
            ],
        }

    # --- callbacks -------------------------------------------------------------------
    def callbacks(self, f: Window) -> dict[str, Any]:
        with self._reading("callbacks", f) as (source, c):
            figures = (
                _total(c.c.offered),
                _total(c.c.requested),
                _total(c.c.accepted),
                _total_if(c.c.outcome == "callback_completed", c.c.calls),
                _total_if(c.c.outcome == "callback_failed", c.c.calls),
                _total_if(c.c.outcome == "callback_requested", c.c.calls),
            )
            total = source.connection.execute(select(*figures)).one()
            by_queue = source.connection.execute(
                select(c.c.queue, *figures[:2], *figures[3:5])
                .where(c.c.queue.is_not(None))
                .group_by(c.c.queue)
                .order_by(c.c.queue)
            ).all()
            waited = stats(source.values("time_to_callback"))
        offered, requested, accepted, completed, failed, pending = (int(v) for v in total)
        return {
            "offered": offered,
            "requested": requested,
            "accepted": accepted,
            "accepted_rate": ratio(accepted, offered),
            "completed": completed,
            "failed": failed,
            "pending": pending,
            "time_to_callback": _no_count(waited),
            "by_queue": [
                {
                    "queue": q,
                    "offered": int(o),
                    "requested": int(r),
                    "completed": int(done),
                    "failed": int(x),
                }
                for q, o, r, done, x in by_queue
                if int(o) or int(r)
            ],
        }

    # --- funnel ------------------------------------------------------------------------
    def funnel(self, f: Window) -> dict[str, Any]:
        with self._reading("funnel", f) as (source, c):
            flow = f.flow
            if flow is None:
                flow = source.connection.execute(
                    select(c.c.flow_id)
                    .group_by(c.c.flow_id)
                    .order_by(_total(c.c.calls).desc(), c.c.flow_id)
                    .limit(1)
                ).scalar()
            counted = [c.c.outcome != "short_abandon", c.c.flow_id == flow]
            nodes = _node_figures(source.connection, c, counted)
        return {
            "flow": flow,
            "nodes": [
                {
                    "node": node,
                    "entered": n.entered,
                    "abandoned": n.abandoned,
                    "escaped": n.escapes,
                    "next": dict(n.next),
                }
                for node, n in nodes.items()
            ],
        }

    def flows(self) -> list[str]:
        """Every flow with a call, in progress or over."""
        with self._connection("flows") as connection:
            return names_in_use(connection, "flow_id")

    def queues(self) -> list[str]:
        """Every queue a call waited in or asked a callback from."""
        with self._connection("queues") as connection:
            return names_in_use(connection, "queue")


class _Node:
    def __init__(self) -> None:
        self.entered = self.abandoned = self.escapes = 0
        self.via: Counter[str] = Counter(dict.fromkeys(ESCAPE_VIAS, 0))
        self.next: Counter[str] = Counter()


def _node_figures(
    connection: Connection, c: Subquery, where: Sequence[ColumnElement[bool]]
) -> dict[str, _Node]:
    """Per node: calls that entered it, abandoned in the menus there, escaped from it, and
    where they went next. Calls are grouped by path first: few groups however many calls."""
    keys = (c.c.path, c.c.outcome, c.c.last_node, c.c.escape_node, c.c.escape_via)
    groups = connection.execute(
        select(*keys, _total(c.c.calls)).where(*where).group_by(*keys)
    ).all()
    nodes: dict[str, _Node] = defaultdict(_Node)
    for path, outcome, last, escape_node, via, count in groups:
        n = int(count)
        visited = path.split(PATH_SEPARATOR) if path else []
        for node in dict.fromkeys(visited):
            nodes[node].entered += n
        for step in dict.fromkeys(pairwise(visited)):
            nodes[step[0]].next[step[1]] += n
        if outcome == "abandoned_ivr" and last:
            nodes[last].abandoned += n
        if escape_node:
            nodes[escape_node].escapes += n
            nodes[escape_node].via[via or "error"] += n
            nodes[escape_node].entered = max(nodes[escape_node].entered, nodes[escape_node].escapes)
    return dict(sorted(nodes.items(), key=lambda item: (-item[1].entered, item[0])))


def _mean_s(total_ms: Any, count: Any) -> float | None:
    return None if not int(count) else seconds(int(total_ms) / int(count))


def _rate(calls: int, abandoned: int) -> dict[str, Any]:
    return {"calls": calls, "abandoned": abandoned, "rate": ratio(abandoned, calls)}


def _no_count(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "count"}


def _filter(f: Window) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else iso(epoch_ms(value))

    return {"since": moment(f.since), "until": moment(f.until), "flow": f.flow, "queue": f.queue}
