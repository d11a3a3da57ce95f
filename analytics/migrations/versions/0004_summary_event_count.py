"""How many events each call's summary was worked out from (see analytics.summaries).

Revision ID: 0004_summary_event_count
Revises: 0003_report_rollups
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_summary_event_count"
down_revision: str | None = "0003_report_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for the summaries already there: their calls' next events are read back once.
    op.add_column("call_summaries", sa.Column("event_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_summaries") as table:
        table.drop_column("event_count")
