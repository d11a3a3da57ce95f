"""The reports of SPEC §5 (shapes: REPORTS_CONTRACT / README "Reports and what they count").

`StoreReports` implements the `Reports` port of `webhooks.reports_api` on the per-call
summary table. Each report is a handful of GROUP BY queries; the per-node figures come from
grouping calls by their path through the menus (few distinct paths, however many calls),
expanded here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from analytics.errors import translated
from analytics.moments import epoch_ms
from analytics.report_sql import (
    Window,
    conditions,
    counted,
    histogram,
    iso,
    ratio,
    seconds,
    stats,
)
from analytics.store import Store
from analytics.summaries import PATH_SEPARATOR
from analytics.tables import call_summaries as cs
from ivr.outcomes import ABANDONED, CALLBACK_OUTCOMES, ESCAPE_VIAS, OUTCOMES

# A call with no status callback and no event for this long is over (Twilio ends calls
# after 4 hours at most).
OPEN_TIMEOUT = timedelta(hours=4)
BIN_S, BINS = 30, 20  # time-to-agent histogram: 30 s bins up to 10 minutes, then one more
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ABANDONED = cs.c.outcome.in_(ABANDONED)


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


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
    def _reading(self, report: str, f: Window | None) -> Iterator[tuple[Connection, list[Any]]]:
        timeout_ms = self.open_timeout // timedelta(milliseconds=1)
        where = conditions(f, epoch_ms(self.clock()), timeout_ms) if f is not None else []
        with (
            translated(f"read the {report} report", self.store.url),
            self.store.engine.connect() as connection,
            connection.begin(),
        ):
            yield connection, where

    # --- summary -----------------------------------------------------------------
    def summary(self, f: Window) -> dict[str, Any]:
        with self._reading("summary", f) as (connection, where):
            rows = connection.execute(
                select(
                    cs.c.outcome,
                    func.count(),
                    _sum(cs.c.escaped),
                    _sum(cs.c.callback_offered),
                )
                .where(*where)
                .group_by(cs.c.outcome)
            ).all()
            to_agent = stats(connection, cs.c.time_to_agent_ms, [*where, cs.c.outcome == "agent"])
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
        with self._reading("abandonment", f) as (connection, where):
            rated = counted(where)
            # One scan for the overall, hourly, daily and per-version figures.
            cells = connection.execute(
                select(
                    cs.c.hour,
                    cs.c.weekday,
                    cs.c.flow_id,
                    cs.c.flow_version,
                    func.min(cs.c.started_at_ms),
                    func.count(),
                    _sum(_ABANDONED),
                )
                .where(*rated)
                .group_by(cs.c.hour, cs.c.weekday, cs.c.flow_id, cs.c.flow_version)
            ).all()
            nodes = _node_figures(connection, rated)
            by_queue = connection.execute(
                select(
                    cs.c.queue,
                    func.count(),
                    _sum(cs.c.outcome == "abandoned_queue"),
                    func.avg(cs.c.wait_ms),
                    func.avg(case((cs.c.outcome == "abandoned_queue", cs.c.wait_ms))),
                )
                .where(*rated, cs.c.queue.is_not(None))
                .group_by(cs.c.queue)
                .order_by(cs.c.queue)
            ).all()
        calls = abandoned = 0
        hours: dict[int, tuple[int, int]] = {}
        weekdays: dict[int, tuple[int, int]] = {}
        per_version: dict[tuple[str, str], tuple[int, int, int]] = {}
        for hour, weekday, flow, version, first, n, gave_up in cells:
            n, gave_up = int(n), int(gave_up)
            calls, abandoned = calls + n, abandoned + gave_up
            for table, key in ((hours, int(hour)), (weekdays, int(weekday))):
                had = table.get(key, (0, 0))
                table[key] = (had[0] + n, had[1] + gave_up)
            seen = per_version.get((flow, version), (int(first), 0, 0))
            per_version[(flow, version)] = (
                min(seen[0], int(first)),
                seen[1] + n,
                seen[2] + gave_up,
            )
        versions = sorted(
            ((flow, version, *figures) for (flow, version), figures in per_version.items()),
            key=lambda row: (row[0], row[2], row[1]),
        )
        return {
            "overall": {
                "calls": calls,
                "abandoned": int(abandoned),
                "rate": ratio(abandoned, calls),
            },
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
                    "calls": n,
                    "abandoned": int(a),
                    "rate": ratio(a, n),
                    "mean_wait": seconds(w),
                    "mean_abandoned_wait": seconds(aw),
                }
                for q, n, a, w, aw in by_queue
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
                    "abandoned": int(a),
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
        with self._reading("time-to-agent", f) as (connection, where):
            agent = [*where, cs.c.outcome == "agent"]
            back = [*where, cs.c.outcome == "callback_completed"]
            live = stats(connection, cs.c.time_to_agent_ms, agent)
            live["on_hold"] = _no_count(stats(connection, cs.c.wait_ms, agent))
            callback = stats(connection, cs.c.callback_to_agent_ms, back)
            callback["on_hold"] = _no_count(stats(connection, cs.c.on_hold_ms, back))
            bin_ms = BIN_S * 1000
            live_bins = histogram(connection, cs.c.time_to_agent_ms, agent, bin_ms, BINS)
            back_bins = histogram(connection, cs.c.callback_to_agent_ms, back, bin_ms, BINS)
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
        with self._reading("callbacks", f) as (connection, where):
            figures = (
                _sum(cs.c.callback_offered),
                _sum(cs.c.callback_requested_at_ms.is_not(None)),
                _sum(cs.c.callback_accepted),
                _sum(cs.c.outcome == "callback_completed"),
                _sum(cs.c.outcome == "callback_failed"),
                _sum(cs.c.outcome == "callback_requested"),
            )
            total = connection.execute(select(*figures).where(*where)).one()
            by_queue = connection.execute(
                select(cs.c.queue, *figures[:2], *figures[3:5])
                .where(*where, cs.c.queue.is_not(None))
                .group_by(cs.c.queue)
                .order_by(cs.c.queue)
            ).all()
            waited = stats(
                connection, cs.c.time_to_callback_ms, [*where, cs.c.outcome == "callback_completed"]
            )
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
                    "completed": int(c),
                    "failed": int(x),
                }
                for q, o, r, c, x in by_queue
                if int(o) or int(r)
            ],
        }

    # --- funnel ------------------------------------------------------------------------
    def funnel(self, f: Window) -> dict[str, Any]:
        with self._reading("funnel", f) as (connection, where):
            flow = f.flow
            if flow is None:
                flow = connection.execute(
                    select(cs.c.flow_id)
                    .where(*where)
                    .group_by(cs.c.flow_id)
                    .order_by(func.count().desc(), cs.c.flow_id)
                    .limit(1)
                ).scalar()
            nodes = _node_figures(connection, [*counted(where), cs.c.flow_id == flow])
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
        with self._reading("flows", None) as (connection, _):
            return list(connection.scalars(select(cs.c.flow_id).distinct().order_by(cs.c.flow_id)))

    def queues(self) -> list[str]:
        with self._reading("queues", None) as (connection, _):
            named = select(cs.c.queue).where(cs.c.queue.is_not(None)).distinct()
            return list(connection.scalars(named.order_by(cs.c.queue)))


class _Node:
    def __init__(self) -> None:
        self.entered = self.abandoned = self.escapes = 0
        self.via: Counter[str] = Counter(dict.fromkeys(ESCAPE_VIAS, 0))
        self.next: Counter[str] = Counter()


def _node_figures(connection: Connection, where: Sequence[Any]) -> dict[str, _Node]:
    """Per node: calls that entered it, abandoned in the menus there, escaped from it, and
    where they went next. Calls are grouped by path first: few groups however many calls."""
    keys = (cs.c.path, cs.c.outcome, cs.c.last_node, cs.c.escape_node, cs.c.escape_via)
    groups = connection.execute(select(*keys, func.count()).where(*where).group_by(*keys)).all()
    nodes: dict[str, _Node] = defaultdict(_Node)
    for path, outcome, last, escape_node, via, n in groups:
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


def _rate(calls: int, abandoned: int) -> dict[str, Any]:
    return {"calls": calls, "abandoned": abandoned, "rate": ratio(abandoned, calls)}


def _no_count(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "count"}


def _filter(f: Window) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else iso(epoch_ms(value))

    return {"since": moment(f.since), "until": moment(f.until), "flow": f.flow, "queue": f.queue}
