"""Storage: SQLAlchemy models, the database wrapper and query functions."""

from __future__ import annotations

from overwatch.storage.database import Database
from overwatch.storage.database import DatabaseError
from overwatch.storage.models import Base

__all__ = ["Base", "Database", "DatabaseError"]
