"""Report rollups: per-day cells and sorted values of closed calls, and the days to rebuild.

Revision ID: 0003_report_rollups
Revises: 0002_call_outcomes
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_report_rollups"
down_revision: str | None = "0002_call_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_cells",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(200), nullable=False),
        sa.Column("flow_version", sa.String(100), nullable=False),
        sa.Column("queue", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("last_node", sa.String(200), nullable=True),
        sa.Column("escape_node", sa.String(200), nullable=True),
        sa.Column("escape_via", sa.String(16), nullable=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("first_started_ms", sa.BigInteger(), nullable=False),
        sa.Column("escaped", sa.BigInteger(), nullable=False),
        sa.Column("offered", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("requested", sa.BigInteger(), nullable=False),
        sa.Column("waits", sa.BigInteger(), nullable=False),
        sa.Column("wait_sum_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_cells"),
    )
    op.create_index("ix_report_cells_day_ms", "report_cells", ["day_ms"])
    op.create_table(
        "report_values",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("flow_id", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(200), nullable=True),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("values_ms", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_values"),
    )
    op.create_index("ix_report_values_day_ms", "report_values", ["day_ms"])
    op.create_table(
        "report_dirty_days",
        sa.Column("day_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("day_ms", name="pk_report_dirty_days"),
    )
    # Days summarised before this revision have no cells yet: reports read their calls
    # directly until the sweeper (or `ivr db rollup`) builds them.
    op.execute(
        "INSERT INTO report_dirty_days (day_ms) SELECT DISTINCT "
        "started_at_ms - started_at_ms % 86400000 FROM call_summaries"
    )


def downgrade() -> None:
    op.drop_table("report_dirty_days")
    op.drop_table("report_values")
    op.drop_table("report_cells")
