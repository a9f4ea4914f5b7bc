"""Records of stored DQM uploads: what makes a repeated upload a duplicate.

A row is keyed by (agent, run number, SHA-256 of the content). The DQM endpoint
writes and fsyncs the file under no name first, then claims the key with ``INSERT …
ON CONFLICT DO NOTHING`` and keeps that short transaction open only while it links
the file under its name and syncs the directory, committing once the name is on
disk; so a row always means a stored file, two identical uploads in flight store
one file, and a crash before the commit leaves no row (the file, if published, is
found again by name and content).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from overwatch.storage.models import DqmUpload
from overwatch.storage.models import utcnow

__all__ = ["UploadClaim", "claim_upload", "list_uploads"]


@dataclass(frozen=True)
class UploadClaim:
    """The outcome of a claim: the file name that holds this content, and whether it is new."""

    file_name: str
    new: bool


#: The claim, built once per dialect (it runs for every upload; only the values change).
_CLAIMS: dict[str, Any] = {}


def _claim_statement(dialect: str) -> Any:
    statement = _CLAIMS.get(dialect)
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = DqmUpload.__table__
        assert isinstance(table, Table)
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["agent", "run_number", "sha256"])
            .returning(table.c.id)
        )
        _CLAIMS[dialect] = statement
    return statement


def claim_upload(
    session: Session,
    *,
    agent: str,
    run_number: int,
    sha256: str,
    file_name: str,
    size: int,
    uploaded_by: str,
) -> UploadClaim:
    """Claim (agent, run, content) for ``file_name``, or find who stored it before.

    Waits for a concurrent claim of the same key to commit or roll back (the unique
    index does the waiting), so the answer is never a guess.
    """
    connection = session.connection()
    row = connection.execute(
        _claim_statement(connection.dialect.name),
        {
            "agent": agent,
            "run_number": run_number,
            "sha256": sha256,
            "file_name": file_name,
            "size": size,
            "uploaded_by": uploaded_by,
            "received_at": utcnow(),
        },
    ).first()
    if row is not None:
        return UploadClaim(file_name, new=True)
    existing = session.scalar(
        select(DqmUpload.file_name).where(
            DqmUpload.agent == agent,
            DqmUpload.run_number == run_number,
            DqmUpload.sha256 == sha256,
        )
    )
    assert existing is not None, "a conflicting claim must exist"
    return UploadClaim(existing, new=False)


def list_uploads(session: Session, agents: Collection[str] | None = None) -> list[str]:
    """Stored upload file names, oldest first; only those of ``agents`` when given."""
    query = select(DqmUpload.file_name).order_by(DqmUpload.received_at, DqmUpload.id)
    if agents is not None:
        query = query.where(DqmUpload.agent.in_(sorted(agents)))
    return list(session.scalars(query))
