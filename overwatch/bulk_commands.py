"""``overwatch reprocess``: re-derive many runs after a plugin or check changed.

Runs on this machine's worker processes by default, or on a Dask distributed
cluster with ``--scheduler`` (docs/operations.md); see :mod:`overwatch.processing.bulk`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["reprocess_command"]


def _runs_option(_ctx: click.Context, _param: click.Parameter, text: str | None) -> Any:
    from overwatch.storage.references import parse_runs  # noqa: PLC0415 - SQLAlchemy on use

    try:
        return parse_runs(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("reprocess")
@click.option("--runs", callback=_runs_option, help="Run numbers A-B (default: every run).")
@click.option("--subsystem", help="Only this subsystem (default: all).")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="A Dask scheduler (tcp://host:8786) to run the jobs on; default: local workers.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Local worker processes (default: processing_workers).",
)
@pass_app
def reprocess_command(
    app: AppContext,
    runs: tuple[int, int] | None,
    subsystem: str | None,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Re-derive the stored results of many runs, locally or on a Dask cluster."""
    from overwatch.processing import bulk  # noqa: PLC0415

    settings, db = app.settings, app.database()
    job_ids = bulk.queue(settings, db, runs=runs, subsystem=subsystem)
    if not job_ids:
        click.echo("nothing to reprocess: no run matches", err=True)
        sys.exit(1)
    where = f"Dask scheduler {scheduler}" if scheduler else "local workers"
    click.echo(f"queued {len(job_ids)} job(s); running them on {where}")

    def run(progress: Any) -> Any:
        if scheduler:
            try:
                return bulk.run_on_dask(settings, db, job_ids, scheduler, progress=progress)
            except (RuntimeError, OSError) as exc:
                raise click.ClickException(str(exc)) from exc
        return bulk.run_local(settings, db, job_ids, workers=workers, progress=progress)

    if sys.stderr.isatty():
        with click.progressbar(length=len(job_ids), label="reprocessing", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.pos)

            summary = run(progress)
    else:
        summary = run(None)
    click.echo(summary.line())
    for job_id, reason in summary.failures:
        click.echo(f"  job {job_id} failed: {reason}", err=True)
    sys.exit(1 if summary.failed else 0)
