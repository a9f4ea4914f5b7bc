"""Per-request database access for views: a short session, closed when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import abort
from flask import current_app
from sqlalchemy.orm import Session

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.queries import SubsystemSummary
from overwatch.storage.queries import get_subsystem

__all__ = ["get_db", "get_settings", "read_session", "subsystem_or_404", "write_session"]


def get_db() -> Database:
    database: Database = current_app.extensions["overwatch"].db
    return database


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["overwatch"].settings
    return settings


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reading; nothing is committed."""
    with get_db().new_session() as session:
        yield session


@contextmanager
def write_session() -> Iterator[Session]:
    """A session whose transaction commits at the end of the block (rolls back on error)."""
    with get_db().session() as session:
        yield session


def subsystem_or_404(run_number: int, subsystem: str) -> SubsystemSummary:
    """One run's subsystem, or a 404 naming what is missing."""
    with read_session() as session:
        sub = get_subsystem(session, run_number, subsystem)
    if sub is None:
        abort(404, f"run {run_number} has no subsystem {subsystem}")
    return sub
