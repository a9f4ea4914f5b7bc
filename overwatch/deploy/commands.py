"""``overwatch deploy render`` and ``overwatch deploy check`` (overwatchDeploy).

Named in :data:`overwatch.cli.COMMANDS`; Jinja2 and the checks load only when a
subcommand runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["deploy_group"]


def _notes(app: AppContext) -> list[str]:
    settings = app.settings
    notes = []
    if not settings.web_behind_proxy:
        notes.append(
            "nginx sends X-Forwarded-For/-Proto/-Host: set web_behind_proxy: true so the app "
            "trusts them (client addresses for login limits, https links)"
        )
    if settings.deploy.tls and not settings.web_secure_cookies:
        notes.append(
            "TLS is on: set web_secure_cookies: true so session cookies go over https only"
        )
    if settings.database_url is None or settings.database_url.startswith("sqlite"):
        notes.append(
            "the database is SQLite: fine for one machine; the compose file uses PostgreSQL"
        )
    return notes


@click.group("deploy")
def deploy_group() -> None:
    """Render and check systemd, gunicorn, nginx and container files (overwatchDeploy)."""


@deploy_group.command("render")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (created if missing).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--quiet", is_flag=True, help="Only the summary, no diffs.")
@pass_app
def render(app: AppContext, output: Path, dry_run: bool, quiet: bool) -> None:
    """Write the deployment files for these settings; show a diff of what changed."""
    from overwatch.deploy.render import render_files  # noqa: PLC0415
    from overwatch.deploy.render import write_files  # noqa: PLC0415

    changes = write_files(render_files(app.settings), output, dry_run=dry_run)
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.status] = counts.get(change.status, 0) + 1
        if change.status != "unchanged":
            click.echo(f"{change.status:<9} {output / change.path}")
        if change.diff and change.status != "created" and not quiet:
            click.echo(change.diff, nl=False)
    summary = ", ".join(
        f"{counts[s]} {s}" for s in ("created", "changed", "removed", "unchanged") if s in counts
    )
    verb = "would be written" if dry_run else "written"
    click.echo(f"{output}: {summary}" + (f" ({verb})" if dry_run else ""))
    for note in _notes(app):
        click.echo(f"note: {note}")


@deploy_group.command("check")
@click.option(
    "--output",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Rendered files to check (default: render into a temporary directory first).",
)
@pass_app
def check(app: AppContext, output: Path | None) -> None:
    """Validate the deployment files: the settings, nginx -t, systemd-analyze verify."""
    from overwatch.deploy.check import check_gunicorn_config  # noqa: PLC0415
    from overwatch.deploy.check import check_nginx  # noqa: PLC0415
    from overwatch.deploy.check import check_systemd  # noqa: PLC0415
    from overwatch.deploy.render import render_files  # noqa: PLC0415
    from overwatch.deploy.render import write_files  # noqa: PLC0415

    settings = app.settings
    source = settings.config_file or "defaults and environment"
    click.echo(f"ok       settings: loaded from {source} (deploy section included)")
    with tempfile.TemporaryDirectory(prefix="overwatch-deploy-") as tmp:
        directory = output
        if directory is None:
            directory = Path(tmp)
            write_files(render_files(settings), directory)
            click.echo(f"         rendered into {directory}")
        results = [
            check_gunicorn_config(directory),
            check_nginx(directory),
            check_systemd(directory, settings),
        ]
        for result in results:
            click.echo(f"{result.status:<8} {result.name}: {result.detail}")
            for note in result.notes:
                click.echo(f"         note: {note}")
    failed = [result.name for result in results if result.status == "failed"]
    if failed:
        raise click.ClickException(f"deploy check failed: {', '.join(failed)}")
