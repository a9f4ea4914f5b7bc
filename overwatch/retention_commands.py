"""``overwatch prune [--dry-run]``: apply the retention policies once (docs/operations.md)."""

from __future__ import annotations

import sys

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["prune_command"]


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed or archived.")
@pass_app
def prune_command(app: AppContext, dry_run: bool) -> None:
    """Remove surplus received files, archive old runs and expire request results."""
    from overwatch.processing.retention import prune  # noqa: PLC0415

    settings = app.settings
    if not dry_run:
        app.require_writable_data_dir()
    click.echo(
        "policies: keep "
        + (
            f"the newest {settings.keep_received_files} file(s) per run and subsystem"
            if settings.keep_received_files
            else "all received files"
        )
        + "; archive "
        + (
            f"runs older than {settings.archive_after_days:g} day(s) to "
            f"{settings.effective_archive_dir}"
            if settings.archive_after_days
            else "nothing"
        )
        + f"; request results for {settings.request_results_keep_days:g} day(s)"
    )
    db = app.database()
    if dry_run or not sys.stderr.isatty():
        report = prune(settings, db, dry_run=dry_run)
    else:
        with click.progressbar(length=1, label="pruning", file=sys.stderr) as bar:
            first = prune(settings, db, dry_run=True)
            bar.length = max(first.files_removed + first.files_archived, 1)
            report = prune(settings, db, progress=bar.update)
    click.echo(report.summary())
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1 if report.problems else 0)
