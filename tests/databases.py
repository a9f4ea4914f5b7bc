"""A private database for one test or one benchmark run, removed afterwards.

:func:`private_schema` makes a fresh schema on a PostgreSQL server and yields a URL
whose ``search_path`` is that schema, so runs side by side on one server never see
each other's tables; the schema is dropped with everything in it at the end.
:func:`private_database` is a SQLite file in a directory when no server is named.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

__all__ = ["private_database", "private_schema"]


@contextmanager
def private_schema(base: str, prefix: str = "test") -> Iterator[str]:
    """A new schema ``<prefix>_<random>`` on the PostgreSQL server at ``base``."""
    server = make_url(base).set(drivername="postgresql+psycopg")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except BaseException:
        admin.dispose()
        raise
    try:
        yield server.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def private_database(url: str | None, directory: Path, prefix: str = "test") -> Iterator[str]:
    """A private schema on the PostgreSQL server at ``url``, or without one a SQLite
    file ``overwatch.db`` in ``directory``."""
    if url is None:
        yield f"sqlite:///{directory / 'overwatch.db'}"
        return
    with private_schema(url, prefix) as schema_url:
        yield schema_url
