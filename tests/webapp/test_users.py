"""Users in storage: hashing, roles, login slow-down, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from overwatch.storage import Database
from overwatch.storage.models import User
from overwatch.storage.models import UserToken
from overwatch.storage.models import utcnow
from overwatch.storage.users import UserError
from overwatch.storage.users import authenticate
from overwatch.storage.users import create_token
from overwatch.storage.users import create_user
from overwatch.storage.users import has_role
from overwatch.storage.users import retry_delay
from overwatch.storage.users import user_for_token


def test_passwords_are_stored_as_argon2_hashes(db: Database) -> None:
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "viewer")
        stored = session.query(User).one().password_hash
    assert stored.startswith("$argon2id$")
    assert "correct-horse" not in stored


def test_roles_include_the_lower_ones() -> None:
    assert has_role("admin", "expert")
    assert has_role("expert", "viewer")
    assert not has_role("viewer", "expert")
    assert not has_role("nobody", "viewer")


def test_unknown_role_is_refused(db: Database) -> None:
    with db.session() as session, pytest.raises(UserError, match="unknown role 'boss'"):
        create_user(session, "ann", "correct-horse", "boss")


def test_retry_delay_grows_and_is_capped() -> None:
    assert [retry_delay(n) for n in range(6)] == [0.0, 0.0, 0.0, 2.0, 4.0, 8.0]
    assert retry_delay(100) == 300.0


def test_login_is_allowed_again_after_the_delay(db: Database) -> None:
    start = utcnow()
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "viewer")
        for _ in range(3):
            assert authenticate(session, "ann", "wrong", now=start).user is None
        waiting = authenticate(session, "ann", "correct-horse", now=start + timedelta(seconds=1))
        assert waiting.user is None
        assert waiting.retry_after == pytest.approx(1.0)
        later = authenticate(session, "ann", "correct-horse", now=start + timedelta(seconds=3))
        assert later.user is not None
        assert session.query(User).one().failed_logins == 0


def test_tokens_are_stored_hashed_and_checked(db: Database) -> None:
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "expert")
        token = create_token(session, "ann", "ci")
        stored = session.query(UserToken).one()
        assert token not in stored.token_hash
        assert len(stored.token_hash) == 64
        info = user_for_token(session, token)
        assert info is not None
        assert (info.name, info.role) == ("ann", "expert")
        assert stored.last_used_at is not None
        assert user_for_token(session, token + "x") is None
        assert user_for_token(session, "") is None
