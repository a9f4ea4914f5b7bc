"""Figures for monitoring: the oldest queued job and the database's size.

Each is one cheap statement, fit to run at every Prometheus scrape: the queue
question reads the queued jobs only (few, and indexed by state), the size comes
from the database's own bookkeeping, never from counting rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from overwatch.storage.models import Job

__all__ = ["COUNTED_STATES", "database_bytes", "job_counts", "oldest_queued_at"]

#: Job states counted at every scrape: all but ``done``, the whole history, which would
#: make each scrape slower as the years pass (finished jobs are counted as they finish,
#: by the processing daemons' own metrics).
COUNTED_STATES = ("queued", "running", "failed", "superseded")


def job_counts(session: Session) -> dict[str, int]:
    """Jobs in each of :data:`COUNTED_STATES`, from the index on state (a range per state)."""
    rows = session.execute(
        select(Job.state, func.count()).where(Job.state.in_(COUNTED_STATES)).group_by(Job.state)
    ).all()
    counts = dict.fromkeys(COUNTED_STATES, 0)
    counts.update({state: int(count) for state, count in rows})
    return counts


def oldest_queued_at(session: Session) -> datetime | None:
    """When the job that has waited longest was queued; None when nothing waits."""
    return session.scalar(select(func.min(Job.created_at)).where(Job.state == "queued"))


def database_bytes(session: Session) -> int:
    """The size of the database: PostgreSQL's ``pg_database_size``, SQLite's pages in use."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    pages = int(session.scalar(text("PRAGMA page_count")) or 0)
    size = int(session.scalar(text("PRAGMA page_size")) or 0)
    return pages * size
