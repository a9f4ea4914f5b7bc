"""Receiver heartbeats: one row per receiver with its last file, counts and last refusal.

Any receiver (the DQM endpoint and each DQM agent, a ZMQ receiver, a replay) calls
:func:`record_receiver_activity` whenever something arrives or is refused. The
update is one ``INSERT … ON CONFLICT DO UPDATE`` that adds to the counters, so any
number of processes may report for the same receiver at once without losing a
count. A receiver silent for longer than ``receiver_silence_minutes`` is *silent*
(shown dead); :func:`claim_new_silences` hands each silence to exactly one caller
so it is logged once, however many processes look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from overwatch.storage.database import Database
from overwatch.storage.models import ReceiverHeartbeat
from overwatch.storage.models import utcnow

__all__ = [
    "ReceiverView",
    "claim_new_silences",
    "list_receivers",
    "record_receiver_activity",
    "record_receivers_activity",
]

#: Longest refusal reason kept; a reason quoting a client's input must not grow the row.
MAX_REASON = 500


@dataclass(frozen=True)
class ReceiverView:
    """One receiver's heartbeat as the status page and the API show it."""

    name: str
    kind: str
    first_seen_at: datetime
    last_seen_at: datetime
    last_file: str | None
    last_file_at: datetime | None
    accepted: int
    refused: int
    bytes: int
    last_refusal_reason: str | None
    last_refusal_at: datetime | None

    def silent(self, now: datetime, silence_minutes: float) -> bool:
        """Whether nothing has been heard from this receiver for too long."""
        return now - self.last_seen_at > timedelta(minutes=silence_minutes)


def record_receiver_activity(
    db: Database | Session,
    *,
    name: str,
    kind: str,
    accepted: int = 0,
    refused: int = 0,
    nbytes: int = 0,
    last_file: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """Count what a receiver accepted or refused and mark it alive.

    With a :class:`Database` the update commits in its own short transaction; with a
    :class:`Session` it joins the caller's. ``last_file`` is the name of the newest
    stored file, ``reason`` why the last refusal happened.
    """
    record_receivers_activity(
        db,
        [(name, kind)],
        accepted=accepted,
        refused=refused,
        nbytes=nbytes,
        last_file=last_file,
        reason=reason,
        now=now,
    )


def record_receivers_activity(
    db: Database | Session,
    receivers: Sequence[tuple[str, str]],
    *,
    accepted: int = 0,
    refused: int = 0,
    nbytes: int = 0,
    last_file: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """:func:`record_receiver_activity` for several receivers (name, kind) in one statement.

    The DQM endpoint counts every upload for itself and for the agent at once.
    """
    if isinstance(db, Database):
        with db.session() as session:
            _upsert(session, receivers, accepted, refused, nbytes, last_file, reason, now)
    else:
        _upsert(db, receivers, accepted, refused, nbytes, last_file, reason, now)


#: The upsert, built once per dialect: every call has the same shape (values that are
#: not given are NULL and keep the stored ones), so it is compiled once and cached.
_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    statement = _UPSERTS.get(dialect)
    if statement is not None:
        return statement
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ReceiverHeartbeat.__table__
    assert isinstance(table, Table)
    base = insert(table)
    new, old = base.excluded, table.c
    statement = base.on_conflict_do_update(
        index_elements=[old.name],
        set_={
            "kind": new.kind,
            "last_seen_at": new.last_seen_at,
            "accepted": old.accepted + new.accepted,
            "refused": old.refused + new.refused,
            "bytes": old.bytes + new.bytes,
            "last_file": func.coalesce(new.last_file, old.last_file),
            "last_file_at": func.coalesce(new.last_file_at, old.last_file_at),
            "last_refusal_reason": func.coalesce(new.last_refusal_reason, old.last_refusal_reason),
            "last_refusal_at": func.coalesce(new.last_refusal_at, old.last_refusal_at),
        },
    )
    _UPSERTS[dialect] = statement
    return statement


def _upsert(
    session: Session,
    receivers: Sequence[tuple[str, str]],
    accepted: int,
    refused: int,
    nbytes: int,
    last_file: str | None,
    reason: str | None,
    now: datetime | None,
) -> None:
    now = now or utcnow()
    if reason is not None:
        reason = reason[:MAX_REASON]
    # One row per name: a statement may not update the same row twice.
    names = {name[:128]: kind for name, kind in receivers}
    rows = [
        {
            "name": name,
            "kind": kind,
            "first_seen_at": now,
            "last_seen_at": now,
            "accepted": accepted,
            "refused": refused,
            "bytes": nbytes,
            "last_file": last_file,
            "last_file_at": now if last_file is not None else None,
            "last_refusal_reason": reason,
            "last_refusal_at": now if reason is not None else None,
        }
        for name, kind in names.items()
    ]
    connection = session.connection()
    connection.execute(_upsert_statement(connection.dialect.name), rows)


_COLUMNS = (
    ReceiverHeartbeat.name,
    ReceiverHeartbeat.kind,
    ReceiverHeartbeat.first_seen_at,
    ReceiverHeartbeat.last_seen_at,
    ReceiverHeartbeat.last_file,
    ReceiverHeartbeat.last_file_at,
    ReceiverHeartbeat.accepted,
    ReceiverHeartbeat.refused,
    ReceiverHeartbeat.bytes,
    ReceiverHeartbeat.last_refusal_reason,
    ReceiverHeartbeat.last_refusal_at,
)


def list_receivers(session: Session) -> list[ReceiverView]:
    """Every receiver, by kind and name."""
    rows = session.execute(
        select(*_COLUMNS).order_by(ReceiverHeartbeat.kind, ReceiverHeartbeat.name)
    ).all()
    return [ReceiverView(*row) for row in rows]


def claim_new_silences(
    session: Session, silence_minutes: float, now: datetime | None = None
) -> list[ReceiverView]:
    """Receivers that fell silent and whose silence nobody has reported yet.

    Each is marked reported in the same statement (``UPDATE … WHERE not yet
    reported``), so among concurrent callers exactly one gets it; it is reported
    again only after the receiver has been heard from and fallen silent anew.
    """
    now = now or utcnow()
    limit = now - timedelta(minutes=silence_minutes)
    table = ReceiverHeartbeat
    candidates = session.execute(
        select(*_COLUMNS).where(
            table.last_seen_at < limit,
            or_(
                table.silence_reported_at.is_(None), table.silence_reported_at < table.last_seen_at
            ),
        )
    ).all()
    claimed: list[ReceiverView] = []
    for row in candidates:
        view = ReceiverView(*row)
        result = session.execute(
            update(table)
            .where(
                table.name == view.name,
                table.last_seen_at == view.last_seen_at,
                or_(
                    table.silence_reported_at.is_(None),
                    table.silence_reported_at < table.last_seen_at,
                ),
            )
            .values(silence_reported_at=now)
        )
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(view)
    return claimed
