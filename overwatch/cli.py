"""The ``overwatch`` command group and the classic entry points onto it.

``overwatchProcessing`` = ``overwatch process``, ``overwatchWebApp`` =
``overwatch web``, ``overwatchDQMReceiver`` = ``overwatch receive dqm``,
``overwatchDeploy`` = ``overwatch deploy``. Settings are loaded once per call
from ``--config`` / ``OVERWATCH_CONFIG`` / ``./config.yaml`` and the environment.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from overwatch import __version__
from overwatch.context import AppContext
from overwatch.context import pass_app

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


@dataclass(frozen=True)
class LazyCommand:
    """A subcommand named by where it lives, imported only when it is run.

    ``target`` is ``module:attribute``; the attribute is a click command, or a function
    returning one. ``summary`` is shown by ``overwatch --help`` without importing the
    module; a test keeps it equal to the command's own short help.
    """

    target: str
    summary: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        command = found if isinstance(found, click.Command) else found()
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


#: Every subcommand of ``overwatch``; each module's heavy imports load only when it runs.
COMMANDS: dict[str, LazyCommand] = {
    "process": LazyCommand(
        "overwatch.commands:process_command",
        "Scan the data directory and process new files (overwatchProcessing).",
    ),
    "db": LazyCommand("overwatch.commands:db_group", "Database schema and contents."),
    "demo": LazyCommand(
        "overwatch.commands:demo_command",
        "Write a synthetic data set (EMC, HLT, TPC), process it and start the web app.",
    ),
    "web": LazyCommand(
        "overwatch.webapp.commands:web_command",
        "Serve the web app (overwatchWebApp): gunicorn, or Flask's server with --debug.",
    ),
    "users": LazyCommand(
        "overwatch.webapp.commands:users_group",
        "User accounts (roles: viewer, expert, admin) and API tokens.",
    ),
    "receive": LazyCommand(
        "overwatch.receivers.commands:receive_group",
        "Receivers that bring ROOT files into the data directory.",
    ),
    "agents": LazyCommand(
        "overwatch.receivers.commands:agents_group",
        "DQM agents allowed to upload, each with its own token.",
    ),
    "replay": LazyCommand(
        "overwatch.receivers.stream_commands:replay_command",
        "Replay archived receiver files (Run<N>/ folders or loose files) in time order.",
    ),
    "reference": LazyCommand(
        "overwatch.reference_commands:reference_group",
        "Reference runs per subsystem, which reference checks compare with.",
    ),
    "prune": LazyCommand(
        "overwatch.retention_commands:prune_command",
        "Remove surplus received files, archive old runs and expire request results.",
    ),
    "notify": LazyCommand(
        "overwatch.notify_commands:notify_group",
        "Alarm notification channels: list them, send a test message.",
    ),
    "trending": LazyCommand(
        "overwatch.trending_commands:trending_group",
        "Trend values: back-fill new trend definitions from what is stored.",
    ),
    "reprocess": LazyCommand(
        "overwatch.bulk_commands:reprocess_command",
        "Re-derive the stored results of many runs, locally or on a Dask cluster.",
    ),
    "deploy": LazyCommand(
        "overwatch.deploy.commands:deploy_group",
        "Render and check systemd, gunicorn, nginx and container files (overwatchDeploy).",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands come from :data:`COMMANDS`, imported on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(COMMANDS[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(formatter.width)))
            else:
                rows.append((name, COMMANDS[name].summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
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
