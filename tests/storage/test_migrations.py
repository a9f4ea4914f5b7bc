"""Migrations: one line of history, and the migrated schema is exactly what the models say.

A model change without its migration (or a migration that differs from the model) would
work in tests that create tables from the models and fail on a site's migrated database.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from overwatch.storage import Database
from overwatch.storage.database import SCHEMA_HEAD
from overwatch.storage.models import Base


def test_history_is_one_line_ending_at_a_single_head(db: Database) -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1, script.get_heads()
    assert db.current_revision() == script.get_current_head()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": False}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_schema_head_constant_is_the_newest_migration(db: Database) -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    assert script.get_current_head() == SCHEMA_HEAD
