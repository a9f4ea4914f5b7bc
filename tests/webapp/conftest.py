"""Fixtures for the web app: the app on the test database, users of each role, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.users import create_user
from overwatch.webapp import create_app

PASSWORDS = {"viewer": "viewer-password", "expert": "expert-password", "admin": "admin-password"}


@pytest.fixture
def app(settings: Settings, db: Database) -> Flask:
    return create_app(settings, {"TESTING": True})


@pytest.fixture
def users(db: Database) -> dict[str, str]:
    """One user per role, named after the role; returns name -> password."""
    with db.session() as session:
        for role, password in PASSWORDS.items():
            create_user(session, role, password, role)
    return dict(PASSWORDS)


def csrf_token(html: str) -> str:
    found = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        or re.search(r'name="csrf_token" value="([^"]+)"', html)
        or re.search(r'name="csrf-token" content="([^"]+)"', html)
    )
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: FlaskClient, name: str, password: str) -> Any:
    page = client.get("/login")
    return client.post(
        "/login", data={"name": name, "password": password, "csrf_token": csrf_token(page.text)}
    )


@pytest.fixture
def client_as(app: Flask, users: dict[str, str]) -> Callable[[str], FlaskClient]:
    """A test client logged in with the given role."""

    def build(role: str) -> FlaskClient:
        client = app.test_client()
        response = log_in(client, role, users[role])
        assert response.status_code == 302, response.text
        return client

    return build
