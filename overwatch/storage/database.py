"""Engine, sessions and schema migrations for SQLite and PostgreSQL.

:class:`Database` wraps one engine and its session factory. SQLite files get WAL,
foreign keys and a busy timeout; PostgreSQL URLs are routed to psycopg 3, and its
pool tests each connection before use unless ``pre_ping=False`` (the web app's
default, where the round trip costs a third of a small request). The
schema is owned by Alembic: :meth:`Database.upgrade` migrates to the newest
revision, and :meth:`Database.ensure_schema` does so for an empty database on start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = ["POOL_RECYCLE_SECONDS", "SCHEMA_HEAD", "Database", "DatabaseError", "normalize_url"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration of this version. Start-up compares the database with it by one
#: query, so a migrated database costs no Alembic import; a test keeps it equal to the
#: head of ``migrations/versions``.
SCHEMA_HEAD = "0006_trending"


#: A pooled PostgreSQL connection older than this is replaced when next taken.
POOL_RECYCLE_SECONDS = 1800


class DatabaseError(RuntimeError):
    """The database cannot be used (bad URL, unreachable, schema too new)."""


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    return parsed


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs every step at INFO (its plugins, its context, each revision it runs):
    noise to a shift crew starting a command. Below DEBUG it keeps to warnings, and
    :meth:`Database.upgrade` says in one line of its own what changed."""
    alembic_log = logging.getLogger("alembic")
    if log.isEnabledFor(logging.DEBUG) or alembic_log.level > logging.INFO:
        yield
        return
    previous = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(previous)


class Database:
    """One database: engine, sessions and migrations."""

    def __init__(self, url: str, *, echo: bool = False, pre_ping: bool = True) -> None:
        self.url = normalize_url(url)
        # JSON columns (histogram info, options, alarm history) through orjson: a job
        # writes one per histogram, the web app reads them on every page.
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _json_text,
            "json_deserializer": orjson.loads,
        }
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # The processing daemon and web workers share the file from other threads.
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            # Without the pre-ping a connection the server dropped is noticed when a
            # statement fails on it; SQLAlchemy then discards it and every older pooled
            # one, so only that transaction fails. Recycling bounds how long a
            # connection idles (firewalls drop idle connections silently).
            kwargs["pool_pre_ping"] = pre_ping
            kwargs["pool_recycle"] = POOL_RECYCLE_SECONDS
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def new_session(self) -> Session:
        """A plain session; the caller manages transactions and closing."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations ---------------------------------------------------------------

    def alembic_config(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - migrations only

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def current_revision(self) -> str | None:
        """The schema revision the database is at; None for an empty database."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        return str(rows[0][0]) if rows else None

    def head_revision(self) -> str | None:
        with _quiet_alembic():
            from alembic.script import ScriptDirectory  # noqa: PLC0415 - migrations only

            return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema (``overwatch db upgrade``); one INFO line says so if it changed."""
        before = self.current_revision()
        with _quiet_alembic():
            from alembic import command  # noqa: PLC0415 - migrations only

            command.upgrade(self.alembic_config(), revision)
        after = self.current_revision()
        if after != before:
            log.info("database schema migrated: %s -> %s", before or "empty", after)

    def ensure_schema(self) -> None:
        """Migrate an empty or older database; refuse one newer than this code."""
        try:
            current = self.current_revision()
        except Exception as exc:
            raise DatabaseError(f"cannot reach {self!r}: {exc}") from exc
        if current == SCHEMA_HEAD:
            return
        with _quiet_alembic():
            from alembic.script import ScriptDirectory  # noqa: PLC0415 - migrations only

            script = ScriptDirectory.from_config(self.alembic_config())
        if current is not None and script.get_revision(current) is None:
            raise DatabaseError(
                f"{self!r} is at schema revision {current}, unknown to this Overwatch version"
            )
        self.upgrade()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
