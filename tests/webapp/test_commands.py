"""``overwatch users ...``, ``overwatch web --help`` and the demo login."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from overwatch.cli import AppContext
from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.demo import supervisor
from overwatch.storage import Database
from overwatch.storage.models import utcnow
from overwatch.storage.users import authenticate
from overwatch.storage.users import check_token
from overwatch.storage.users import user_for_token
from overwatch.webapp import commands
from tests.clisupport import run_cli

pytestmark = pytest.mark.usefixtures("close_cli_databases")


def test_users_add_list_token_remove(settings: Settings, db: Database) -> None:
    added = run_cli(
        settings,
        "users",
        "add",
        "alice",
        "--role",
        "expert",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert added.exit_code == 0, added.stdout
    assert added.stdout == "added alice (expert)\n"
    listed = run_cli(settings, "users", "list")
    assert listed.stdout.split() == ["alice", "expert", "active"]
    with db.session() as session:
        assert authenticate(session, "alice", "s3cret-pass") is not None
    token = run_cli(settings, "users", "token", "alice").stdout.strip()
    assert token.startswith("ow_")
    with db.session() as session:
        info = user_for_token(session, token)
        assert info is not None
        assert info.name == "alice"
    assert run_cli(settings, "users", "remove", "alice").stdout == "removed alice\n"
    with db.session() as session:
        assert user_for_token(session, token) is None
    missing = run_cli(settings, "users", "remove", "alice")
    assert missing.exit_code == 1
    assert "no user 'alice'" in missing.stderr


def _add_alice(settings: Settings) -> None:
    added = run_cli(settings, "users", "add", "alice", "--password-stdin", stdin="s3cret-pass\n")
    assert added.exit_code == 0, added.stderr


def test_users_tokens_lists_each_token_with_its_dates_and_state(
    settings: Settings, db: Database
) -> None:
    _add_alice(settings)
    empty = run_cli(settings, "users", "tokens", "alice")
    assert "alice has no API tokens" in empty.stdout
    forever = run_cli(settings, "users", "token", "alice", "--label", "dqm-agent")
    assert forever.stdout.startswith("ow_")
    assert re.fullmatch(r"token (\d+) for alice, never expires\n", forever.stderr)
    monthly = run_cli(settings, "users", "token", "alice", "--label", "ci", "--expires-days", "30")
    expires = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"expires {expires}" in monthly.stderr
    with db.session() as session:
        assert user_for_token(session, monthly.stdout.strip()) is not None  # sets last used
    listed = run_cli(settings, "users", "tokens", "alice").stdout.splitlines()
    assert listed[0].split() == ["id", "label", "created", "last", "used", "expires", "state"]
    first, second = (line.split() for line in listed[1:])
    today = utcnow().strftime("%Y-%m-%d")
    assert first[1:3] == ["dqm-agent", today]
    assert first[4:] == ["-", "never", "valid"]
    assert second[1:3] == ["ci", today]
    assert second[4] == today  # last used
    assert (second[6], second[8]) == (expires, "valid")
    assert "no user 'bob'" in run_cli(settings, "users", "tokens", "bob").stderr


def test_users_revoke_token_refuses_that_token_only(settings: Settings, db: Database) -> None:
    _add_alice(settings)
    kept = run_cli(settings, "users", "token", "alice", "--label", "keep").stdout.strip()
    dropped = run_cli(settings, "users", "token", "alice", "--label", "drop")
    token_id = re.search(r"token (\d+)", dropped.stderr)
    assert token_id
    revoked = run_cli(settings, "users", "revoke-token", token_id.group(1))
    assert revoked.stdout == f"revoked token {token_id.group(1)} (drop) of alice\n"
    with db.session() as session:
        assert user_for_token(session, kept) is not None
        refused = check_token(session, dropped.stdout.strip())
        assert refused.user is None
        assert refused.reason == f"API token {token_id.group(1)} was revoked"
    assert run_cli(settings, "users", "tokens", "alice").stdout.splitlines()[2].endswith("revoked")
    missing = run_cli(settings, "users", "revoke-token", "999")
    assert missing.exit_code == 1
    assert "no token with id 999" in missing.stderr


def test_tokens_expire_after_the_default_days_from_the_settings(
    settings: Settings, db: Database
) -> None:
    _add_alice(settings)
    env = {"OVERWATCH_API_TOKEN_EXPIRY_DAYS": "7"}
    made = run_cli(settings, "users", "token", "alice", env=env)
    assert f"expires {(utcnow() + timedelta(days=7)).strftime('%Y-%m-%d')}" in made.stderr
    never = run_cli(settings, "users", "token", "alice", "--expires-days", "0", env=env)
    assert "never expires" in never.stderr
    with db.session() as session:
        later = utcnow() + timedelta(days=8)
        expired = check_token(session, made.stdout.strip(), now=later)
        assert expired.user is None
        assert expired.reason.startswith("API token ")
        assert " expired on " in expired.reason
        assert check_token(session, never.stdout.strip(), now=later).user is not None


def test_users_add_prompts_for_the_password_twice(settings: Settings, db: Database) -> None:
    result = run_cli(settings, "users", "add", "bob", stdin="long-password\nlong-password\n")
    assert result.exit_code == 0, result.stdout
    assert "added bob (viewer)" in result.stdout


def test_users_add_refuses_short_passwords_and_duplicates(settings: Settings, db: Database) -> None:
    short = run_cli(settings, "users", "add", "carol", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert "a password needs at least 8 characters" in short.stderr
    run_cli(settings, "users", "add", "carol", "--password-stdin", stdin="long-password\n")
    again = run_cli(settings, "users", "add", "carol", "--password-stdin", stdin="long-password\n")
    assert "user 'carol' already exists" in again.stderr


def test_web_command_help_lists_its_options() -> None:
    result = CliRunner().invoke(cli, ["web", "--help"])
    assert result.exit_code == 0
    for option in ("--debug", "--bind", "--workers"):
        assert option in result.stdout


def test_serve_demo_creates_the_demo_login_once_and_prints_it(
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[tuple[str, list[str]]] = []

    # Serving runs until Ctrl-C; record the command lines instead of starting them.
    def run_side_by_side(starts: list[tuple[str, Callable[[], Any]]]) -> int:
        started.extend((name, start()) for name, start in starts)
        return 0

    monkeypatch.setattr(supervisor, "run_side_by_side", run_side_by_side)
    monkeypatch.setattr(commands.subprocess, "Popen", lambda command: command)
    context = AppContext(
        None, {"data_dir": str(settings.data_dir), "database_url": settings.effective_database_url}
    )
    assert commands.serve_demo(context) == 0
    output = capsys.readouterr().out
    password_file = settings.data_dir / commands.DEMO_PASSWORD_FILE
    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert "http://127.0.0.1:8850/" in output
    assert "log in as        demo" in output
    assert f"password         {password}" in output
    # Both are fresh processes of our own command, with the demo's settings and pid.
    front = [sys.executable, "-m", "overwatch", "--data-dir", str(settings.data_dir)]
    front += ["--database-url", settings.effective_database_url]
    parent = ["--parent-pid", str(os.getpid())]
    assert started == [
        ("processing daemon", [*front, "process", *parent]),
        ("web app", [*front, "web", "--bind", "127.0.0.1:8850", "--workers", "2", *parent]),
    ]
    with db.session() as session:
        user = authenticate(session, "demo", password)
        assert user is not None
        assert user.role == "expert"
    commands.serve_demo(context)
    assert password_file.read_text().strip() == password
