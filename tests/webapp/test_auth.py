"""Login, logout, roles on every route, API tokens, CSRF, cookies and the secret key."""

from __future__ import annotations

import stat
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.users import create_token
from overwatch.webapp.security import SECRET_KEY_FILE
from tests.webapp.builders import add_run
from tests.webapp.conftest import csrf_token
from tests.webapp.conftest import log_in

#: Routes anyone may reach.
# /metrics is for Prometheus: metrics_token and nginx's metrics_allow guard it (test_metrics.py).
PUBLIC = {
    "auth.login",
    "static",
    "assets.jsroot_file",
    "health.healthz",
    "api_docs.openapi",
    "metrics.metrics",
}


def _fill(rule: str, values: dict[str, Any]) -> str:
    for key, value in values.items():
        forms = (f"<{key}>",) if ":" in key else (f"<int:{key}>", f"<{key}>")
        for form in forms:
            rule = rule.replace(form, str(value))
    return rule


def test_login_page_renders_a_form_with_csrf_token(app: Flask) -> None:
    response = app.test_client().get("/login")
    assert response.status_code == 200
    assert 'name="password"' in response.text
    assert csrf_token(response.text)


def test_login_with_right_password_redirects_to_run_list(app: Flask, users: dict[str, str]) -> None:
    client = app.test_client()
    response = log_in(client, "viewer", users["viewer"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/runs"
    assert client.get("/runs").status_code == 200


def test_login_follows_next_but_never_to_another_site(app: Flask, users: dict[str, str]) -> None:
    client = app.test_client()
    page = client.get("/login")
    token = csrf_token(page.text)
    data = {"name": "viewer", "password": users["viewer"], "csrf_token": token}
    response = client.post("/login?next=/status", data=data)
    assert response.headers["Location"] == "/status"
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post("/login?next=//evil.example/x", data={**data, "csrf_token": token})
    assert response.headers["Location"] == "/runs"


def test_login_form_sends_a_logged_in_user_home_or_to_next(
    client_as: Callable[[str], FlaskClient],
) -> None:
    client = client_as("viewer")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/runs"
    assert client.get("/login?next=/status").headers["Location"] == "/status"
    assert client.get("/login?next=//evil.example/x").headers["Location"] == "/runs"


def test_wrong_password_is_refused_with_401(app: Flask, users: dict[str, str]) -> None:
    response = log_in(app.test_client(), "viewer", "wrong-password")
    assert response.status_code == 401
    assert "Unknown user or wrong password." in response.text


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    app: Flask, users: dict[str, str]
) -> None:
    response = log_in(app.test_client(), "nobody", "whatever-password")
    assert response.status_code == 401
    assert "Unknown user or wrong password." in response.text


def test_login_without_csrf_token_is_rejected(app: Flask, users: dict[str, str]) -> None:
    response = app.test_client().post(
        "/login", data={"name": "viewer", "password": users["viewer"]}
    )
    assert response.status_code == 400
    assert "Form expired" in response.text


def test_logout_needs_post_with_csrf_and_ends_the_session(
    client_as: Callable[[str], FlaskClient],
) -> None:
    client = client_as("viewer")
    page = client.get("/runs")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert client.get("/runs").status_code == 302


def test_every_route_refuses_anonymous_users(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        # GET where a route answers it, else its one writing method (POST, PUT).
        method = "GET" if "GET" in methods else sorted(methods)[0]
        url = _fill(
            str(rule.rule),
            {
                "run_number": 1,
                "subsystem": "EMC",
                "path:name": "a/b",
                "name": "x",
                "job_id": 1,
                "file_id": 1,
                "file_name": "f.root",
                "alarm_id": 1,
            },
        )
        response = client.open(url, method=method)
        checked += 1
        if url.startswith("/api/"):
            assert response.status_code == 401, url
            assert response.json == {
                "error": {
                    "status": 401,
                    "reason": "authentication required: log in or send 'Authorization: Bearer <token>'",
                }
            }
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="overwatch"'
        elif url.startswith("/rest/api/"):
            # The DQM upload endpoints take agent tokens, never a browser session.
            assert response.status_code == 401, url
            assert response.json is not None
            assert "token" in response.json["message"].lower(), response.json
        elif url == "/":
            assert response.status_code == 302
        else:
            assert response.status_code in {302, 400}, url  # 400: POST forms check CSRF first
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/login?next="), url
    assert checked >= 15


def test_viewer_cannot_request_time_slices(
    client_as: Callable[[str], FlaskClient], db: Database
) -> None:
    add_run(db, 100)
    client = client_as("viewer")
    page = client.get("/runs/100/EMC")
    assert "Time slice / reprocess" not in page.text
    token = csrf_token(page.text)
    response = client.post(
        "/runs/100/EMC/requests", data={"csrf_token": token, "min_minutes": "0", "max_minutes": "5"}
    )
    assert response.status_code == 403
    assert "this needs the expert role; you are viewer" in response.text
    api = client.post(
        "/api/v1/runs/100/EMC/time-slices",
        json={"min_minutes": 0, "max_minutes": 5},
        headers={"X-CSRFToken": token},
    )
    assert api.status_code == 403
    assert api.json == {
        "error": {"status": 403, "reason": "this needs the expert role; you are viewer"}
    }


def test_bearer_token_authenticates_api_calls(
    app: Flask, db: Database, users: dict[str, str]
) -> None:
    add_run(db, 100)
    with db.session() as session:
        token = create_token(session, "viewer", "test")
    client = app.test_client()
    response = client.get("/api/v1/runs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["total"] == 1
    assert "Set-Cookie" not in response.headers
    refused = client.get("/api/v1/runs", headers={"Authorization": "Bearer ow_not-a-real-token"})
    assert refused.status_code == 401


def test_bearer_token_posts_need_no_csrf_but_cookie_posts_do(
    app: Flask, db: Database, users: dict[str, str], client_as: Callable[[str], FlaskClient]
) -> None:
    add_run(db, 100)
    with db.session() as session:
        token = create_token(session, "expert")
    body = {"min_minutes": 0, "max_minutes": 5}
    by_token = app.test_client().post(
        "/api/v1/runs/100/EMC/time-slices", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert by_token.status_code == 202
    by_cookie = client_as("expert").post("/api/v1/runs/100/EMC/time-slices", json=body)
    assert by_cookie.status_code == 400
    assert "The CSRF token is missing." in by_cookie.json["error"]["reason"]


def test_session_cookie_is_httponly_and_samesite_lax(app: Flask, users: dict[str, str]) -> None:
    response = log_in(app.test_client(), "viewer", users["viewer"])
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_when_configured(
    make_settings: Any, make_app: Callable[..., Flask], db: Database, users: dict[str, str]
) -> None:
    app = make_app(make_settings(web_secure_cookies=True))
    response = log_in(app.test_client(), "viewer", users["viewer"])
    assert "Secure" in response.headers["Set-Cookie"]


def test_secret_key_is_generated_once_into_the_data_dir(
    make_settings: Any, make_app: Callable[..., Flask], db: Database
) -> None:
    settings: Settings = make_settings(secret_key="")
    first = make_app(settings)
    path = settings.data_dir / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) == 64
    assert make_app(settings).config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_security_headers_are_set(app: Flask) -> None:
    response = app.test_client().get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("role", ["viewer", "expert", "admin"])
def test_every_role_sees_the_run_list(client_as: Callable[[str], FlaskClient], role: str) -> None:
    response = client_as(role).get("/runs")
    assert response.status_code == 200
    assert f'<span class="role role-{role}">{role}</span>' in response.text
