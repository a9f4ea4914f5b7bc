"""The ``overwatch`` command group and the classic entry points onto it.

``overwatchProcessing`` = ``overwatch process``, ``overwatchWebApp`` =
``overwatch web``, ``overwatchDQMReceiver`` = ``overwatch receive dqm``,
``overwatchDeploy`` = ``overwatch deploy``. Settings are loaded once per call
from ``--config`` / ``OVERWATCH_CONFIG`` / ``./config.yaml`` and the environment.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from overwatch import __version__
from overwatch.config import ConfigError
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.storage import Database
from overwatch.storage import DatabaseError

__all__ = [
    "AppContext",
    "cli",
    "deploy_main",
    "dqm_receiver_main",
    "main",
    "pass_app",
    "processing_main",
    "webapp_main",
]


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
                self._settings = load_settings(self.config_file, overrides=self.overrides)
            except ConfigError as exc:
                raise click.ClickException(f"bad configuration: {exc}") from exc
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        return self._settings

    def database(self, *, migrate: bool = True) -> Database:
        if self._db is None:
            try:
                db = Database(self.settings.effective_database_url)
                if migrate:
                    db.ensure_schema()
            except DatabaseError as exc:
                raise click.ClickException(str(exc)) from exc
            self._db = db
        return self._db

    def close(self) -> None:
        """Release database connections (called when the command ends)."""
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


@click.group()
@click.version_option(__version__, prog_name="overwatch")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Settings file (default ./config.yaml).",
)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Override the data directory.")
@click.option("--database-url", help="Override the database URL.")
@click.pass_context
def cli(
    ctx: click.Context, config_file: str | None, data_dir: str | None, database_url: str | None
) -> None:
    """Overwatch: online data-quality monitoring of ROOT histograms."""
    overrides: dict[str, Any] = {}
    if data_dir:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    ctx.obj = AppContext(config_file, overrides)
    ctx.call_on_close(ctx.obj.close)


@cli.group("config")
def config_group() -> None:
    """Inspect settings."""


@config_group.command("show")
@pass_app
def config_show(app: AppContext) -> None:
    """Print the effective settings and where each came from (secrets masked)."""
    rows = app.settings.describe()
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {value:<40}  [{source}]")


def _register_subcommands() -> None:
    # Imported here, not at module top, so each part's heavy imports load only when used.
    from overwatch.commands import db_group  # noqa: PLC0415
    from overwatch.commands import demo_command  # noqa: PLC0415
    from overwatch.commands import process_command  # noqa: PLC0415

    cli.add_command(process_command)
    cli.add_command(db_group)
    cli.add_command(demo_command)
    try:
        from overwatch.webapp.commands import register_commands  # noqa: PLC0415
    except ImportError:
        cli.add_command(_not_built("web", "the web app"))
        cli.add_command(_not_built("users", "user management"))
    else:
        register_commands(cli)
    from overwatch.receivers.commands import agents_group  # noqa: PLC0415
    from overwatch.receivers.commands import receive_group  # noqa: PLC0415

    cli.add_command(receive_group)
    cli.add_command(agents_group)
    cli.add_command(_not_built("deploy", "deployment"))


def _not_built(name: str, what: str) -> click.Command:
    @click.command(
        name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
    )
    def command() -> None:
        click.echo(f"overwatch {name}: {what} is not built yet.", err=True)
        sys.exit(2)

    command.help = f"({what}: not built yet)"
    return command


_register_subcommands()


def main() -> None:
    cli()


_GROUP_OPTIONS = {"--config", "--data-dir", "--database-url"}


def _alias(*subcommand: str) -> None:
    """Run ``overwatch <subcommand>``, keeping group options (``--config``...) in front of it."""
    args = sys.argv[1:]
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name = arg.split("=", 1)[0]
        if name in _GROUP_OPTIONS:
            front.append(arg)
            if "=" not in arg and index + 1 < len(args):
                front.append(args[index + 1])
                index += 1
        elif arg == "--version" and not rest:
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    cli.main(args=[*front, *subcommand, *rest], prog_name=Path(sys.argv[0]).name)


def processing_main() -> None:
    _alias("process")


def webapp_main() -> None:
    _alias("web")


def dqm_receiver_main() -> None:
    _alias("receive", "dqm")


def deploy_main() -> None:
    _alias("deploy")
