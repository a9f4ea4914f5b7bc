"""Click commands for processing, the database and the demo (attached in :mod:`overwatch.cli`)."""

from __future__ import annotations

import sys
from datetime import UTC
from datetime import datetime
from typing import Any

import click

from overwatch.context import AppContext
from overwatch.context import parent_pid_option
from overwatch.context import pass_app
from overwatch.context import stop_with_parent

__all__ = ["db_group", "demo_command", "process_command"]


def _print_scan(report: Any) -> None:
    click.echo(f"scan: {report.summary()}")
    for name, reason in report.quarantined:
        click.echo(f"  quarantined {name}: {reason}", err=True)


def _run_pass(app: AppContext, workers: int | None, *, scan_first: bool = False) -> int:
    """Process everything queued (after a scan of the data directory with ``scan_first``),
    with a progress bar on a terminal; returns failures."""
    from overwatch.processing.daemon import process_pending  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415

    settings, db = app.settings, app.database()

    def intake() -> None:
        _print_scan(scan(settings, db))

    first = intake if scan_first else None
    if sys.stderr.isatty():
        with click.progressbar(length=1, label="processing", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            summary = process_pending(
                settings, db, workers=workers, progress=progress, intake=first
            )
    else:
        summary = process_pending(settings, db, workers=workers, intake=first)
    rate = summary.histograms / summary.seconds if summary.seconds else 0.0
    click.echo(
        f"processed: {summary.done} job(s) done, "
        + (f"{summary.skipped} skipped (nothing new), " if summary.skipped else "")
        + f"{summary.failed} failed, "
        f"{summary.histograms} histogram(s) in {summary.seconds:.1f} s ({rate:.0f}/s)"
    )
    for job_id, reason in summary.failures:
        click.echo(f"  job {job_id} failed: {reason}", err=True)
    return summary.failed


def _notify_once(app: AppContext) -> None:
    """After a ``--once`` pass, deliver the notifications it made due (if channels are set)."""
    if not app.settings.notifications:
        return
    from overwatch.processing.notify import deliver_notifications  # noqa: PLC0415

    report = deliver_notifications(app.settings, app.database())
    click.echo(
        f"notifications: {report.planned} alarm(s) due, {report.sent} message(s) sent, "
        f"{report.retrying} to retry, {report.failed} failed"
    )


@click.command("process")
@click.option("--once", is_flag=True, help="Process everything pending, print a summary and exit.")
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Worker processes (default: processing_workers)."
)
@parent_pid_option
@pass_app
def process_command(
    app: AppContext, once: bool, workers: int | None, parent_pid: int | None
) -> None:
    """Scan the data directory and process new files (overwatchProcessing).

    Without --once, runs as a daemon: scans every scan_interval seconds and stops
    cleanly on SIGTERM or Ctrl-C after the current job.
    """
    from overwatch.processing.daemon import run_daemon  # noqa: PLC0415
    from overwatch.processing.limits import limit_memory  # noqa: PLC0415

    if parent_pid is not None:
        stop_with_parent(parent_pid)
    app.require_writable_data_dir()
    settings, db = app.settings, app.database()
    # This process runs jobs too; its worker children set the same limit themselves.
    limit_memory(settings.worker_memory_limit_mb)
    if once:
        failed = _run_pass(app, workers, scan_first=True)
        from overwatch.processing.alarms import clear_alarms_of_removed_rules  # noqa: PLC0415

        clear_alarms_of_removed_rules(settings, db)
        _notify_once(app)
        sys.exit(1 if failed else 0)
    run_daemon(settings, db, workers=workers)


@click.group("db")
def db_group() -> None:
    """Database schema and contents."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Apply schema migrations."""
    db = app.database(migrate=False)
    db.upgrade(revision)
    click.echo(f"database at revision {db.current_revision()}")


@db_group.command("current")
@pass_app
def db_current(app: AppContext) -> None:
    """Show the schema revision and the newest one this version knows."""
    db = app.database(migrate=False)
    click.echo(f"current: {db.current_revision()}  head: {db.head_revision()}  ({db!r})")


@db_group.command("rebuild")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--process/--no-process", default=True, show_default=True, help="Process the runs afterwards."
)
@pass_app
def db_rebuild(app: AppContext, yes: bool, process: bool) -> None:
    """Re-derive the whole database from the files on disk and in the archive (users are kept)."""
    from sqlalchemy import delete  # noqa: PLC0415

    from overwatch.processing.scan import register_existing  # noqa: PLC0415
    from overwatch.storage.models import Alarm  # noqa: PLC0415
    from overwatch.storage.models import DaemonHeartbeat  # noqa: PLC0415
    from overwatch.storage.models import Job  # noqa: PLC0415
    from overwatch.storage.models import QuarantinedFile  # noqa: PLC0415
    from overwatch.storage.models import Run  # noqa: PLC0415
    from overwatch.storage.models import TrendValue  # noqa: PLC0415

    settings, db = app.settings, app.database()
    if not yes:
        click.confirm(
            f"Delete everything derived in {db!r} and rebuild it from {settings.data_dir} "
            f"and the archive {settings.effective_archive_dir}?",
            abort=True,
        )
    with db.session() as session:
        for model in (Job, Alarm, TrendValue, Run, QuarantinedFile, DaemonHeartbeat):
            session.execute(delete(model))
    report = register_existing(settings, db)
    click.echo(
        f"rebuild: {len(report.registered)} file(s) registered, {report.jobs_queued} job(s) queued"
    )
    if process:
        sys.exit(1 if _run_pass(app, None) else 0)


@db_group.command("register-files")
@pass_app
def db_register_files(app: AppContext) -> None:
    """Register files under Run<N>/ the database lacks (after restoring an older dump)."""
    from overwatch.processing.scan import register_existing  # noqa: PLC0415

    report = register_existing(app.settings, app.database(), only_unknown=True)
    click.echo(
        f"register-files: {len(report.registered)} file(s) registered, "
        f"{report.jobs_queued} job(s) queued (overwatch process runs them)"
    )
    for name, reason in report.quarantined:
        click.echo(f"  quarantined {name}: {reason}", err=True)


@click.command("demo")
@click.option("--runs", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option(
    "--minutes",
    type=click.IntRange(2, 240),
    default=12,
    show_default=True,
    help="Snapshots (one a minute) per run.",
)
@click.option(
    "--serve/--no-serve", default=True, show_default=True, help="Start the web app afterwards."
)
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="While serving, keep the newest run going: a new snapshot every few seconds.",
)
@click.option(
    "--smtp-sink",
    is_flag=True,
    help="Start a local SMTP server and e-mail every alarm to it (printed, kept in data/mail/).",
)
@pass_app
def demo_command(
    app: AppContext, runs: int, minutes: int, serve: bool, live: bool, smtp_sink: bool
) -> None:
    """Write a synthetic data set (EMC, HLT, TPC), process it and start the web app."""
    sink = _start_smtp_sink(app) if smtp_sink else None
    try:
        _demo(app, runs, minutes, serve, live, sink=sink)
    finally:
        if sink is not None:
            sink.stop()


def _start_smtp_sink(app: AppContext) -> Any:
    """Start the demo's SMTP server and route every alarm to it, in this process and in
    the daemon the demo starts (which inherits the environment)."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415

    from overwatch.demo.mailsink import MailSink  # noqa: PLC0415
    from overwatch.demo.mailsink import demo_notifications  # noqa: PLC0415

    sink = MailSink()
    port = sink.start()
    notifications = demo_notifications(port)
    app.overrides["notifications"] = notifications
    os.environ["OVERWATCH_NOTIFICATIONS"] = json.dumps(notifications)
    sink.keep_in(app.settings.data_dir / "mail")
    click.echo(f"smtp sink on 127.0.0.1:{port}: every alarm is e-mailed there once")
    return sink


def _demo(
    app: AppContext,
    runs: int,
    minutes: int,
    serve: bool,
    live: bool,
    *,
    sink: Any,
) -> None:
    from overwatch.demo import FIRST_RUN  # noqa: PLC0415
    from overwatch.demo import generate_demo_data  # noqa: PLC0415
    from overwatch.demo.reset import forget_previous_demo  # noqa: PLC0415
    from overwatch.demo.reset import next_demo_run  # noqa: PLC0415
    from overwatch.demo.reset import remember_demo_runs  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415

    app.require_writable_data_dir()
    settings, db = app.settings, app.database()
    # A second demo in the same place replaces the first one's runs (and only those).
    replaced = forget_previous_demo(settings, db)
    if replaced:
        click.echo(f"replacing the earlier demo runs {replaced[0]}-{replaced[-1]}")
    first_run = next_demo_run(db, FIRST_RUN)
    click.echo(f"writing demo runs {first_run}-{first_run + runs - 1} into {settings.data_dir} ...")
    with click.progressbar(length=runs * minutes * 3, label="demo files", file=sys.stderr) as bar:
        files = generate_demo_data(
            settings.data_dir,
            settings.tz,
            runs=runs,
            minutes=minutes,
            now=datetime.now(UTC),
            first_run=first_run,
            progress=lambda done, total: bar.update(done - bar.pos),
        )
    remember_demo_runs(settings.data_dir, range(first_run, first_run + runs))
    click.echo(f"wrote {len(files)} receiver file(s)")
    # The files were just written; they are complete (atomic rename), so no settle wait.
    from dataclasses import replace  # noqa: PLC0415

    _print_scan(scan(replace(settings, file_settle_seconds=0.0), db))
    failed = _run_pass(app, None)
    if sink is not None:
        _notify_once(app)
    if failed:
        sys.exit(1)
    _demo_references(app)
    if not serve:
        return
    serve_demo = _find_web_demo()
    if serve_demo is None:
        click.echo("the web app is not built yet; processing results are in the database.")
        return
    ongoing = {"run_number": first_run + runs - 1, "index": runs - 1, "runs": runs}
    status = serve_demo(app, live={**ongoing, "minutes_done": minutes} if live else None)
    if status:
        sys.exit(status)


def _demo_references(app: AppContext) -> None:
    """A reference run per subsystem (its first clean run), so run pages can overlay it."""
    from overwatch.storage.references import set_first_good_references  # noqa: PLC0415

    with app.database().session() as session:
        views = set_first_good_references(session, set_by="demo")
    for view in views:
        click.echo(f"{view.subsystem}: run {view.run_number} is the reference for every run")


def _find_web_demo() -> Any:
    try:
        from overwatch.webapp.commands import serve_demo  # noqa: PLC0415
    except ImportError:
        return None
    return serve_demo
