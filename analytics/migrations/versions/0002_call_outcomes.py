"""Per-call summaries (outcomes) and the analysts' SQL views.

Revision ID: 0002_call_outcomes
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_call_outcomes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Closed calls that count in rates: short abandons are left out (SPEC §5).
_COUNTED = "ended_at_ms IS NOT NULL AND outcome <> 'short_abandon'"
_ABANDONED = "outcome IN ('abandoned_ivr', 'abandoned_queue')"


def _moment(column: str) -> str:
    """An epoch-ms column as a UTC timestamp analysts' tools understand."""
    if op.get_bind().dialect.name == "postgresql":
        return f"(to_timestamp({column} / 1000.0) AT TIME ZONE 'UTC')"
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column} / 1000.0, 'unixepoch')"


def _seconds(column: str) -> str:
    return f"({column} / 1000.0)"


def _views() -> dict[str, str]:
    rate = f"1.0 * SUM(CASE WHEN {_ABANDONED} THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0)"
    abandoned = f"SUM(CASE WHEN {_ABANDONED} THEN 1 ELSE 0 END)"
    return {
        "call_outcomes": f"""
            SELECT call_sid, flow_id, flow_version, outcome,
                   {_moment("started_at_ms")} AS started_at,
                   {_moment("ended_at_ms")} AS ended_at,
                   ended_at_ms IS NULL AS in_progress, ended_by, end_status,
                   hour, weekday, {_seconds("duration_ms")} AS duration_s,
                   path, last_node, queue, {_seconds("wait_ms")} AS wait_s,
                   {_seconds("time_to_agent_ms")} AS time_to_agent_s, agent,
                   escaped, escape_node, escape_via,
                   callback_offered, callback_accepted,
                   {_moment("callback_requested_at_ms")} AS callback_requested_at,
                   {_seconds("callback_to_agent_ms")} AS callback_to_agent_s,
                   {_seconds("time_to_callback_ms")} AS time_to_callback_s,
                   {_seconds("on_hold_ms")} AS on_hold_s, callback_call_sid
            FROM call_summaries""",
        "abandonment_by_node": f"""
            SELECT flow_id, last_node AS node, COUNT(*) AS calls_ending_here,
                   SUM(CASE WHEN outcome = 'abandoned_ivr' THEN 1 ELSE 0 END) AS abandoned
            FROM call_summaries WHERE {_COUNTED} GROUP BY flow_id, last_node""",
        "abandonment_by_queue": f"""
            SELECT queue, COUNT(*) AS calls,
                   SUM(CASE WHEN outcome = 'abandoned_queue' THEN 1 ELSE 0 END) AS abandoned,
                   1.0 * SUM(CASE WHEN outcome = 'abandoned_queue' THEN 1 ELSE 0 END)
                       / NULLIF(COUNT(*), 0) AS rate,
                   AVG(wait_ms) / 1000.0 AS mean_wait_s
            FROM call_summaries WHERE {_COUNTED} AND queue IS NOT NULL GROUP BY queue""",
        "abandonment_by_hour": f"""
            SELECT hour, COUNT(*) AS calls, {abandoned} AS abandoned, {rate} AS rate
            FROM call_summaries WHERE {_COUNTED} GROUP BY hour""",
        "abandonment_by_weekday": f"""
            SELECT weekday, COUNT(*) AS calls, {abandoned} AS abandoned, {rate} AS rate
            FROM call_summaries WHERE {_COUNTED} GROUP BY weekday""",
        "abandonment_by_flow_version": f"""
            SELECT flow_id, flow_version, {_moment("MIN(started_at_ms)")} AS first_call,
                   COUNT(*) AS calls, {abandoned} AS abandoned, {rate} AS rate
            FROM call_summaries WHERE {_COUNTED} GROUP BY flow_id, flow_version""",
        "time_to_agent": f"""
            SELECT call_sid, flow_id, queue, {_moment("started_at_ms")} AS started_at,
                   'live' AS kind, {_seconds("time_to_agent_ms")} AS seconds,
                   {_seconds("wait_ms")} AS on_hold_s
            FROM call_summaries WHERE ended_at_ms IS NOT NULL AND time_to_agent_ms IS NOT NULL
            UNION ALL
            SELECT call_sid, flow_id, queue, {_moment("started_at_ms")} AS started_at,
                   'callback' AS kind, {_seconds("callback_to_agent_ms")} AS seconds,
                   {_seconds("on_hold_ms")} AS on_hold_s
            FROM call_summaries
            WHERE ended_at_ms IS NOT NULL AND callback_to_agent_ms IS NOT NULL""",
        "escapes_by_node": f"""
            SELECT flow_id, escape_node AS node, escape_via AS via, COUNT(*) AS escapes
            FROM call_summaries WHERE {_COUNTED} AND escaped GROUP BY flow_id, escape_node,
            escape_via""",
        "callbacks_by_queue": f"""
            SELECT queue,
                   SUM(CASE WHEN callback_offered THEN 1 ELSE 0 END) AS offered,
                   SUM(CASE WHEN callback_requested_at_ms IS NOT NULL THEN 1 ELSE 0 END)
                       AS requested,
                   SUM(CASE WHEN outcome = 'callback_completed' THEN 1 ELSE 0 END) AS completed,
                   SUM(CASE WHEN outcome = 'callback_failed' THEN 1 ELSE 0 END) AS failed,
                   AVG(time_to_callback_ms) / 1000.0 AS mean_time_to_callback_s
            FROM call_summaries WHERE {_COUNTED} AND queue IS NOT NULL GROUP BY queue""",
    }


def upgrade() -> None:
    op.create_table(
        "call_summaries",
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(200), nullable=False),
        sa.Column("flow_version", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("last_event_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_by", sa.String(16), nullable=True),
        sa.Column("end_status", sa.String(32), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("last_node", sa.String(200), nullable=True),
        sa.Column("queue", sa.String(200), nullable=True),
        sa.Column("queued_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("wait_ms", sa.BigInteger(), nullable=True),
        sa.Column("agent_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("time_to_agent_ms", sa.BigInteger(), nullable=True),
        sa.Column("agent", sa.String(200), nullable=True),
        sa.Column("escaped", sa.Boolean(), nullable=False),
        sa.Column("escape_node", sa.String(200), nullable=True),
        sa.Column("escape_via", sa.String(16), nullable=True),
        sa.Column("callback_offered", sa.Boolean(), nullable=False),
        sa.Column("callback_accepted", sa.Boolean(), nullable=False),
        sa.Column("callback_requested_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("callback_connected_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("callback_to_agent_ms", sa.BigInteger(), nullable=True),
        sa.Column("time_to_callback_ms", sa.BigInteger(), nullable=True),
        sa.Column("on_hold_ms", sa.BigInteger(), nullable=True),
        sa.Column("callback_call_sid", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("call_sid", name="pk_call_summaries"),
    )
    op.create_index("ix_call_summaries_started_at_ms", "call_summaries", ["started_at_ms"])
    op.create_index(
        "ix_call_summaries_flow_id_started_at_ms", "call_summaries", ["flow_id", "started_at_ms"]
    )
    op.create_index(
        "ix_call_summaries_queue_started_at_ms", "call_summaries", ["queue", "started_at_ms"]
    )
    op.create_index(
        "ix_call_summaries_ended_at_ms_last_event_at_ms",
        "call_summaries",
        ["ended_at_ms", "last_event_at_ms"],
    )
    for name, query in _views().items():
        op.execute(f"CREATE VIEW {name} AS {query}")


def downgrade() -> None:
    for name in reversed(list(_views())):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("call_summaries")
