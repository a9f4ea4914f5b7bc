"""trending: the figure a check judged, and one trend value per trend and processing

Revision ID: 0006_trending
Revises: 0005_notifications
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_trending"
down_revision = "0005_notifications"
branch_labels = None
depends_on = None

_UNIQUE = "uq_trend_values_subsystem_name_run_number_time"


def upgrade() -> None:
    op.add_column("check_results", sa.Column("value", sa.Float(), nullable=True))
    # Nothing wrote trend values before this revision; should a site have, keep the newest
    # row of each key so that the unique index can be built.
    op.execute(
        "DELETE FROM trend_values WHERE id NOT IN "
        "(SELECT max(id) FROM trend_values GROUP BY subsystem, name, run_number, time)"
    )
    op.create_index(
        _UNIQUE, "trend_values", ["subsystem", "name", "run_number", "time"], unique=True
    )


def downgrade() -> None:
    op.drop_index(_UNIQUE, table_name="trend_values")
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("value")
