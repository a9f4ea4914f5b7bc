"""A PostgreSQL connection dropped under the web app costs at most one request.

The pool does not test connections before use (``web_database_pre_ping`` off, the
default): a request on a connection the server has closed fails once with 503 and
``Retry-After``, and the next request gets a fresh connection. With the pre-ping on,
not even that request fails.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text

from overwatch.config import Settings
from overwatch.storage import Database
from tests.webapp.conftest import log_in


def _kill_pooled_connections(app: Flask, database_url: str) -> int:
    """Terminate, from outside, the server processes behind the app's pooled connections."""
    engine = app.extensions["overwatch"].db.engine
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    killer = create_engine(engine.url)
    try:
        with killer.connect() as connection:
            killed = connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            ).scalar_one()
    finally:
        killer.dispose()
    assert killed
    return int(pid)


@pytest.mark.parametrize("pre_ping", [False, True])
def test_a_killed_connection_fails_at_most_one_request(
    make_settings: Callable[..., Settings],
    database_url: str,
    make_app: Callable[..., Flask],
    db: Database,
    users: dict[str, str],
    pre_ping: bool,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server process to terminate")
    settings = make_settings(web_database_pre_ping=pre_ping)
    app = make_app(settings)
    client = app.test_client()
    log_in(client, "viewer", users["viewer"])
    assert client.get("/api/v1/runs").status_code == 200
    killed = _kill_pooled_connections(app, database_url)
    statuses = [client.get("/api/v1/runs") for _ in range(3)]
    codes = [response.status_code for response in statuses]
    if pre_ping:
        assert codes == [200, 200, 200]
    else:
        assert codes == [503, 200, 200]
        first = statuses[0]
        assert first.headers["Retry-After"] == "1"
        assert "connection to the database was lost" in first.get_json()["error"]["reason"]
    with app.extensions["overwatch"].db.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != killed
