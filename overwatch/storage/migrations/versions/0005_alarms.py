"""alarms: stored once and updated while active (last seen, count, cleared, histogram)

One active alarm (``cleared_at IS NULL``) per (rule, subsystem, target), enforced by a
partial unique index on SQLite and PostgreSQL. ``run_number`` becomes nullable: a
receiver's silence points at no run. ``alarm_streaks`` keeps how many results in a
row a check rule found its quality on a histogram.

Revision ID: 0005_alarms
Revises: 0004_references
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from overwatch.storage.models import UTCDateTime

revision = "0005_alarms"
down_revision = "0004_references"
branch_labels = None
depends_on = None

ACTIVE = sa.text("cleared_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("histogram", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("cleared_at", UTCDateTime(timezone=True), nullable=True))
        batch.alter_column("run_number", existing_type=sa.Integer(), nullable=True)
    # Alarms of the old schema were never updated: last seen when raised, and cleared
    # (they had no state), so the new uniqueness cannot trip over duplicates.
    op.execute("UPDATE alarms SET last_seen_at = raised_at, cleared_at = raised_at")
    with op.batch_alter_table("alarms") as batch:
        batch.alter_column(
            "last_seen_at", existing_type=UTCDateTime(timezone=True), nullable=False
        )
        batch.create_index(
            "uq_alarms_active_rule_subsystem_target",
            ["rule", "subsystem", "target"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )
        batch.create_index("ix_alarms_subsystem_cleared_at", ["subsystem", "cleared_at"])
    op.create_table(
        "alarm_streaks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("subsystem", sa.String(length=32), nullable=False),
        sa.Column("histogram", sa.String(length=512), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_streaks")),
        sa.UniqueConstraint("rule", "subsystem", "histogram", name=op.f("uq_alarm_streaks_rule")),
    )


def downgrade() -> None:
    op.drop_table("alarm_streaks")
    op.execute("DELETE FROM alarms WHERE run_number IS NULL")
    with op.batch_alter_table("alarms") as batch:
        batch.drop_index("ix_alarms_subsystem_cleared_at")
        batch.drop_index(
            "uq_alarms_active_rule_subsystem_target",
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )
        batch.alter_column("run_number", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("cleared_at")
        batch.drop_column("count")
        batch.drop_column("last_seen_at")
        batch.drop_column("histogram")
