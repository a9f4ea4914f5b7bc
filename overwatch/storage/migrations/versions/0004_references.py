"""references: the reference run of a subsystem, for all runs or a range of runs

Revision ID: 0004_references
Revises: 0003_group_layout
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from overwatch.storage.models import UTCDateTime

revision = "0004_references"
down_revision = "0003_group_layout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subsystem", sa.String(length=32), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("run_min", sa.Integer(), nullable=True),
        sa.Column("run_max", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_references")),
    )
    op.create_index("ix_references_subsystem", "references", ["subsystem"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_references_subsystem", table_name="references")
    op.drop_table("references")
