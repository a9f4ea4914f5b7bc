"""Server-side login sessions: a cookie opens only its own login, and only until that login ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy import text

from overwatch.storage import Database
from overwatch.storage.models import User
from overwatch.storage.models import UserSession
from overwatch.storage.models import utcnow
from overwatch.storage.sessions import session_user
from overwatch.storage.sessions import start_session
from overwatch.storage.users import create_user
from overwatch.storage.users import remove_user
from overwatch.storage.users import set_password
from overwatch.storage.users import set_role
from tests.webapp.conftest import csrf_token
from tests.webapp.conftest import log_in

COOKIE = "overwatch_session"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(app: Flask, cookie: str) -> FlaskClient:
    """A fresh browser that presents a captured session cookie."""
    client = app.test_client()
    client.set_cookie(COOKIE, cookie)
    return client


def _is_anonymous(client: FlaskClient) -> bool:
    response = client.get("/runs")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return True
    assert response.status_code == 200
    return False


def test_a_removed_users_cookie_does_not_open_the_account_that_gets_the_same_id(
    app: Flask, db: Database, users: dict[str, str]
) -> None:
    with db.session() as session:
        create_user(session, "intern", "intern-password", "viewer")
        intern_id = session.scalar(select(User.id).where(User.name == "intern"))
    client = app.test_client()
    assert log_in(client, "intern", "intern-password").status_code == 302
    stolen = _cookie(client)

    with db.session() as session:
        assert remove_user(session, "intern")
    if db.is_postgresql:
        # PostgreSQL sequences do not reuse ids by themselves; a restored backup or a
        # reset sequence does. SQLite reuses the highest id on its own.
        with db.session() as session:
            session.execute(text(f"ALTER SEQUENCE users_id_seq RESTART WITH {intern_id}"))
    with db.session() as session:
        boss = create_user(session, "boss", "boss-password-123", "admin")
    assert boss.id == intern_id, "the attack needs the new admin to get the removed user's id"

    attacker = _replay(app, stolen)
    assert _is_anonymous(attacker)
    admin_page = attacker.get("/admin/users")
    assert admin_page.status_code == 302
    assert admin_page.headers["Location"].startswith("/login")


def test_a_cookie_replayed_after_logout_is_not_logged_in(
    client_as: Callable[[str], FlaskClient], app: Flask
) -> None:
    client = client_as("viewer")
    page = client.get("/runs")
    captured = _cookie(client)
    assert not _is_anonymous(_replay(app, captured))
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert _is_anonymous(_replay(app, captured))


def test_logout_ends_only_that_browsers_session(app: Flask, users: dict[str, str]) -> None:
    laptop, phone = app.test_client(), app.test_client()
    assert log_in(laptop, "expert", users["expert"]).status_code == 302
    assert log_in(phone, "expert", users["expert"]).status_code == 302
    page = laptop.get("/runs")
    laptop.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert _is_anonymous(laptop)
    assert not _is_anonymous(phone)


def test_the_cookie_holds_a_random_session_key_not_the_user_id(
    app: Flask, db: Database, users: dict[str, str]
) -> None:
    client = app.test_client()
    log_in(client, "viewer", users["viewer"])
    with app.test_request_context():
        data = app.session_interface.open_session(app, _request_with(app, _cookie(client)))
    assert data is not None
    key = data["_user_id"]
    assert len(key) >= 40
    with db.session() as session:
        stored = session.scalars(select(UserSession)).one()
        # Only the digest is stored: a copy of the database opens no session.
        assert key not in stored.key_hash
        found = session_user(session, key)
        assert found is not None
        assert found.name == "viewer"


def _request_with(app: Flask, cookie: str) -> object:
    from werkzeug.test import EnvironBuilder  # noqa: PLC0415

    environ = EnvironBuilder(headers={"Cookie": f"{COOKIE}={cookie}"}).get_environ()
    return app.request_class(environ)


def test_a_new_password_ends_the_users_sessions(
    client_as: Callable[[str], FlaskClient], db: Database
) -> None:
    client = client_as("expert")
    with db.session() as session:
        set_password(session, "expert", "a-brand-new-password")
    assert _is_anonymous(client)


def test_a_new_role_ends_the_users_sessions_at_once(
    client_as: Callable[[str], FlaskClient], db: Database
) -> None:
    expert = client_as("expert")
    assert not _is_anonymous(expert)
    with db.session() as session:
        set_role(session, "expert", "viewer")
    assert _is_anonymous(expert)


def test_an_admin_demoting_or_removing_a_user_ends_their_session(
    client_as: Callable[[str], FlaskClient],
) -> None:
    admin = client_as("admin")
    expert = client_as("expert")
    viewer = client_as("viewer")
    page = admin.get("/admin/users")
    token = csrf_token(page.text)
    demoted = admin.post("/admin/users/expert/role", data={"role": "viewer", "csrf_token": token})
    assert demoted.status_code == 302
    removed = admin.post("/admin/users/viewer/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert _is_anonymous(expert)
    assert _is_anonymous(viewer)
    assert not _is_anonymous(admin)


def test_an_expired_session_is_anonymous(app: Flask, db: Database, users: dict[str, str]) -> None:
    client = app.test_client()
    log_in(client, "viewer", users["viewer"])
    with db.session() as session:
        row = session.scalars(select(UserSession)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert _is_anonymous(client)


def test_starting_a_session_clears_the_users_dead_ones(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        user = create_user(session, "ann", "correct-horse", "viewer")
        start_session(session, user.id, timedelta(hours=1), now=now - timedelta(hours=2))
        live = start_session(session, user.id, timedelta(hours=1), now=now)
        assert session.query(UserSession).count() == 1
        assert session_user(session, live, now=now) is not None
