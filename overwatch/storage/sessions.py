"""Server-side browser login sessions.

The guarantee: a session cookie opens exactly the login it was issued for, and
stops working as soon as that login ends, in every web worker at once.

How: a login creates a :class:`~overwatch.storage.models.UserSession` row keyed by
a random 256-bit key that is never reused; the signed cookie carries the key, the
database only its SHA-256. Every request looks the key up (one indexed join, no
cache), so logout (:func:`end_session`), removing the user, a new password or a new
role (:func:`end_user_sessions`) take effect on the very next request. User ids are
not used in cookies: SQLite hands a removed user's id to the next user created.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from overwatch.storage.models import User
from overwatch.storage.models import UserSession
from overwatch.storage.models import utcnow

__all__ = [
    "SESSION_TOUCH_INTERVAL",
    "ActiveSession",
    "end_session",
    "end_user_sessions",
    "session_user",
    "start_session",
    "touch_session",
]

#: last_seen_at is written at most this often, so browsing stays read-only.
SESSION_TOUCH_INTERVAL = timedelta(seconds=60)
#: Session keys are URL-safe strings of this many random bytes.
_KEY_BYTES = 32


@dataclass(frozen=True)
class ActiveSession:
    """A live session of an active user, and when it was last seen (to decide whether to touch it)."""

    user_id: int
    name: str
    role: str
    last_seen_at: datetime


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(
    session: Session, user_id: int, lifetime: timedelta, *, now: datetime | None = None
) -> str:
    """A new session for ``user_id``; returns the key for the cookie (stored only hashed).

    The user's expired and ended sessions are deleted on the way, so the table holds
    about one row per logged-in browser.
    """
    now = now or utcnow()
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(UserSession.expires_at <= now, UserSession.revoked_at.is_not(None)),
        )
    )
    key = secrets.token_urlsafe(_KEY_BYTES)
    session.add(
        UserSession(
            key_hash=_digest(key),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return key


def session_user(
    session: Session, key: str, *, now: datetime | None = None
) -> ActiveSession | None:
    """The active user of a live session, or ``None`` (unknown, ended, expired, user disabled)."""
    if not key or len(key) > 100:
        return None
    now = now or utcnow()
    row = session.execute(
        select(User.id, User.name, User.role, User.active, UserSession.last_seen_at)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.key_hash == _digest(key),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    ).one_or_none()
    if row is None or not row.active:
        return None
    return ActiveSession(row.id, row.name, row.role, row.last_seen_at)


def touch_session(session: Session, key: str, *, now: datetime | None = None) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.key_hash == _digest(key))
        .values(last_seen_at=now or utcnow())
    )


def end_session(session: Session, key: str, *, now: datetime | None = None) -> None:
    """Logout: the key stops working even if the cookie is replayed."""
    session.execute(
        update(UserSession)
        .where(UserSession.key_hash == _digest(key), UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


def end_user_sessions(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """End every session of a user (new password, new role); returns how many were live."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
