"""The database tables, as SQLAlchemy 2 typed declarative models.

Times are UTC epoch milliseconds in BIGINT columns (`*_ms`): one unambiguous number on
SQLite and PostgreSQL alike. The schema itself is created by the Alembic migrations in
`analytics/migrations`; a test checks that they and these models agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT on PostgreSQL; INTEGER on SQLite, where only "INTEGER PRIMARY KEY" autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL so analysts can index and query details; JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

CALLBACK_STATUSES = ("pending", "claimed", "dialing", "completed", "failed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CallRecord(Base):
    """One row per call: who, which flow, and the latest state any worker can resume from."""

    __tablename__ = "calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[str] = mapped_column(String(100))
    caller: Mapped[str] = mapped_column(String(200))
    dialed: Mapped[str] = mapped_column(String(200))
    started_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[dict[str, Any]] = mapped_column(Json)
    ended_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(String(32))  # last Twilio CallStatus
    outcome: Mapped[str | None] = mapped_column(String(32))


class EventRecord(Base):
    """Append-only: one row per step of a call (SPEC §5). (call_sid, seq) is unique, so a
    retried webhook that emits the same events writes nothing twice."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("call_sid", "seq"),
        Index(None, "kind", "at_ms"),
        Index(None, "call_sid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    flow_id: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[str] = mapped_column(String(100))
    node: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(Json)


class CallbackRecord(Base):
    """A caller waiting to be called back. `place_at_ms` is when they joined the line, so
    the callback keeps their place; `not_before_ms` is the opening time when closed."""

    __tablename__ = "callbacks"
    __table_args__ = (Index(None, "queue", "status", "place_at_ms"), Index(None, "call_sid"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(200))
    requested_at_ms: Mapped[int] = mapped_column(BigInteger)
    # The request time of the booking whose number it holds (bookings of one call may be
    # written in any order: the latest asked wins). Empty for rows from before 0005.
    changed_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    place_at_ms: Mapped[int] = mapped_column(BigInteger)
    not_before_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    agent_id: Mapped[str | None] = mapped_column(String(200))
    claimed_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    finished_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# Core tables (typed `Table`) for the store's INSERT ... ON CONFLICT and conditional UPDATEs.
calls = Base.metadata.tables["calls"]
events = Base.metadata.tables["events"]
callbacks = Base.metadata.tables["callbacks"]


class CallSummaryRecord(Base):
    """One row per call, kept up to date as its events arrive (see analytics.summaries):
    reports read these rows, never the raw events. Spans are ms, moments epoch ms;
    `hour` (UTC, 0-23) and `weekday` (0 = Monday) are kept for grouping on any database."""

    __tablename__ = "call_summaries"
    __table_args__ = (
        Index(None, "started_at_ms"),
        Index(None, "flow_id", "started_at_ms"),
        Index(None, "queue", "started_at_ms"),
        Index(None, "ended_at_ms", "last_event_at_ms"),
    )

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))
    started_at_ms: Mapped[int] = mapped_column(BigInteger)
    hour: Mapped[int] = mapped_column(Integer)
    weekday: Mapped[int] = mapped_column(Integer)
    last_event_at_ms: Mapped[int] = mapped_column(BigInteger)
    ended_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    ended_by: Mapped[str | None] = mapped_column(String(16))  # status | timeout
    end_status: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)  # nodes entered, joined by " > "
    last_node: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(200))
    queued_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    wait_ms: Mapped[int | None] = mapped_column(BigInteger)
    agent_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    time_to_agent_ms: Mapped[int | None] = mapped_column(BigInteger)
    agent: Mapped[str | None] = mapped_column(String(200))
    escaped: Mapped[bool] = mapped_column(Boolean)
    escape_node: Mapped[str | None] = mapped_column(String(200))
    escape_via: Mapped[str | None] = mapped_column(String(16))
    callback_offered: Mapped[bool] = mapped_column(Boolean)
    callback_accepted: Mapped[bool] = mapped_column(Boolean)
    callback_requested_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    callback_connected_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    callback_to_agent_ms: Mapped[int | None] = mapped_column(BigInteger)
    time_to_callback_ms: Mapped[int | None] = mapped_column(BigInteger)
    on_hold_ms: Mapped[int | None] = mapped_column(BigInteger)
    callback_call_sid: Mapped[str | None] = mapped_column(String(64))
    # The events it was worked out from: equal to the process's cached count, the cache
    # holds them all (see analytics.summaries). Empty for summaries from before 0004.
    event_count: Mapped[int | None] = mapped_column(Integer)


call_summaries = Base.metadata.tables["call_summaries"]


class ReportCellRecord(Base):
    """Closed calls of one UTC day counted together: one row per day, hour and the
    call features reports group by, with counts and sums (see analytics.rollups). Reports
    read these for the days that are up to date, so they cost the same however many calls
    a day had."""

    __tablename__ = "report_cells"
    __table_args__ = (Index(None, "day_ms"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day_ms: Mapped[int] = mapped_column(BigInteger)
    hour: Mapped[int] = mapped_column(Integer)
    weekday: Mapped[int] = mapped_column(Integer)
    flow_id: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    last_node: Mapped[str | None] = mapped_column(String(200))
    escape_node: Mapped[str | None] = mapped_column(String(200))
    escape_via: Mapped[str | None] = mapped_column(String(16))
    calls: Mapped[int] = mapped_column(BigInteger)
    first_started_ms: Mapped[int] = mapped_column(BigInteger)
    escaped: Mapped[int] = mapped_column(BigInteger)
    offered: Mapped[int] = mapped_column(BigInteger)
    accepted: Mapped[int] = mapped_column(BigInteger)
    requested: Mapped[int] = mapped_column(BigInteger)
    waits: Mapped[int] = mapped_column(BigInteger)  # calls with a wait_ms
    wait_sum_ms: Mapped[int] = mapped_column(BigInteger)


class ReportValuesRecord(Base):
    """Every value of one measure (time to agent, time on hold, ...) of one day's closed
    calls of a flow and queue, sorted, as little-endian 64-bit milliseconds (see
    analytics.rollups.pack): percentiles stay exact without reading a row per call."""

    __tablename__ = "report_values"
    __table_args__ = (Index(None, "day_ms"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day_ms: Mapped[int] = mapped_column(BigInteger)
    flow_id: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(BigInteger)
    values_ms: Mapped[bytes] = mapped_column(LargeBinary)


class ReportDirtyDayRecord(Base):
    """A UTC day whose calls changed since its cells and values were built: reports read
    that day's calls from `call_summaries` until it is built again."""

    __tablename__ = "report_dirty_days"

    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


report_cells = Base.metadata.tables["report_cells"]
report_values = Base.metadata.tables["report_values"]
report_dirty_days = Base.metadata.tables["report_dirty_days"]
