"""group layout: a histogram group's page layout hint and grid columns

Revision ID: 0003_group_layout
Revises: 0002_receivers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_group_layout"
down_revision = "0002_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("histogram_groups") as batch:
        batch.add_column(
            sa.Column("layout", sa.String(length=32), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("columns", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("histogram_groups") as batch:
        batch.drop_column("columns")
        batch.drop_column("layout")
