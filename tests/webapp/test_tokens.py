"""API tokens over real HTTP: made and revoked with the CLI, refused with 401 and a reason."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import UserToken
from overwatch.storage.models import utcnow
from overwatch.storage.users import create_user
from tests.clisupport import run_cli

pytestmark = pytest.mark.usefixtures("close_cli_databases")


@pytest.fixture
def agent(db: Database) -> None:
    with db.session() as session:
        create_user(session, "agent", "agent-password", "expert")


def _cli(settings: Settings, *args: str) -> tuple[str, str]:
    result = run_cli(settings, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


def _token(settings: Settings, *options: str) -> tuple[str, str]:
    """A new token for ``agent`` made by the CLI: (token, id)."""
    out, err = _cli(settings, "users", "token", "agent", *options)
    found = re.search(r"token (\d+) for agent", err)
    assert found, err
    return out.strip(), found.group(1)


def _get(base: str, token: str, path: str = "/api/v1/runs") -> requests.Response:
    return requests.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _reason(response: requests.Response) -> str:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="overwatch", error="invalid_token"'
    reason: str = response.json()["error"]["reason"]
    return reason


def test_a_revoked_token_is_refused_with_401_and_says_so(
    live_server: str, settings: Settings, agent: None
) -> None:
    token, token_id = _token(settings, "--label", "ci")
    other, _ = _token(settings)
    assert _get(live_server, token).status_code == 200
    _cli(settings, "users", "revoke-token", token_id)
    assert _reason(_get(live_server, token)) == f"API token {token_id} was revoked"
    assert _get(live_server, other).status_code == 200


def test_an_expired_token_is_refused_with_401_and_says_when_it_expired(
    live_server: str, settings: Settings, db: Database, agent: None
) -> None:
    token, token_id = _token(settings, "--expires-days", "1")
    assert _get(live_server, token).status_code == 200
    # A day cannot pass in a test: move the expiry into the past instead.
    past = utcnow() - timedelta(minutes=5)
    with db.session() as session:
        session.execute(
            update(UserToken).where(UserToken.id == int(token_id)).values(expires_at=past)
        )
    reason = _reason(_get(live_server, token))
    assert reason == f"API token {token_id} expired on {past.strftime('%Y-%m-%d %H:%M')} UTC"


def test_an_unknown_token_is_refused_even_on_a_page_path(live_server: str, agent: None) -> None:
    assert _reason(_get(live_server, "ow_made-up")) == "unknown API token"
    # A client that sends a token is a program: JSON with the reason, not a login redirect.
    page = requests.get(
        f"{live_server}/runs",
        headers={"Authorization": "Bearer ow_made-up"},
        timeout=10,
        allow_redirects=False,
    )
    assert _reason(page) == "unknown API token"
