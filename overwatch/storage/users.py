"""Users, roles, password hashing and API tokens.

Passwords are hashed with argon2id (argon2-cffi). A new password, a new role or
removing a user ends the user's browser sessions (:mod:`overwatch.storage.sessions`).
API tokens are random strings shown once; only their SHA-256 is stored, and the
lookup compares digests with :func:`hmac.compare_digest`. A token may expire and
can be revoked one by one; a refused token says why (:class:`TokenCheck`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import User
from overwatch.storage.models import UserToken
from overwatch.storage.models import utcnow
from overwatch.storage.sessions import end_user_sessions

__all__ = [
    "ROLES",
    "IssuedToken",
    "TokenCheck",
    "TokenInfo",
    "UserError",
    "UserInfo",
    "authenticate",
    "check_token",
    "create_token",
    "create_user",
    "get_user",
    "has_role",
    "hash_password",
    "issue_token",
    "list_tokens",
    "list_users",
    "remove_user",
    "revoke_token",
    "set_password",
    "set_role",
    "user_for_token",
    "verify_password",
]

#: Roles from least to most privileged; each includes the ones before it.
ROLES = ("viewer", "expert", "admin")
#: Writing last_used_at on every API call would turn reads into writes; once a minute is plenty.
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so the answer takes as long as for a known one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user operation that cannot be done (unknown role, duplicate name, ...)."""


@dataclass(frozen=True)
class UserInfo:
    """What the web app keeps about a logged-in user: no ORM object, no hash."""

    id: int
    name: str
    role: str
    active: bool = True


@dataclass(frozen=True)
class TokenInfo:
    """One API token as ``overwatch users tokens`` lists it (never the token itself)."""

    id: int
    user: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: shown once, with its id for listing and revoking."""

    id: int
    token: str
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenCheck:
    """Result of :func:`check_token`: the user, or the reason the token is refused."""

    user: UserInfo | None
    reason: str = ""


def _info(user: User) -> UserInfo:
    return UserInfo(id=user.id, name=user.name, role=user.role, active=user.active)


def has_role(role: str, required: str) -> bool:
    """Whether ``role`` includes the rights of ``required``."""
    if role not in ROLES or required not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(required)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(ch.isspace() for ch in name):
        raise UserError("a user name is 1-64 characters without spaces")
    return name


def create_user(session: Session, name: str, password: str, role: str = "viewer") -> UserInfo:
    """Add a user; raise :class:`UserError` on a bad role, empty password or taken name."""
    name = _check_name(name)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(
        name=name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return _info(user)


def set_password(session: Session, name: str, password: str) -> None:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UserError(f"no user {name!r}")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    user.password_hash = hash_password(password)
    end_user_sessions(session, user.id)


def set_role(session: Session, name: str, role: str) -> UserInfo:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UserError(f"no user {name!r}")
    if user.role != role:
        user.role = role
        end_user_sessions(session, user.id)
    return _info(user)


def list_users(session: Session) -> Sequence[UserInfo]:
    return [_info(user) for user in session.scalars(select(User).order_by(User.name))]


def get_user(session: Session, user_id: int) -> UserInfo | None:
    user = session.get(User, user_id)
    return _info(user) if user is not None else None


def remove_user(session: Session, name: str) -> bool:
    """Delete a user with their tokens and sessions (by foreign-key cascade); ``False`` if none."""
    result = session.execute(delete(User).where(User.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def authenticate(session: Session, name: str, password: str) -> UserInfo | None:
    """The user if ``password`` is theirs and the account is active, else ``None``.

    An unknown name, a wrong password and a disabled account cost the same argon2
    verification and give the same answer, so the result tells nobody which names
    exist. Throttling is the web app's job (per address and per account, see
    :mod:`overwatch.webapp.throttle`); nothing here counts failures, so guesses
    from elsewhere never lock the real user out.
    """
    user = session.scalars(select(User).where(User.name == name.strip())).one_or_none()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _info(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, name: str, label: str = "", *, expires_days: int | None = None
) -> IssuedToken:
    """A new API token for a user: the plain token is returned once and never stored.

    ``expires_days`` of ``None`` or 0 makes a token that never expires.
    """
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        raise UserError(f"no user {name!r}")
    if expires_days is not None and expires_days < 0:
        raise UserError("a token cannot expire in a negative number of days")
    now = utcnow()
    token = "ow_" + secrets.token_urlsafe(32)
    row = UserToken(
        user_id=user_id,
        token_hash=_digest(token),
        label=label[:64],
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    return IssuedToken(row.id, token, row.expires_at)


def create_token(
    session: Session, name: str, label: str = "", *, expires_days: int | None = None
) -> str:
    """A new API token for a user (the plain token only; see :func:`issue_token`)."""
    return issue_token(session, name, label, expires_days=expires_days).token


def list_tokens(session: Session, name: str) -> Sequence[TokenInfo]:
    """A user's tokens, oldest first; raise :class:`UserError` for an unknown user."""
    if session.scalar(select(User.id).where(User.name == name)) is None:
        raise UserError(f"no user {name!r}")
    rows = session.scalars(
        select(UserToken).join(User).where(User.name == name).order_by(UserToken.id)
    )
    return [
        TokenInfo(
            row.id,
            name,
            row.label,
            row.created_at,
            row.last_used_at,
            row.expires_at,
            row.revoked_at,
        )
        for row in rows
    ]


def revoke_token(session: Session, token_id: int) -> TokenInfo:
    """Revoke one token by id (kept, so its refusal can say "revoked"); raise if unknown."""
    row = session.execute(
        select(UserToken, User.name).join(User).where(UserToken.id == token_id)
    ).one_or_none()
    if row is None:
        raise UserError(f"no token with id {token_id}")
    token, owner = row
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return TokenInfo(
        token.id,
        owner,
        token.label,
        token.created_at,
        token.last_used_at,
        token.expires_at,
        token.revoked_at,
    )


def check_token(session: Session, token: str, *, now: datetime | None = None) -> TokenCheck:
    """The active user owning ``token``, or why it is refused (unknown, revoked, expired)."""
    if not token or len(token) > 200:
        return TokenCheck(None, "unknown API token")
    digest = _digest(token)
    row = session.execute(
        select(UserToken, User)
        .join(User, User.id == UserToken.user_id)
        .where(UserToken.token_hash == digest)
    ).one_or_none()
    # The lookup used the digest; compare again in constant time so equality never leaks timing.
    if row is None or not hmac.compare_digest(row[0].token_hash, digest):
        return TokenCheck(None, "unknown API token")
    token_row, user = row
    now = now or utcnow()
    if token_row.revoked_at is not None:
        return TokenCheck(None, f"API token {token_row.id} was revoked")
    if token_row.expires_at is not None and token_row.expires_at <= now:
        expired = token_row.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        return TokenCheck(None, f"API token {token_row.id} expired on {expired}")
    if not user.active:
        return TokenCheck(None, f"the account of API token {token_row.id} is disabled")
    if token_row.last_used_at is None or now - token_row.last_used_at > TOKEN_TOUCH_INTERVAL:
        token_row.last_used_at = now
    return TokenCheck(_info(user))


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> UserInfo | None:
    """The active user owning a valid ``token``, or ``None``."""
    return check_token(session, token, now=now).user
