"""jobs: live processing first, superseded jobs apart from failed ones

Data only, no schema change. Queued jobs take the new priorities (live
processing above user requests), and jobs that earlier versions marked failed
because the same work had been queued again become ``superseded``.

Revision ID: 0002_jobs
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002_jobs"
down_revision = "0001"
branch_labels = None
depends_on = None

# The marker earlier versions appended to the error of a superseded job.
OLD_MARKER = "%(superseded by a newer queued job)"


def upgrade() -> None:
    op.execute("UPDATE jobs SET priority = 10 WHERE state = 'queued' AND kind = 'process'")
    op.execute("UPDATE jobs SET priority = 0 WHERE state = 'queued' AND kind <> 'process'")
    op.execute(
        f"UPDATE jobs SET state = 'superseded' WHERE state = 'failed' AND error LIKE '{OLD_MARKER}'"
    )


def downgrade() -> None:
    op.execute("UPDATE jobs SET state = 'failed' WHERE state = 'superseded'")
    op.execute("UPDATE jobs SET priority = 0 WHERE state = 'queued' AND kind = 'process'")
    op.execute("UPDATE jobs SET priority = 10 WHERE state = 'queued' AND kind <> 'process'")
