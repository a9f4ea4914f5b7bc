"""auth: server-side login sessions, token expiry and revocation, no per-user lockout

Revision ID: 0002_auth
Revises: 0001
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

import overwatch.storage.models

revision = "0002_auth"
down_revision = "0002_receivers"
branch_labels = None
depends_on = None

_TIME = overwatch.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_user_sessions_key_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", _TIME, nullable=True))
        batch_op.add_column(sa.Column("revoked_at", _TIME, nullable=True))
    # Login throttling moved to Flask-Limiter (per address and per account, see docs/webapp.md).
    # A plain ALTER TABLE ... DROP COLUMN, never batch mode: on SQLite batch mode copies
    # the table and drops the old one, and with foreign keys on, dropping "users" would
    # cascade-delete every token and session.
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} cannot drop columns; Overwatch needs SQLite 3.35 or newer"
        )
    op.drop_column("users", "last_failed_login")
    op.drop_column("users", "failed_logins")


def downgrade() -> None:
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("last_failed_login", _TIME, nullable=True))
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
