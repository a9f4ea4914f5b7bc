"""Migration 0002_auth: sessions table, token expiry/revocation, no lockout columns; data kept."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy import text

from overwatch.config import Settings
from overwatch.storage import Base
from overwatch.storage import Database
from overwatch.storage.users import authenticate
from overwatch.storage.users import hash_password
from overwatch.storage.users import list_tokens

AUTH_TABLES = {"users", "user_tokens", "user_sessions"}


def test_upgrade_from_0001_keeps_users_and_tokens(settings: Settings) -> None:
    database = Database(settings.effective_database_url)
    try:
        database.upgrade("0001")
        with database.session() as session:
            session.execute(
                text(
                    "INSERT INTO users (name, password_hash, role, active, created_at,"
                    " failed_logins) VALUES ('ann', :hash, 'expert', :yes, :now, 2)"
                ),
                {"hash": hash_password("correct-horse"), "yes": True, "now": "2026-01-01"},
            )
            session.execute(
                text(
                    "INSERT INTO user_tokens (user_id, token_hash, label, created_at)"
                    " VALUES (1, :digest, 'agent', :now)"
                ),
                {"digest": "0" * 64, "now": "2026-01-01"},
            )
        database.upgrade("0002_auth")
        columns = {c["name"] for c in inspect(database.engine).get_columns("users")}
        assert "failed_logins" not in columns
        with database.session() as session:
            assert authenticate(session, "ann", "correct-horse") is not None
            (token,) = list_tokens(session, "ann")
            assert (token.label, token.expires_at, token.revoked_at) == ("agent", None, None)
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        ours = [d for d in differences if AUTH_TABLES & _tables(d)]
        assert ours == []
        command.downgrade(database.alembic_config(), "0001")
        columns = {c["name"] for c in inspect(database.engine).get_columns("users")}
        assert "failed_logins" in columns
        assert "user_sessions" not in inspect(database.engine).get_table_names()
    finally:
        database.dispose()


def _tables(difference: Any) -> set[str]:
    """Names of the tables one autogenerate difference (a tuple, or a list of them) touches."""
    if isinstance(difference, list):
        return set().union(*(_tables(item) for item in difference))
    names = set()
    for item in difference[1:]:
        if isinstance(item, str):
            names.add(item)
        for owner in (item, getattr(item, "table", None)):
            name = getattr(owner, "name", None)
            if isinstance(name, str):
                names.add(name)
    return names
