"""Fixtures for the web app: the app on the test database, users of each role, logged-in clients."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from overwatch.config import Settings
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.storage import Database
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.webapp.browser import CHROMIUM
from tests.webapp.browser import launch_chromium

PASSWORDS = {"viewer": "viewer-password", "expert": "expert-password", "admin": "admin-password"}


@pytest.fixture(autouse=True)
def generic_emc_plugin() -> Iterator[None]:
    """Web tests use EMC as an example subsystem with the generic plugin's options and
    groups; pin that plugin so the built-in EMC plugin's options do not ripple into them."""
    register_plugin("EMC", DetectorPlugin)
    yield
    unregister_plugin("EMC")


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Build apps (``make_app(settings, **config)``); their database engines are closed afterwards."""
    built: list[Flask] = []

    def build(settings: Settings, **config: Any) -> Flask:
        app = create_app(settings, {"TESTING": True, **config})
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["overwatch"].db.dispose()


@pytest.fixture
def app(settings: Settings, db: Database, make_app: Callable[..., Flask]) -> Flask:
    return make_app(settings)


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
    # A client that is logged in already is sent on from the form; any page has the token.
    page = client.get("/login", follow_redirects=True)
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


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server (werkzeug, threaded) on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright. Skipped when it is missing, unless
    OVERWATCH_TEST_REQUIRE_BROWSER=1 (CI), which makes that a failure."""
    if not CHROMIUM.exists():
        if os.environ.get("OVERWATCH_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"OVERWATCH_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)"
            )
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def processed_demo(settings: Settings, db: Database) -> Settings:
    """Two short demo runs written as real ROOT files, scanned and processed by the real pipeline."""
    from overwatch.demo import generate_demo_data  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415
    from overwatch.processing.worker import Worker  # noqa: PLC0415

    generate_demo_data(settings.data_dir, settings.tz, runs=2, minutes=4, subsystems=("EMC", "HLT"))
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    return settings
