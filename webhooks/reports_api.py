"""The reports over HTTP: `GET /api/reports/{name}`, `GET /api/flows` and `GET /api/queues`
(REPORTS_CONTRACT).

The figures come from a `Reports` implementation injected into `create_app` (the CLI plugs
in `analytics.reports.StoreReports`); this module only parses filters and serves JSON or CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal, Protocol

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from ivr.report_rows import to_csv


@dataclass(frozen=True)
class ReportFilter:
    since: datetime | None = None  # inclusive, call start time
    until: datetime | None = None  # exclusive
    flow: str | None = None  # flow id
    queue: str | None = None  # queue name


class Reports(Protocol):
    def summary(self, f: ReportFilter) -> dict[str, Any]: ...
    def abandonment(self, f: ReportFilter) -> dict[str, Any]: ...
    def time_to_agent(self, f: ReportFilter) -> dict[str, Any]: ...
    def callbacks(self, f: ReportFilter) -> dict[str, Any]: ...
    def funnel(self, f: ReportFilter) -> dict[str, Any]: ...
    def flows(self) -> list[str]: ...  # flow ids present, for the dashboard's filter
    def queues(self) -> list[str]: ...  # queue names present, for the dashboard's filter


def parse_moment(text: str | None, name: str) -> datetime | None:
    """An ISO date (midnight UTC) or datetime (UTC when no offset is given)."""
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name} '{text}' is not a date or time; use ISO 8601 like 2026-12-01 or "
            "2026-12-01T08:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def report_filter(
    since: str | None, until: str | None, flow: str | None, queue: str | None
) -> ReportFilter:
    return ReportFilter(
        parse_moment(since, "since"), parse_moment(until, "until"), flow or None, queue or None
    )


DESCRIPTIONS = {
    "summary": "Calls, outcomes, abandonment rate, time to agent, callbacks, escape rate.",
    "abandonment": "Abandonment overall, by node, queue, hour (UTC), weekday and flow "
    "version; escapes by node and how.",
    "time-to-agent": "Time until a person is on the line: live and by callback, with time on "
    "hold, percentiles (nearest rank) and a 30 s histogram.",
    "callbacks": "Callbacks offered, requested, completed, failed, pending; time to callback.",
    "funnel": "Where callers go and drop through the menu tree of one flow.",
}


def reports_router(reports: Reports) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["reports"])
    methods: dict[str, Callable[[ReportFilter], dict[str, Any]]] = {
        "summary": reports.summary,
        "abandonment": reports.abandonment,
        "time-to-agent": reports.time_to_agent,
        "callbacks": reports.callbacks,
        "funnel": reports.funnel,
    }

    def add(name: str, method: Callable[[ReportFilter], dict[str, Any]]) -> None:
        def endpoint(
            since: str | None = Query(
                None, description="calls started at or after (ISO date or time, UTC)"
            ),
            until: str | None = Query(
                None, description="calls started before (ISO date or time, UTC)"
            ),
            flow: str | None = Query(None, description="flow id"),
            queue: str | None = Query(None, description="queue name"),
            format: Literal["json", "csv"] = Query("json", description="json or csv"),
        ) -> Response:
            try:
                f = report_filter(since, until, flow, queue)
            except ValueError as err:
                raise HTTPException(422, str(err)) from err
            try:
                data = method(f)
            except Exception as err:  # the database is away: say so, as JSON
                raise HTTPException(503, f"could not compute the {name} report: {err}") from err
            if format == "csv":
                return Response(
                    to_csv(name, data),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{name}.csv"'},
                )
            return JSONResponse(data)

        router.add_api_route(
            f"/reports/{name}",
            endpoint,
            methods=["GET"],
            summary=f"{name} report",
            description=DESCRIPTIONS[name] + " Definitions: README, 'Reports and what they count'.",
            response_class=JSONResponse,
            responses={
                200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv"}
            },
            name=f"report_{name.replace('-', '_')}",
        )

    for name, method in methods.items():
        add(name, method)

    @router.get("/flows", summary="flow ids with calls", response_model=list[str])
    def flows() -> list[str]:
        """The ids of the flows that have calls (for a report's `flow` filter)."""
        return reports.flows()

    @router.get("/queues", summary="queue names with calls", response_model=list[str])
    def queues() -> list[str]:
        """The queues that calls waited in or asked a callback from (for a report's `queue`
        filter)."""
        return reports.queues()

    return router
