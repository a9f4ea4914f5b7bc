"""The processing daemon: an APScheduler schedule plus worker processes.

The schedule is data (:func:`schedule`): scan the data directory, reclaim jobs of
dead workers, publish the daemon's heartbeat, deliver alarm notifications (in the
scheduler's threads, with deadlines, never inside a job), and once a day apply the
retention policy (old request results, surplus files, archiving). Worker loops claim
jobs from the database, so any number of them,
in this process, in child processes or on other machines, share the queue safely.
SIGTERM/SIGINT stop everything after the current job; worker processes also stop
when the daemon is killed outright (see :mod:`overwatch.processing.lifeline`).
SIGHUP, or an edit of a plugin module or of the check settings, reloads plugins
and checks without a restart (:mod:`overwatch.processing.reload`).
Also here: :func:`process_pending`, the ``--once`` mode.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from overwatch import __version__
from overwatch.config import Settings
from overwatch.logs import configure_logging
from overwatch.logs import init_sentry
from overwatch.metrics.daemon import DaemonMetrics
from overwatch.processing.lifeline import exit_with_parent
from overwatch.processing.lifeline import parent_alive
from overwatch.processing.limits import limit_memory
from overwatch.processing.reload import PluginReloader
from overwatch.processing.reload import ReloadSignal
from overwatch.processing.scan import scan
from overwatch.storage import Database
from overwatch.storage.jobs import SKIPPED_NOTE
from overwatch.storage.jobs import queue_counts
from overwatch.storage.jobs import reclaim_expired
from overwatch.storage.jobs import worker_name
from overwatch.storage.models import DaemonHeartbeat
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import utcnow

if TYPE_CHECKING:
    from overwatch.processing.worker import JobOutcome

__all__ = [
    "PassSummary",
    "ScheduledTask",
    "apply_retention",
    "process_pending",
    "publish_heartbeat",
    "run_daemon",
    "schedule",
]

log = logging.getLogger(__name__)

#: Seconds an idle worker waits before asking the queue again.
IDLE_POLL_SECONDS = 1.0
#: ``--once`` starts one more worker process per this many queued jobs (up to the setting).
JOBS_PER_EXTRA_PROCESS = 16
#: How often a worker started before its scan finished looks for the next batch's jobs.
GATE_POLL_SECONDS = 0.05
#: Old results of user requests are pruned this often.
PRUNE_INTERVAL_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    func: Callable[[Settings, Database], Any]
    seconds: float


def _reclaim(settings: Settings, db: Database) -> None:
    with db.session() as session:
        reclaimed = reclaim_expired(session, settings.job_lease_seconds)
    if reclaimed:
        log.warning("reclaimed jobs of dead workers: %s", reclaimed)


def publish_heartbeat(
    settings: Settings,
    db: Database,
    *,
    name: str | None = None,
    started: datetime | None = None,
    plugins: dict[str, Any] | None = None,
) -> None:
    """Record that this daemon is alive (shown on the status page), with its plugins'
    versions and the last reload error (``plugins``, see :meth:`PluginReloader.info`)."""
    name = name or f"processing@{worker_name()}"
    now = utcnow()
    with db.session() as session:
        row = session.scalars(
            select(DaemonHeartbeat).where(DaemonHeartbeat.name == name)
        ).one_or_none()
        if row is None:
            row = DaemonHeartbeat(name=name, started_at=started or now, heartbeat_at=now, info={})
            session.add(row)
        row.heartbeat_at = now
        row.info = {
            "version": __version__,
            "scan_interval": settings.scan_interval,
            "queue": queue_counts(session),
        }
        if plugins is not None:
            row.info["plugins"] = plugins


def _scan(settings: Settings, db: Database) -> None:
    scan(settings, db)


def apply_retention(settings: Settings, db: Database) -> int:
    """The daily retention pass (:mod:`overwatch.processing.retention`): surplus received
    files, runs to archive, expired request results; returns how many files and results
    went."""
    from overwatch.processing.retention import prune  # noqa: PLC0415

    report = prune(settings, db)
    return report.files_removed + report.files_archived + report.results_removed


def _notifications(settings: Settings, db: Database) -> None:
    # A job of its own in the scheduler's thread pool: delivery waits on networks with
    # deadlines, never inside a processing job (overwatch.processing.notify).
    from overwatch.processing.notify import deliver_notifications  # noqa: PLC0415

    deliver_notifications(settings, db)


def _receiver_silences(settings: Settings, db: Database) -> None:
    from overwatch.receivers.heartbeats import log_silent_receivers  # noqa: PLC0415

    log_silent_receivers(db, settings.receiver_silence_minutes)


def _receiver_silence_alarms(settings: Settings, db: Database) -> None:
    from overwatch.processing.alarms import clear_alarms_of_removed_rules  # noqa: PLC0415
    from overwatch.processing.alarms import evaluate_receiver_silences  # noqa: PLC0415

    clear_alarms_of_removed_rules(settings, db)
    evaluate_receiver_silences(settings, db)


class _SkipWhileRunning:
    """A scheduled task that skips a pass while its previous pass still runs.

    A notification pass can wait on a hanging channel for up to its deadline, longer
    than the pass interval. APScheduler would then skip each pass with a warning of its
    own; instead the job may start a second time (``max_instances=2``), and this second
    start returns at once, said once per overlap rather than every pass.
    """

    def __init__(self, name: str, func: Callable[[], Any]) -> None:
        self.name = name
        self.func = func
        self._running = threading.Lock()
        self._skipping = False

    def __call__(self) -> None:
        if not self._running.acquire(blocking=False):
            if not self._skipping:
                self._skipping = True
                log.warning(
                    "%s: the previous pass is still running; skipping passes until it ends",
                    self.name,
                )
            return
        try:
            self.func()
        finally:
            if self._skipping:
                self._skipping = False
                log.info("%s: the long pass ended; passes go on", self.name)
            self._running.release()


class _Intake:
    """The daemon's scans: the periodic one and those set off by file events.

    One lock keeps them from running at once in this process (other daemons on the
    same directory are handled by the scan itself); queuing work wakes the local
    workers at once instead of at their next poll.
    """

    def __init__(self, settings: Settings, db: Database, wake: Any) -> None:
        self.settings = settings
        self.db = db
        self.wake = wake
        self._lock = threading.Lock()

    def scan(self, *, complete: Any = ()) -> None:
        with self._lock:
            report = scan(self.settings, self.db, complete=complete)
        if report.jobs_queued:
            self.wake.set()

    def watch(self) -> Any:
        """Start the file watcher; None (and a warning) where the platform cannot watch."""
        from overwatch.processing.watch import Arrivals  # noqa: PLC0415
        from overwatch.processing.watch import DirectoryWatcher  # noqa: PLC0415

        def arrived(arrivals: Arrivals) -> None:
            self.scan(complete=arrivals.complete)

        watcher = DirectoryWatcher(self.settings.data_dir, arrived)
        try:
            watcher.start()
        except OSError as exc:
            log.warning(
                "cannot watch %s for file events (%s); new files wait for the periodic scan",
                self.settings.data_dir,
                exc,
            )
            return None
        return watcher


def schedule(settings: Settings) -> list[ScheduledTask]:
    """The daemon's periodic work (alarm notifications when channels are configured)."""
    tasks = [
        ScheduledTask("scan", _scan, settings.scan_interval),
        ScheduledTask("reclaim", _reclaim, max(settings.job_lease_seconds / 2, 1.0)),
        ScheduledTask("heartbeat", publish_heartbeat, 15.0),
        ScheduledTask("retention", apply_retention, PRUNE_INTERVAL_SECONDS),
        ScheduledTask("receiver silences", _receiver_silences, 60.0),
        ScheduledTask("receiver silence alarms", _receiver_silence_alarms, 60.0),
    ]
    if settings.notifications:
        tasks.append(
            ScheduledTask("notifications", _notifications, settings.notifications.interval_seconds)
        )
    return tasks


def _worker_loop(
    settings: Settings,
    db: Database,
    stop: Any,
    until_idle: bool,
    parent_pid: int | None = None,
    wake: Any = None,
    reloads: ReloadSignal | None = None,
    gate: Any = None,
) -> None:
    """Claim and run jobs until ``stop``; an idle loop sleeps until ``wake`` is set (new
    work queued by this daemon) or :data:`IDLE_POLL_SECONDS` pass (work queued elsewhere,
    by the web app or another machine). Before each job the loop follows a reload of
    plugins and check settings (``reloads``) with a new worker.

    ``until_idle`` with a ``gate``: the work is still being queued (a scan files a
    backlog batch by batch) until the gate is set; an empty queue ends the loop only
    when it was found empty after that."""
    # Imported here: reading ROOT files (uproot) is only needed once there is a job, so
    # an idle ``process --once`` never loads it.
    from overwatch.processing.worker import Worker  # noqa: PLC0415

    worker = Worker(settings, db)
    while not stop.is_set():
        if parent_pid is not None and not parent_alive(parent_pid):
            log.warning("the process that started this worker is gone: stopping")
            return
        reloaded = reloads.follow() if reloads is not None else None
        if reloaded is not None:
            worker = Worker(reloaded, db)
        queued_all = gate is None or gate.is_set()
        outcome = worker.run_next()
        if outcome is not None:
            _log_outcome(outcome)
            continue
        if until_idle and queued_all:
            return
        if until_idle:
            gate.wait(GATE_POLL_SECONDS)
            continue
        if wake is None:
            stop.wait(IDLE_POLL_SECONDS)
        elif wake.wait(IDLE_POLL_SECONDS):
            wake.clear()


def _log_outcome(outcome: JobOutcome) -> None:
    """The one line per job; with ``log_format: json`` its fields are separate keys."""
    log.info(
        "job %s %s %s run %s: %s (%d histograms, %.2f s)",
        outcome.job_id,
        outcome.kind,
        outcome.subsystem,
        outcome.run_number,
        outcome.state,
        outcome.histograms,
        outcome.seconds,
        extra={
            "job_id": outcome.job_id,
            "kind": outcome.kind,
            "run": outcome.run_number,
            "subsystem": outcome.subsystem,
            "duration_seconds": round(outcome.seconds, 4),
            "outcome": outcome.state,
            "histograms": outcome.histograms,
        },
    )


class _ChildStop:
    """A worker process stops on the shared stop event or on its own SIGTERM.

    The SIGTERM handler must not set the shared (multiprocessing) event: it runs
    while this process may sleep in that event's ``wait``, and ``set`` would then
    wait for this very sleeper to wake up.
    """

    def __init__(self, shared: Any) -> None:
        self.shared = shared
        self.terminated = False

    def signalled(self, _signum: int, _frame: FrameType | None) -> None:
        self.terminated = True

    def is_set(self) -> bool:
        return self.terminated or bool(self.shared.is_set())

    def wait(self, timeout: float) -> bool:
        return bool(self.shared.wait(timeout)) or self.terminated


def _child_main(
    settings: Settings,
    stop: Any,
    until_idle: bool,
    parent_pid: int,
    wake: Any = None,
    reload_count: Any = None,
    gate: Any = None,
) -> None:
    configure_logging(settings, process_name=True)
    init_sentry(settings)
    # The parent decides when to stop; a terminal's Ctrl-C reaches the whole group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    own_stop = _ChildStop(stop)
    signal.signal(signal.SIGTERM, own_stop.signalled)
    # A parent killed with SIGKILL cannot stop us: have the kernel send SIGTERM instead,
    # which ends this process after its current job (the parent check is the fallback).
    exit_with_parent(parent_pid, signal.SIGTERM)
    limit_memory(settings.worker_memory_limit_mb)
    # A spawned process has its own registry: load the same plugins as the daemon.
    reloader = PluginReloader(settings)
    reloader.start()
    reloads = ReloadSignal(reloader, reload_count, leader=False) if reload_count else None
    db = Database(settings.effective_database_url)
    try:
        _worker_loop(settings, db, own_stop, until_idle, parent_pid, wake, reloads, gate)
    finally:
        db.dispose()


def _start_children(
    settings: Settings,
    count: int,
    stop: Any,
    until_idle: bool,
    wake: Any = None,
    reload_count: Any = None,
    gate: Any = None,
) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    children = []
    for index in range(count):
        child = context.Process(
            target=_child_main,
            args=(settings, stop, until_idle, os.getpid(), wake, reload_count, gate),
            name=f"overwatch-worker-{index + 1}",
            daemon=False,
        )
        child.start()
        children.append(child)
    return children


@dataclass
class PassSummary:
    done: int  # jobs that processed something
    failed: int
    histograms: int
    seconds: float
    failures: list[tuple[int, str]]
    skipped: int = 0  # jobs finished at once: their subsystem had nothing new


def process_pending(
    settings: Settings,
    db: Database,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    intake: Callable[[], Any] | None = None,
) -> PassSummary:
    """Run every queued job to completion with ``workers`` processes and summarise.

    ``intake`` (the scan of ``process --once``) runs first, while the extra worker
    processes start: a spawned process spends about a second importing, which then
    overlaps the scan. Before the scan, the files waiting at the top of the data
    directory stand for the jobs it will queue.
    """
    started = utcnow()
    clock = time.perf_counter()
    workers = workers or settings.processing_workers
    PluginReloader(settings).start()
    with db.session() as session:
        total = queue_counts(session)["queued"]
    expected = total + (_waiting_files(settings) if intake is not None else 0)
    # A new worker process costs about a second to start; only worth it for a long queue.
    extra = min(workers - 1, expected // JOBS_PER_EXTRA_PROCESS)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    gate = context.Event() if intake is not None else None
    children = _start_children(settings, extra, stop, True, gate=gate) if extra > 0 else []
    if intake is not None:
        try:
            intake()
        finally:
            if gate is not None:
                gate.set()
        with db.session() as session:
            total = queue_counts(session)["queued"]
    if total == 0:
        for child in children:
            child.join()
        return PassSummary(0, 0, 0, 0.0, [])
    if progress is None:
        _worker_loop(settings, db, stop, until_idle=True)
    else:
        runner = threading.Thread(target=_worker_loop, args=(settings, db, stop, True), daemon=True)
        runner.start()
        while runner.is_alive() or any(child.is_alive() for child in children):
            progress(_finished_since(db, started), total)
            runner.join(0.25)
        progress(_finished_since(db, started), total)
    for child in children:
        child.join()
    with db.session() as session:
        rows = session.execute(
            select(Job.id, Job.state, Job.error).where(
                Job.finished_at >= started, Job.state.in_(["done", "failed"])
            )
        ).all()
        histograms = session.scalar(
            select(func.coalesce(func.sum(JobAttempt.histogram_count), 0)).where(
                JobAttempt.started_at >= started
            )
        )
        skipped = session.scalar(
            select(func.count()).where(
                JobAttempt.started_at >= started, JobAttempt.error.startswith(SKIPPED_NOTE)
            )
        )
    failures = [
        (job_id, (error or "").strip().splitlines()[-1:][0] if error else "")
        for job_id, state, error in rows
        if state == "failed"
    ]
    skipped = int(skipped or 0)
    done = sum(1 for _, state, _ in rows if state == "done") - skipped
    return PassSummary(
        done, len(failures), int(histograms or 0), time.perf_counter() - clock, failures, skipped
    )


def _waiting_files(settings: Settings) -> int:
    """How many entries wait at the top of the data directory (a cheap upper bound)."""
    try:
        with os.scandir(settings.data_dir) as entries:
            return sum(1 for entry in entries if not entry.name.startswith("."))
    except OSError:
        return 0


def _finished_since(db: Database, started: datetime) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).where(Job.finished_at >= started)) or 0)


class _Reloading:
    """The daemon's side of reloading plugins and checks: poll, SIGHUP, announce, publish."""

    def __init__(self, settings: Settings, db: Database, started: datetime) -> None:
        self.settings = settings
        self.db = db
        self.started = started
        self.reloader = PluginReloader(settings)
        self.reloader.start()
        self.count = multiprocessing.get_context("spawn").Value("i", 0)
        self.signal = ReloadSignal(self.reloader, self.count, leader=True)

    def jobs(self) -> list[tuple[str, float, Callable[[], Any]]]:
        """(name, seconds, function) of the reload check, when one is configured."""
        seconds = self.settings.plugin_reload_seconds
        return [("plugin reload", seconds, self.poll)] if seconds > 0 else []

    def heartbeat(self) -> None:
        publish_heartbeat(
            self.settings, self.db, started=self.started, plugins=self.reloader.info()
        )

    def reload(self, why: str) -> None:
        if self.reloader.reload(why):
            self.signal.announce()
        # At once, so the status page shows the new versions or the error.
        self.heartbeat()

    def poll(self) -> None:
        if self.reloader.changed():
            self.reload("a watched file changed")

    def hangup(self, _signum: int, _frame: FrameType | None) -> None:
        # Not in the handler itself: it interrupts the main thread, which may hold a job.
        threading.Thread(target=self.reload, args=("SIGHUP",), daemon=True).start()


def run_daemon(
    settings: Settings,
    db: Database,
    *,
    workers: int | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set): scheduled tasks plus worker loops."""
    # Imported here: ``process --once`` schedules nothing.
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

    stop = stop or threading.Event()
    child_stop = multiprocessing.get_context("spawn").Event()
    started = utcnow()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s received: stopping after the current job", signal.Signals(signum).name)
        stop.set()

    init_sentry(settings)
    metrics = DaemonMetrics(settings.metrics_bind)
    reloading = _Reloading(settings, db, started)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGHUP, reloading.hangup)
    wake = multiprocessing.get_context("spawn").Event()
    intake = _Intake(settings, db, wake)
    if not log.isEnabledFor(logging.DEBUG):
        # APScheduler says "Running job ..." at INFO for every task, every few seconds.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(timezone=UTC)
    # Two tasks of the schedule are done by the daemon's own objects, which hold the
    # state the plain functions lack (the scan lock and wake-up, the reload status).
    own: dict[str, Callable[[], Any]] = {"scan": intake.scan, "heartbeat": reloading.heartbeat}
    jobs = [
        (task.name, task.seconds, own.get(task.name) or functools.partial(task.func, settings, db))
        for task in schedule(settings)
    ]
    for name, seconds, job in jobs + reloading.jobs():
        scheduler.add_job(
            _SkipWhileRunning(name, job),
            "interval",
            seconds=seconds,
            id=name,
            # The second instance only notes the overlap (_SkipWhileRunning).
            max_instances=2,
            coalesce=True,
            # A pass started late (busy CPUs) is still worth running, without a warning.
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    reloading.heartbeat()
    scheduler.start()
    workers = workers or settings.processing_workers
    metrics.start()  # before the workers start: they inherit where to count
    children = _start_children(
        settings, workers - 1, child_stop, until_idle=False, wake=wake, reload_count=reloading.count
    )
    watcher = intake.watch() if settings.watch_files else None
    log.info(
        "processing daemon started: %d worker(s), scan every %.0f s%s",
        workers,
        settings.scan_interval,
        ", file events on" if watcher is not None else "",
    )
    try:
        _worker_loop(settings, db, stop, until_idle=False, wake=wake, reloads=reloading.signal)
    finally:
        child_stop.set()
        wake.set()
        if watcher is not None:
            watcher.stop()
        scheduler.shutdown(wait=True)
        for child in children:
            child.join()
            metrics.process_exited(child.pid)
        metrics.stop()
        log.info("processing daemon stopped")
