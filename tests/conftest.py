"""Shared fixtures: settings on a temporary data directory and a real database.

Every test that takes ``db`` (or ``settings``) runs twice: on a SQLite file and on
PostgreSQL. The PostgreSQL run uses the server named by
``OVERWATCH_TEST_POSTGRES_URL`` (a fresh schema per test); without it those runs
are skipped, unless ``OVERWATCH_TEST_REQUIRE_POSTGRES=1`` (set by CI), which turns a
missing or unreachable server into an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.storage import Database
from tests.databases import private_database

POSTGRES_URL_ENV = "OVERWATCH_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "OVERWATCH_TEST_REQUIRE_POSTGRES"


def _postgres_base_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV)
    required = os.environ.get(REQUIRE_POSTGRES_ENV) == "1"
    if not url:
        if required:
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_ENV}")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a private schema on PostgreSQL."""
    base = None if request.param == "sqlite" else _postgres_base_url()
    with ExitStack() as stack:
        try:
            url = stack.enter_context(private_database(base, tmp_path))
        except Exception as exc:  # noqa: BLE001 - any connection failure
            if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
                pytest.fail(f"PostgreSQL at {base} is required but unusable: {exc}")
            pytest.skip(f"PostgreSQL at {base} unusable: {exc}")
        yield url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def make_settings(data_dir: Path, database_url: str) -> Any:
    """Build settings for the test's data dir and database, with extra overrides."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": str(data_dir),
            "database_url": database_url,
            "file_settle_seconds": 0,
            "processing_workers": 1,
            "secret_key": "test-secret-key-not-for-production",
        }
        values.update(overrides)
        return load_settings(environ={}, overrides=values, use_default_file=False)

    return build


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    built: Settings = make_settings()
    return built


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated, empty database matching ``settings``."""
    database = Database(settings.effective_database_url)
    database.ensure_schema()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def close_cli_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each command run in this process (:func:`tests.clisupport.run_cli`) opens its own
    database engine; close them all, so no connection outlives the test."""
    from overwatch.context import AppContext  # noqa: PLC0415

    opened: list[Database] = []
    original = AppContext.database

    def tracked(self: AppContext, *, migrate: bool = True) -> Database:
        database = original(self, migrate=migrate)
        if database not in opened:
            opened.append(database)
        return database

    monkeypatch.setattr(AppContext, "database", tracked)
    yield
    for database in opened:
        database.dispose()


@pytest.fixture(autouse=True)
def _restore_address_space_limit() -> Iterator[None]:
    """``overwatch process`` caps its own address space (worker_memory_limit_mb); when a
    test runs the command in this process, the cap must not outlive the test, or every
    later subprocess (gunicorn, chromium) would inherit it."""
    import resource  # noqa: PLC0415

    before = resource.getrlimit(resource.RLIMIT_AS)
    yield
    if resource.getrlimit(resource.RLIMIT_AS) != before:
        resource.setrlimit(resource.RLIMIT_AS, before)


@pytest.fixture(autouse=True)
def _forget_active_plugins() -> Iterator[None]:
    """Processing activates a plugin set (site plugins, provenance versions) for the whole
    process; a test that processes must not leave its set to the next test."""
    from overwatch.detectors.registry import deactivate_plugins  # noqa: PLC0415

    yield
    deactivate_plugins()


@pytest.fixture(autouse=True)
def _restore_metrics_directory() -> Iterator[None]:
    """A metrics server run in this process names its directory in the environment
    (PROMETHEUS_MULTIPROC_DIR) for its workers; a later test must not inherit it."""
    name = "PROMETHEUS_MULTIPROC_DIR"
    before = os.environ.get(name)
    yield
    if before is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = before
