"""Callbacks: when each number was asked for, and an index on the call.

Bookings of one call may be written in any order; the latest asked sets the number (see
analytics.callback_line.book). Each booking and the queue's result find the call's
callbacks by its CallSid, without reading every callback of the queue.

Revision ID: 0005_callback_changed_at
Revises: 0004_summary_event_count
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_callback_changed_at"
down_revision: str | None = "0004_summary_event_count"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for the callbacks already there: their request time stands in.
    op.add_column("callbacks", sa.Column("changed_at_ms", sa.BigInteger(), nullable=True))
    op.create_index("ix_callbacks_call_sid", "callbacks", ["call_sid"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_call_sid", "callbacks")
    with op.batch_alter_table("callbacks") as table:
        table.drop_column("changed_at_ms")
