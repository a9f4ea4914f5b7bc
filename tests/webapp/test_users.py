"""Users in storage: hashing, roles, authentication, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from overwatch.storage import Database
from overwatch.storage.models import User
from overwatch.storage.models import UserToken
from overwatch.storage.models import utcnow
from overwatch.storage.users import UserError
from overwatch.storage.users import authenticate
from overwatch.storage.users import check_token
from overwatch.storage.users import create_token
from overwatch.storage.users import create_user
from overwatch.storage.users import has_role
from overwatch.storage.users import issue_token
from overwatch.storage.users import list_tokens
from overwatch.storage.users import revoke_token
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


def test_authenticate_answers_none_alike_for_unknown_wrong_and_disabled(db: Database) -> None:
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "viewer")
        create_user(session, "off", "correct-horse", "viewer")
        session.query(User).filter(User.name == "off").one().active = False
    with db.session() as session:
        assert authenticate(session, "nobody", "correct-horse") is None
        assert authenticate(session, "ann", "wrong-horse") is None
        assert authenticate(session, "off", "correct-horse") is None
        user = authenticate(session, " ann ", "correct-horse")
        assert user is not None
        assert user.name == "ann"


def test_wrong_passwords_never_lock_the_account(db: Database) -> None:
    # Throttling is the web app's, per address: storage counts nothing per user.
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "viewer")
        for _ in range(10):
            assert authenticate(session, "ann", "wrong") is None
        assert authenticate(session, "ann", "correct-horse") is not None


def test_revoked_and_expired_tokens_are_listed_and_refused_with_a_reason(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        create_user(session, "ann", "correct-horse", "expert")
        forever = issue_token(session, "ann", "agent")
        weekly = issue_token(session, "ann", "ci", expires_days=7)
        assert forever.expires_at is None
        assert weekly.expires_at is not None
        assert revoke_token(session, forever.id).revoked_at is not None
        listed = list_tokens(session, "ann")
        assert [(t.id, t.label) for t in listed] == [(forever.id, "agent"), (weekly.id, "ci")]
        assert listed[0].revoked_at is not None
        assert check_token(session, forever.token).reason == f"API token {forever.id} was revoked"
        assert check_token(session, weekly.token, now=now + timedelta(days=6)).user is not None
        late = check_token(session, weekly.token, now=now + timedelta(days=8))
        assert late.user is None
        assert late.reason.startswith(f"API token {weekly.id} expired on ")
        with pytest.raises(UserError, match="negative"):
            issue_token(session, "ann", expires_days=-1)
        with pytest.raises(UserError, match="no token with id 999"):
            revoke_token(session, 999)


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
