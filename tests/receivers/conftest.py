"""Fixtures for receiver tests: a running DQM receiver and an agent token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.agents import create_agent
from tests.receivers.dqmserver import DqmServer

#: Limits small enough that the hostile cases stay quick.
TEST_LIMITS = {
    "upload_max_bytes": 4 * 1024 * 1024,
    "upload_max_inflated_bytes": 32 * 1024 * 1024,
    "upload_timeout_seconds": 2,
}


@pytest.fixture
def token(db: Database) -> str:
    """The token of agent EMC."""
    with db.session() as session:
        return create_agent(session, "EMC")


@pytest.fixture
def dqm_server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[DqmServer]:
    server = DqmServer(settings, tmp_path, **TEST_LIMITS).start()
    try:
        yield server
    finally:
        server.stop()
