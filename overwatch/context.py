"""What every command gets: the settings and the database, created on first use.

Kept apart from :mod:`overwatch.cli` so that command modules import this small
module, never the entry point (which would form an import circle), and so that
``overwatch --help`` loads neither settings nor a database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import click

from overwatch.config import ConfigError
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.logs import check_sentry
from overwatch.logs import configure_logging

if TYPE_CHECKING:
    from overwatch.storage import Database

__all__ = ["AppContext", "parent_pid_option", "pass_app", "stop_with_parent"]


class AppContext:
    """Settings and database, created on first use so ``--help`` works without either."""

    def __init__(self, config_file: str | None, overrides: dict[str, Any]) -> None:
        self.config_file = config_file
        self.overrides = overrides
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                settings = load_settings(self.config_file, overrides=self.overrides)
                check_sentry(settings)
            except ConfigError as exc:
                raise click.ClickException(f"bad configuration: {exc}") from exc
            configure_logging(settings)
            self._settings = settings
        return self._settings

    def database(self, *, migrate: bool = True) -> Database:
        from overwatch.storage import Database  # noqa: PLC0415 - SQLAlchemy only when needed
        from overwatch.storage import DatabaseError  # noqa: PLC0415

        if self._db is None:
            try:
                self.settings.check_writable(data_dir=False)
            except ConfigError as exc:
                raise click.ClickException(f"bad configuration: {exc}") from exc
            try:
                db = Database(self.settings.effective_database_url)
                if migrate:
                    db.ensure_schema()
            except DatabaseError as exc:
                raise click.ClickException(str(exc)) from exc
            self._db = db
        return self._db

    def require_writable_data_dir(self) -> None:
        """For commands that write into the data directory: fail at start, naming the key."""
        try:
            self.settings.check_writable()
        except ConfigError as exc:
            raise click.ClickException(f"bad configuration: {exc}") from exc

    def close(self) -> None:
        """Release database connections (called when the command ends)."""
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


#: ``--parent-pid PID``, hidden: for a command another one starts and supervises
#: (``overwatch demo`` starts ``overwatch web`` and ``overwatch process``).
parent_pid_option = click.option(
    "--parent-pid",
    type=click.IntRange(min=1),
    hidden=True,
    help="Stop (as on SIGTERM) when the process PID that started this one ends.",
)


def stop_with_parent(parent_pid: int) -> None:
    """Have SIGTERM sent to this process when ``parent_pid`` ends, even by ``kill -9``."""
    import signal  # noqa: PLC0415

    from overwatch.processing.lifeline import exit_with_parent  # noqa: PLC0415

    exit_with_parent(parent_pid, signal.SIGTERM)
