"""receivers: heartbeats, DQM agents and DQM uploads

Revision ID: 0002_receivers
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import overwatch.storage.models

revision = "0002_receivers"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None

UTC = overwatch.storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "receiver_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", UTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTC(timezone=True), nullable=False),
        sa.Column("last_file", sa.String(length=256), nullable=True),
        sa.Column("last_file_at", UTC(timezone=True), nullable=True),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_refusal_reason", sa.Text(), nullable=True),
        sa.Column("last_refusal_at", UTC(timezone=True), nullable=True),
        sa.Column("silence_reported_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_heartbeats")),
        sa.UniqueConstraint("name", name=op.f("uq_receiver_heartbeats_name")),
    )
    op.create_table(
        "dqm_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("allowed_names", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dqm_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_dqm_agents_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dqm_agents_token_hash")),
    )
    op.create_table(
        "dqm_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=256), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dqm_uploads")),
        sa.UniqueConstraint("agent", "run_number", "sha256", name=op.f("uq_dqm_uploads_agent")),
        sa.UniqueConstraint("file_name", name=op.f("uq_dqm_uploads_file_name")),
    )
    with op.batch_alter_table("dqm_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dqm_uploads_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dqm_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dqm_uploads_received_at"))
    op.drop_table("dqm_uploads")
    op.drop_table("dqm_agents")
    op.drop_table("receiver_heartbeats")
