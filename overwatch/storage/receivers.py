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

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

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
    if isinstance(db, Database):
        with db.session() as session:
            _upsert(session, name, kind, accepted, refused, nbytes, last_file, reason, now)
    else:
        _upsert(db, name, kind, accepted, refused, nbytes, last_file, reason, now)


def _upsert(
    session: Session,
    name: str,
    kind: str,
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
    values: dict[str, Any] = {
        "name": name[:128],
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
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ReceiverHeartbeat).values(**values)
    table = ReceiverHeartbeat.__table__.c
    changes: dict[str, Any] = {
        "kind": kind,
        "last_seen_at": now,
        "accepted": table.accepted + accepted,
        "refused": table.refused + refused,
        "bytes": table.bytes + nbytes,
    }
    if last_file is not None:
        changes["last_file"] = last_file
        changes["last_file_at"] = now
    if reason is not None:
        changes["last_refusal_reason"] = reason
        changes["last_refusal_at"] = now
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=changes))


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
