"""Reports for the dashboard's browser tests, built from a small hand-written set of calls.

`HandWrittenReports` implements the `Reports` port from a dozen calls written out below,
so the figures the page shows can be worked out by hand (the real router serves them).
`tests/test_reports.py` checks the real analytics reports against hand-built histories, and
the last browser test draws them from calls run through the webhooks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any

from webhooks.reports_api import ReportFilter

OUTCOMES = (
    "agent",
    "callback_requested",
    "callback_completed",
    "callback_failed",
    "voicemail",
    "self_service",
    "abandoned_ivr",
    "abandoned_queue",
    "short_abandon",
    "error",
)
ABANDONED = ("abandoned_ivr", "abandoned_queue")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ESCAPE_VIAS = ("digit", "speech", "failures", "error", "fallback")


@dataclass(frozen=True)
class Call:
    flow: str
    version: str
    start: str  # UTC, ISO
    path: str  # nodes entered, in order, space-separated
    outcome: str
    queue: str | None = None
    to_agent: float | None = None  # seconds until a person was on the line
    escape: str | None = None  # how the caller asked for a person at the last node
    offered: bool = False  # a callback was offered
    wait: float | None = None  # seconds in the queue until a person, a callback or hanging up

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.start).replace(tzinfo=UTC)

    @property
    def nodes(self) -> list[str]:
        return self.path.split()


A1, A2, D1 = "a1b2c3d4e5", "e5f6a7b8c9", "0d0d0d0d0d"
ACME_MENU = "greeting office_hours main_menu"
ACME_BILLING = f"{ACME_MENU} account billing_queue"
# fmt: off
CALLS = [
    Call("acme-support", A1, "2026-12-01T09:05", ACME_BILLING, "agent", "billing", 45, wait=20),
    Call("acme-support", A1, "2026-12-01T09:40", ACME_MENU, "abandoned_ivr"),
    Call("acme-support", A1, "2026-12-01T10:15", ACME_MENU, "agent", "support", 130, "digit",
         wait=60),
    Call("acme-support", A1, "2026-12-01T14:02", "greeting", "short_abandon"),
    Call("acme-support", A1, "2026-12-02T14:30", ACME_BILLING, "abandoned_queue", "billing",
         wait=75),
    Call("acme-support", A2, "2026-12-03T09:10", f"{ACME_MENU} outage_info outage_done",
         "self_service"),
    Call("acme-support", A2, "2026-12-03T09:50", ACME_MENU, "callback_completed", "support",
         900, "speech", offered=True, wait=35),
    Call("acme-support", A2, "2026-12-03T20:45", "greeting office_hours after_hours",
         "callback_failed", "support", offered=True),
    Call("acme-support", A2, "2026-12-04T11:00", ACME_BILLING, "agent", "billing", 320,
         offered=True, wait=250),
    Call("acme-support", A2, "2026-12-04T11:20", ACME_MENU, "agent", "support", 20, "failures",
         wait=5),
    Call("dental-clinic", D1, "2026-12-02T08:30", "greeting main_menu", "abandoned_ivr"),
    Call("dental-clinic", D1, "2026-12-04T16:00", "greeting main_menu emergency", "agent",
         None, 15),
]
# fmt: on
CALLBACK_OUTCOMES = ("callback_requested", "callback_completed", "callback_failed")


def stats(values: Iterable[float]) -> dict[str, float | None]:
    """p50/p90/p99 (linear between closest ranks) and mean; nulls when there is nothing."""
    xs = sorted(values)
    if not xs:
        return {"p50": None, "p90": None, "p99": None, "mean": None}

    def at(q: float) -> float:
        k = (len(xs) - 1) * q
        low = int(k)
        high = min(low + 1, len(xs) - 1)
        return xs[low] + (xs[high] - xs[low]) * (k - low)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "mean": sum(xs) / len(xs)}


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def abandon_row(calls: list[Call]) -> dict[str, Any]:
    counted = [c for c in calls if c.outcome != "short_abandon"]
    abandoned = sum(c.outcome in ABANDONED for c in counted)
    return {"calls": len(counted), "abandoned": abandoned, "rate": rate(abandoned, len(counted))}


def grouped(calls: list[Call], key: Callable[[Call], Any]) -> dict[Any, list[Call]]:
    groups: dict[Any, list[Call]] = {}
    for call in calls:
        groups.setdefault(key(call), []).append(call)
    return groups


class HandWrittenReports:
    """The `Reports` port over `CALLS`; records every filter it was asked for."""

    def __init__(self, calls: list[Call] | None = None) -> None:
        self.calls = CALLS if calls is None else calls
        self.asked: list[ReportFilter] = []

    def select(self, f: ReportFilter) -> list[Call]:
        self.asked.append(f)
        return [
            c
            for c in self.calls
            if (f.since is None or c.started >= f.since)
            and (f.until is None or c.started < f.until)
            and (f.flow is None or c.flow == f.flow)
            and (f.queue is None or c.queue == f.queue)
        ]

    def summary(self, f: ReportFilter) -> dict[str, Any]:
        calls = self.select(f)
        outcomes = Counter(c.outcome for c in calls)
        counted = [c for c in calls if c.outcome != "short_abandon"]
        live = [c.to_agent for c in calls if c.outcome == "agent" and c.to_agent is not None]
        return {
            "calls": len(calls),
            "short_abandons": outcomes["short_abandon"],
            "abandoned": sum(outcomes[o] for o in ABANDONED),
            "abandonment_rate": abandon_row(calls)["rate"],
            "reached_agent": outcomes["agent"],
            "time_to_agent": stats(live),
            "callbacks": self._callback_counts(calls),
            "outcomes": {o: outcomes[o] for o in OUTCOMES},
            "escape_rate": rate(sum(c.escape is not None for c in counted), len(counted)),
            "filter": {k: _text(v) for k, v in vars(f).items()},
        }

    def abandonment(self, f: ReportFilter) -> dict[str, Any]:
        calls = [c for c in self.select(f) if c.outcome != "short_abandon"]
        nodes = sorted({n for c in calls for n in c.nodes})
        by_hour = grouped(calls, lambda c: c.started.hour)
        by_day = grouped(calls, lambda c: c.started.weekday())
        versions = grouped(calls, lambda c: (c.flow, c.version))
        queues = grouped([c for c in calls if c.queue], lambda c: c.queue)
        return {
            "overall": abandon_row(calls),
            "by_node": [self._node_row(calls, n) for n in nodes],
            "by_queue": [
                {
                    "queue": q,
                    **abandon_row(cs),
                    "mean_wait": stats(c.wait for c in cs if c.wait is not None)["mean"],
                    "mean_abandoned_wait": stats(
                        c.wait for c in cs if c.wait is not None and c.outcome == "abandoned_queue"
                    )["mean"],
                }
                for q, cs in sorted(queues.items())
            ],
            "by_hour": [{"hour": h, **abandon_row(by_hour.get(h, []))} for h in range(24)],
            "by_weekday": [
                {"weekday": WEEKDAYS[d], **abandon_row(by_day.get(d, []))} for d in range(7)
            ],
            "by_flow_version": [
                {
                    "flow": flow,
                    "version": version,
                    "first_call": _text(min(c.started for c in cs)),
                    **abandon_row(cs),
                }
                for (flow, version), cs in versions.items()
            ],
            "escapes_by_node": [
                row for row in (self._escape_row(calls, n) for n in nodes) if row["escapes"]
            ],
        }

    def time_to_agent(self, f: ReportFilter) -> dict[str, Any]:
        calls = self.select(f)
        live = [c.to_agent for c in calls if c.outcome == "agent" and c.to_agent is not None]
        back = [c for c in calls if c.outcome == "callback_completed" and c.to_agent is not None]
        edges = [*range(0, 601, 30), None]
        histogram = []
        for low, high in pairwise(edges):
            assert low is not None

            def inside(x: float, low: int = low, high: int | None = high) -> bool:
                return low <= x and (high is None or x < high)

            histogram.append(
                {
                    "from": low,
                    "to": high,
                    "live": sum(inside(x) for x in live),
                    "callback": sum(c.to_agent is not None and inside(c.to_agent) for c in back),
                }
            )
        held = [c.wait for c in calls if c.outcome == "agent" and c.wait is not None]
        return {
            "live": {"count": len(live), **stats(live), "on_hold": stats(held)},
            "callback": {
                "count": len(back),
                **stats(c.to_agent for c in back if c.to_agent is not None),
                "on_hold": stats(c.wait or 0 for c in back),
            },
            "histogram": histogram,
        }

    def callbacks(self, f: ReportFilter) -> dict[str, Any]:
        calls = self.select(f)
        counts = self._callback_counts(calls)
        asked = [c for c in calls if c.queue and (c.offered or c.outcome in CALLBACK_OUTCOMES)]
        queues = grouped(asked, lambda c: c.queue)
        done = [c.to_agent for c in calls if c.outcome == "callback_completed" and c.to_agent]
        return {
            **counts,
            "accepted_rate": rate(counts["requested"], counts["offered"]),
            "pending": sum(c.outcome == "callback_requested" for c in calls),
            "time_to_callback": stats(done),
            "by_queue": [
                {"queue": q, **self._callback_counts(cs)} for q, cs in sorted(queues.items())
            ],
        }

    def funnel(self, f: ReportFilter) -> dict[str, Any]:
        calls = self.select(f)
        busiest = Counter(c.flow for c in calls).most_common(1)
        flow = f.flow or (busiest[0][0] if busiest else None)
        calls = [c for c in calls if c.flow == flow]
        nodes = list(dict.fromkeys(n for c in calls for n in c.nodes))
        rows = []
        for node in nodes:
            inside = [c for c in calls if node in c.nodes]
            nexts = Counter(b for c in calls for a, b in pairwise(c.nodes) if a == node)
            rows.append(
                {
                    "node": node,
                    "entered": len(inside),
                    "abandoned": sum(_abandoned_at(c, node) for c in inside),
                    "escaped": sum(c.escape is not None and c.nodes[-1] == node for c in inside),
                    "next": dict(nexts),
                }
            )
        return {"flow": flow, "nodes": rows}

    def flows(self) -> list[str]:
        return sorted({c.flow for c in self.calls})

    def queues(self) -> list[str]:
        return sorted({c.queue for c in self.calls if c.queue})

    @staticmethod
    def _callback_counts(calls: list[Call]) -> dict[str, int]:
        return {
            "offered": sum(c.offered for c in calls),
            "requested": sum(c.outcome in CALLBACK_OUTCOMES for c in calls),
            "completed": sum(c.outcome == "callback_completed" for c in calls),
            "failed": sum(c.outcome == "callback_failed" for c in calls),
        }

    @staticmethod
    def _escape_row(calls: list[Call], node: str) -> dict[str, Any]:
        inside = [c for c in calls if node in c.nodes]
        escaped = [c for c in inside if c.escape is not None and c.nodes[-1] == node]
        via = Counter(c.escape for c in escaped)
        return {
            "node": node,
            "calls": len(inside),
            "escapes": len(escaped),
            "rate": rate(len(escaped), len(inside)),
            "via": {how: via[how] for how in ESCAPE_VIAS},
        }

    @staticmethod
    def _node_row(calls: list[Call], node: str) -> dict[str, Any]:
        inside = [c for c in calls if node in c.nodes]
        abandoned = sum(_abandoned_at(c, node) for c in inside)
        return {
            "node": node,
            "calls": len(inside),
            "abandoned": abandoned,
            "rate": rate(abandoned, len(inside)),
        }


def _abandoned_at(call: Call, node: str) -> bool:
    return call.outcome == "abandoned_ivr" and call.nodes[-1] == node


def _text(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _moment(text: str | None) -> datetime | None:
    """`2026-12-01` (midnight UTC) or an ISO datetime, as the real API reads them."""
    if not text:
        return None
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
