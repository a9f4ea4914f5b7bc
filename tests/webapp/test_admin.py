"""User administration pages: admin only, CSRF-protected, never on one's own account."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from overwatch.storage import Database
from overwatch.storage.users import list_users
from tests.webapp.conftest import csrf_token

Client = Callable[[str], FlaskClient]


def _roles(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {info.name: info.role for info in list_users(session)}


def test_only_admins_see_the_user_pages(client_as: Client) -> None:
    assert client_as("expert").get("/admin/users").status_code == 403
    assert "Users</a>" not in client_as("expert").get("/runs").text
    page = client_as("admin").get("/admin/users")
    assert page.status_code == 200
    assert '<tr data-user="viewer">' in page.text
    assert 'href="/admin/users"' in page.text


def test_admin_adds_changes_and_removes_users(client_as: Client, db: Database) -> None:
    client = client_as("admin")
    token = csrf_token(client.get("/admin/users").text)
    added = client.post(
        "/admin/users",
        data={"csrf_token": token, "name": "dora", "password": "dora-password", "role": "expert"},
    )
    assert added.status_code == 302
    assert _roles(db)["dora"] == "expert"
    client.post("/admin/users/dora/role", data={"csrf_token": token, "role": "viewer"})
    assert _roles(db)["dora"] == "viewer"
    client.post("/admin/users/dora/remove", data={"csrf_token": token})
    assert "dora" not in _roles(db)


def test_admin_errors_are_shown(client_as: Client, db: Database) -> None:
    client = client_as("admin")
    token = csrf_token(client.get("/admin/users").text)
    short = client.post(
        "/admin/users", data={"csrf_token": token, "name": "eve", "password": "x", "role": "viewer"}
    )
    assert short.status_code == 400
    assert "a password needs at least 8 characters" in short.text
    own = client.post("/admin/users/admin/remove", data={"csrf_token": token})
    assert own.status_code == 400
    assert "You cannot remove your own account." in own.text
    demote = client.post("/admin/users/admin/role", data={"csrf_token": token, "role": "viewer"})
    assert demote.status_code == 400
    assert _roles(db)["admin"] == "admin"
    assert client.post("/admin/users/viewer/remove").status_code == 400  # no CSRF token
    assert "viewer" in _roles(db)
