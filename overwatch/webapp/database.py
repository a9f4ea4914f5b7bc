"""Per-request database access for views: a short session, closed when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy.orm import Session

from overwatch.config import Settings
from overwatch.storage import Database

__all__ = ["get_db", "get_settings", "read_session", "write_session"]


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
