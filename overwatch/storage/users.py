"""Users, roles, password hashing and API tokens.

Passwords are hashed with argon2id (argon2-cffi). Repeated failed logins slow
down: after :data:`FREE_FAILURES` failures a user must wait before the next try,
twice as long after each further failure (capped), so guessing is impractical
while a mistyped password costs a shift person only seconds. API tokens are
random strings shown once; only their SHA-256 is stored, and the lookup compares
digests with :func:`hmac.compare_digest`.
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

__all__ = [
    "FREE_FAILURES",
    "ROLES",
    "LoginOutcome",
    "UserError",
    "UserInfo",
    "authenticate",
    "create_token",
    "create_user",
    "get_user",
    "has_role",
    "hash_password",
    "list_users",
    "remove_user",
    "retry_delay",
    "set_password",
    "set_role",
    "user_for_token",
    "verify_password",
]

#: Roles from least to most privileged; each includes the ones before it.
ROLES = ("viewer", "expert", "admin")
#: Failed logins allowed before a delay is imposed.
FREE_FAILURES = 3
MAX_DELAY_SECONDS = 300.0
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
class LoginOutcome:
    """Result of :func:`authenticate`: a user, or why not and how long to wait."""

    user: UserInfo | None
    reason: str = ""
    retry_after: float = 0.0


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
    user.failed_logins = 0


def set_role(session: Session, name: str, role: str) -> UserInfo:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UserError(f"no user {name!r}")
    user.role = role
    return _info(user)


def list_users(session: Session) -> Sequence[UserInfo]:
    return [_info(user) for user in session.scalars(select(User).order_by(User.name))]


def get_user(session: Session, user_id: int) -> UserInfo | None:
    user = session.get(User, user_id)
    return _info(user) if user is not None else None


def remove_user(session: Session, name: str) -> bool:
    """Delete a user and their tokens; ``False`` if there was none."""
    result = session.execute(delete(User).where(User.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def retry_delay(failed_logins: int) -> float:
    """Seconds to wait after ``failed_logins`` consecutive failures."""
    if failed_logins < FREE_FAILURES:
        return 0.0
    return float(min(2.0 ** (failed_logins - FREE_FAILURES + 1), MAX_DELAY_SECONDS))


def authenticate(
    session: Session, name: str, password: str, *, now: datetime | None = None
) -> LoginOutcome:
    """Check a login; count failures and refuse early tries while a delay runs."""
    now = now or utcnow()
    user = session.scalars(select(User).where(User.name == name.strip())).one_or_none()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return LoginOutcome(None, "Unknown user or wrong password.")
    if user.last_failed_login is not None:
        wait_until = user.last_failed_login + timedelta(seconds=retry_delay(user.failed_logins))
        if now < wait_until:
            seconds = (wait_until - now).total_seconds()
            return LoginOutcome(
                None, f"Too many failed logins; try again in {seconds:.0f} s.", seconds
            )
    if not user.active or not verify_password(user.password_hash, password):
        user.failed_logins += 1
        user.last_failed_login = now
        return LoginOutcome(None, "Unknown user or wrong password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.last_failed_login = None
    return LoginOutcome(_info(user))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, label: str = "") -> str:
    """A new API token for a user; the plain token is returned once and never stored."""
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        raise UserError(f"no user {name!r}")
    token = "ow_" + secrets.token_urlsafe(32)
    session.add(
        UserToken(user_id=user_id, token_hash=_digest(token), label=label[:64], created_at=utcnow())
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> UserInfo | None:
    """The active user owning ``token``, or ``None``."""
    if not token or len(token) > 200:
        return None
    digest = _digest(token)
    row = session.execute(
        select(UserToken, User)
        .join(User, User.id == UserToken.user_id)
        .where(UserToken.token_hash == digest)
    ).one_or_none()
    if row is None:
        return None
    token_row, user = row
    # The lookup used the digest; compare again in constant time so equality never leaks timing.
    if not hmac.compare_digest(token_row.token_hash, digest) or not user.active:
        return None
    now = now or utcnow()
    if token_row.last_used_at is None or now - token_row.last_used_at > TOKEN_TOUCH_INTERVAL:
        token_row.last_used_at = now
    return _info(user)
