"""The reports port: what the JSON API and the dashboard read (see the reports contract)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


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
