"""Calls, events and callbacks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types of this revision (the models may move on).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(200), nullable=False),
        sa.Column("flow_version", sa.String(100), nullable=False),
        sa.Column("caller", sa.String(200), nullable=False),
        sa.Column("dialed", sa.String(200), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("ended_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("call_sid", name="pk_calls"),
    )
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("flow_id", sa.String(200), nullable=False),
        sa.Column("flow_version", sa.String(100), nullable=False),
        sa.Column("node", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("call_sid", "seq", name="uq_events_call_sid_seq"),
    )
    op.create_index("ix_events_kind_at_ms", "events", ["kind", "at_ms"])
    op.create_index("ix_events_call_sid", "events", ["call_sid"])
    op.create_table(
        "callbacks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("number", sa.String(200), nullable=False),
        sa.Column("requested_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("place_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("not_before_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=True),
        sa.Column("claimed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("finished_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index(
        "ix_callbacks_queue_status_place_at_ms", "callbacks", ["queue", "status", "place_at_ms"]
    )


def downgrade() -> None:
    op.drop_table("callbacks")
    op.drop_table("events")
    op.drop_table("calls")
