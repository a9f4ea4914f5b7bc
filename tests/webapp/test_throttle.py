"""Login throttling through the app: per address, per account, the same answer for every name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.webapp.throttle import password_check_slot
from tests.webapp.conftest import csrf_token

REFUSED = "Unknown user or wrong password."
TOO_MANY = "Too many login attempts; try again in"


@pytest.fixture
def limited(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Flask],
    db: Database,
    users: dict[str, str],
) -> Callable[..., Flask]:
    """An app with small login limits (``limited(login_limit_per_address=...)``)."""

    def build(**overrides: Any) -> Flask:
        values = {
            "login_limit_per_address": "100 per minute",
            "login_failures_per_account_and_address": "3 per 15 minutes",
            "login_failures_per_account": "100 per hour",
            **overrides,
        }
        return make_app(make_settings(**values))

    return build


def _attempt(client: FlaskClient, address: str, name: str, password: str) -> Any:
    environ = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=environ)
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_token(page.text)},
        environ_base=environ,
    )


def _message(response: Any) -> str:
    found = re.search(r'<p class="form-message" role="alert">([^<]*)</p>', response.text)
    assert found, response.text
    return re.sub(r"\d+ s\.", "N s.", found.group(1))


def test_guesses_from_one_address_do_not_lock_out_the_real_user_elsewhere(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited()
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(3):
        assert _attempt(attacker, "10.0.0.66", "expert", "guess-guess").status_code == 401
    refused = _attempt(attacker, "10.0.0.66", "expert", users["expert"])
    assert refused.status_code == 429
    assert TOO_MANY in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert _attempt(owner, "10.0.0.7", "expert", users["expert"]).status_code == 302


def test_unknown_and_known_names_get_the_same_answers(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited()
    known = [_attempt(app.test_client(), "10.0.0.1", "expert", "guess-guess") for _ in range(4)]
    unknown = [_attempt(app.test_client(), "10.0.0.2", "nobody", "guess-guess") for _ in range(4)]
    assert [r.status_code for r in known] == [401, 401, 401, 429]
    assert [r.status_code for r in unknown] == [401, 401, 401, 429]
    assert [_message(r) for r in known] == [_message(r) for r in unknown]
    assert _message(known[0]) == REFUSED
    # The same window (15 minutes), give or take the seconds between the two tries.
    waits = [int(r.headers["Retry-After"]) for r in (known[-1], unknown[-1])]
    assert all(800 < wait <= 901 for wait in waits)


def test_one_address_is_limited_across_all_names(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited(login_limit_per_address="4 per minute")
    client = app.test_client()
    answers = [
        _attempt(client, "10.0.0.9", name, "guess-guess").status_code
        for name in ("a", "b", "c", "viewer")
    ]
    assert answers == [401, 401, 401, 401]
    # Even the right password: the address has used its attempts.
    blocked = _attempt(client, "10.0.0.9", "admin", users["admin"])
    assert blocked.status_code == 429
    assert TOO_MANY in blocked.text
    assert _attempt(client, "10.0.0.10", "admin", users["admin"]).status_code == 302


def test_guessing_one_name_from_many_addresses_hits_the_account_backstop(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited(login_failures_per_account="4 per hour")
    for index in range(4):
        response = _attempt(app.test_client(), f"10.1.0.{index}", "viewer", "guess-guess")
        assert response.status_code == 401
    # Documented trade-off: past the backstop the name is refused everywhere for a while.
    refused = _attempt(app.test_client(), "10.1.0.99", "viewer", users["viewer"])
    assert refused.status_code == 429
    assert _attempt(app.test_client(), "10.1.0.99", "expert", users["expert"]).status_code == 302


def test_successful_logins_do_not_count_as_failures(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited()
    for _ in range(5):
        assert _attempt(app.test_client(), "10.0.0.5", "viewer", users["viewer"]).status_code == 302


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_proxy(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    def attempt(app: Flask, forwarded_for: str) -> int:
        client = app.test_client()
        environ = {"REMOTE_ADDR": "127.0.0.1"}
        headers = {"X-Forwarded-For": forwarded_for}
        page = client.get("/login", environ_base=environ, headers=headers)
        data = {"name": "viewer", "password": "guess-guess", "csrf_token": csrf_token(page.text)}
        response = client.post("/login", data=data, environ_base=environ, headers=headers)
        return response.status_code

    proxied = limited(web_behind_proxy=True, login_limit_per_address="2 per minute")
    assert [attempt(proxied, f"192.0.2.{n}") for n in range(4)] == [401, 401, 401, 401]
    direct = limited(login_limit_per_address="2 per minute")
    # Without web_behind_proxy the header is ignored: a client cannot pick a fresh address.
    assert [attempt(direct, f"192.0.2.{n}") for n in range(4)] == [401, 401, 429, 429]


def test_a_login_gets_429_at_once_when_every_password_check_slot_is_busy(
    limited: Callable[..., Flask], users: dict[str, str]
) -> None:
    app = limited(login_concurrent_checks=1)
    with app.app_context(), password_check_slot() as held:
        assert held
        busy = _attempt(app.test_client(), "10.0.0.3", "viewer", users["viewer"])
    assert busy.status_code == 429
    assert "busy checking other logins" in busy.text
    assert busy.headers["Retry-After"] == "1"
    # A busy answer is not a failed login; the slot is free again afterwards.
    assert _attempt(app.test_client(), "10.0.0.3", "viewer", users["viewer"]).status_code == 302
