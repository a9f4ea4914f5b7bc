"""The ``overwatch`` command run in this process on a test's data directory and database.

Each call opens the command's own database engine: a test that runs commands takes
the ``close_cli_databases`` fixture (``tests/conftest.py``) so that no connection
outlives it.
"""

from __future__ import annotations

from click.testing import CliRunner
from click.testing import Result

from overwatch.cli import cli
from overwatch.config import Settings

__all__ = ["run_cli"]


def run_cli(
    settings: Settings, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """``overwatch --data-dir … --database-url … ARGS`` with ``stdin`` as its input."""
    options = [
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.effective_database_url,
    ]
    return CliRunner(env=env).invoke(cli, [*options, *args], input=stdin, catch_exceptions=False)
