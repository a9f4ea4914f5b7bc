"""Run queued jobs: claim, heartbeat, process, store in one transaction, record provenance.

:class:`Worker` is used by ``overwatch process --once``, by the daemon's worker
loops and directly by tests. A job's results, the subsystem's pointer to them, the
job's state and its provenance row are committed together; if anything fails the
previous result stays and the job is retried up to its attempt cap, with the
traceback kept on the job and in its provenance.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from overwatch import __version__
from overwatch.config import Settings
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.registry import get_plugin
from overwatch.metrics.instruments import observe_job
from overwatch.monitoring.checks import no_reference_reason
from overwatch.processing.alarms import evaluate_alarms
from overwatch.processing.names import clean_text
from overwatch.processing.parallel import can_split
from overwatch.processing.parallel import load_and_encode
from overwatch.processing.pipeline import CheckSetup
from overwatch.processing.pipeline import FileRef
from overwatch.processing.pipeline import Reader
from overwatch.processing.pipeline import build_result
from overwatch.processing.pipeline import files_for_slice
from overwatch.processing.pipeline import load_state
from overwatch.processing.pipeline import only_matching
from overwatch.processing.pipeline import request_key
from overwatch.processing.reader import NOT_A_HISTOGRAM
from overwatch.processing.reader import CorruptFileError
from overwatch.processing.reader import Unconvertible
from overwatch.processing.reader import read_file
from overwatch.processing.references import ReferenceLoader
from overwatch.processing.scan import quarantine
from overwatch.processing.trending import result_trends
from overwatch.storage import Database
from overwatch.storage.jobs import claim_job
from overwatch.storage.jobs import claim_job_by_id
from overwatch.storage.jobs import fail_job
from overwatch.storage.jobs import finish_if_processed
from overwatch.storage.jobs import finish_job
from overwatch.storage.jobs import heartbeat
from overwatch.storage.jobs import worker_name
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import utcnow
from overwatch.storage.records import ResultData
from overwatch.storage.records import find_result
from overwatch.storage.records import store_result

__all__ = ["JobOutcome", "NothingReadableError", "Worker"]

log = logging.getLogger(__name__)

#: How many corrupt files one job may set aside before giving up.
MAX_QUARANTINED_PER_JOB = 5
#: A worker's heartbeat thread ends after this long without a job.
HEARTBEAT_IDLE_SECONDS = 2.0
#: How many unreadable objects a job's error or provenance names one by one.
MAX_LISTED_PROBLEMS = 10


class NothingReadableError(RuntimeError):
    """A job's files held objects, but not one histogram could be read from them."""


def _problems(items: list[Unconvertible] | list[str]) -> str:
    lines = [f"{i.name}: {i.reason}" if isinstance(i, Unconvertible) else i for i in items]
    shown = lines[:MAX_LISTED_PROBLEMS]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more")
    return "\n".join(f"  {line}" for line in shown)


@dataclass
class JobOutcome:
    job_id: int
    kind: str
    run_number: int | None
    subsystem: str | None
    state: str
    histograms: int = 0  # histograms stored with their JSON
    seconds: float = 0.0
    error: str | None = None
    unreadable: int = 0  # objects stored with the reason they could not be read


class _LostLeaseError(RuntimeError):
    """The job was reclaimed by another worker while we were processing it."""


@dataclass
class _Plan:
    add: list[FileRef]
    subtract: FileRef | None
    context: ProcessingContext
    key: str


class _Heartbeat:
    """Extends the lease of the job a worker runs, from one thread for its jobs in a row.

    The thread starts with a job and waits for the next one; after
    :data:`HEARTBEAT_IDLE_SECONDS` without a job it ends (a worker object that is
    dropped leaves no thread behind). A beat that meets a job no longer this
    worker's changes nothing (see :func:`heartbeat`).
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.job_id: int | None = None
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def watch(self, job_id: int | None) -> None:
        """Beat for ``job_id`` from now on (``None``: no job)."""
        with self.changed:
            self.job_id = job_id
            self.changed.notify()
            # Threads do not survive a fork either: a forked process starts its own.
            if job_id is not None and (self.thread is None or not self.thread.is_alive()):
                self.thread = threading.Thread(target=self._beat, name="job heartbeat", daemon=True)
                self.thread.start()

    def _beat(self) -> None:
        interval = max(self.worker.settings.job_lease_seconds / 4, 0.5)
        while True:
            with self.changed:
                job_id = self.job_id
                if job_id is None:
                    if not self.changed.wait(HEARTBEAT_IDLE_SECONDS) and self.job_id is None:
                        self.thread = None
                        return
                    continue
                # Woken early by the next job (or none): start its interval afresh.
                if self.changed.wait(interval) or self.job_id != job_id:
                    continue
            try:
                with self.worker.db.session() as session:
                    heartbeat(session, job_id, self.worker.name)
            except Exception:  # a beat lost to a database hiccup: the next one retries
                log.warning("job %s: heartbeat failed", job_id, exc_info=True)


class Worker:
    """Claims and runs jobs from the queue of record."""

    def __init__(self, settings: Settings, db: Database, *, name: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.name = name or worker_name()
        self.references = ReferenceLoader()
        self._beat = _Heartbeat(self)

    # -- the loop -----------------------------------------------------------------

    def run_next(self) -> JobOutcome | None:
        """Claim one job and run it; ``None`` when the queue has nothing runnable."""
        with self.db.session() as session:
            job = claim_job(session, self.name)
            if job is None:
                return None
            skipped = self._skip_if_processed(session, job)
            session.expunge(job)
        return skipped or self._run(job)

    def run_job(self, job_id: int) -> JobOutcome | None:
        """Claim the queued job ``job_id`` and run it; ``None`` when it cannot be claimed
        (done, failed, running elsewhere, or its subsystem is busy)."""
        with self.db.session() as session:
            job = claim_job_by_id(session, job_id, self.name)
            if job is None:
                return None
            skipped = self._skip_if_processed(session, job)
            session.expunge(job)
        return skipped or self._run(job)

    def run_until_idle(
        self,
        stop: threading.Event | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
    ) -> list[JobOutcome]:
        outcomes = []
        while stop is None or not stop.is_set():
            outcome = self.run_next()
            if outcome is None:
                break
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes

    # -- one job ------------------------------------------------------------------

    def _run(self, job: Job) -> JobOutcome:
        started = utcnow()
        clock = time.perf_counter()
        self._beat.watch(job.id)
        plugin: DetectorPlugin | None = None
        error: str | None = None
        try:
            plugin = get_plugin(job.subsystem or "")
            state, count, unreadable = self._execute(job, plugin, started)
            outcome = JobOutcome(
                job.id, job.kind, job.run_number, job.subsystem, state, count, unreadable=unreadable
            )
        except _LostLeaseError as exc:
            log.warning("job %s: %s", job.id, exc)
            outcome = JobOutcome(
                job.id, job.kind, job.run_number, job.subsystem, "lost", error=str(exc)
            )
        except MemoryError:
            # Recorded after this block: the traceback keeps the job's arrays alive.
            limit = self.settings.worker_memory_limit_mb
            error = (
                "out of memory: the job needed more than this worker process may use"
                + (f" (worker_memory_limit_mb = {limit})" if limit else "")
                + "\n"
                + traceback.format_exc()
            )
        except Exception:  # noqa: BLE001 - a job boundary: record the traceback, keep the daemon alive
            error = traceback.format_exc()
        finally:
            self._beat.watch(None)
        if error is not None:
            outcome = self._failed(job, plugin, started, error)
        outcome.seconds = time.perf_counter() - clock
        observe_job(outcome.subsystem, outcome.kind, outcome.state, outcome.seconds)
        return outcome

    def _failed(
        self, job: Job, plugin: DetectorPlugin | None, started: datetime, error: str
    ) -> JobOutcome:
        # Exception texts may quote names from the file: no NUL in a text column.
        error = clean_text(error)
        state = self._record_failure(job, plugin, started, error)
        log.error(
            "job %s (%s %s run %s) failed, now %s:\n%s",
            job.id,
            job.kind,
            job.subsystem,
            job.run_number,
            state,
            error,
        )
        return JobOutcome(job.id, job.kind, job.run_number, job.subsystem, state, error=error)

    def _load_files(
        self, job: Job, plugin: DetectorPlugin
    ) -> tuple[SubsystemRun, list[FileRef], str | None]:
        """The subsystem row, the files to process and, if borrowed, whose they are.

        A subsystem that never had a file of its own, whose plugin names a
        ``source_subsystem`` and which ``borrowing_subsystems`` lists, processes
        the source subsystem's files of the same run.
        """
        with self.db.session() as session:
            sub = session.get(
                SubsystemRun, job.subsystem_id, options=[joinedload(SubsystemRun.run)]
            )
            if sub is None:
                raise LookupError(f"subsystem row {job.subsystem_id} no longer exists")
            owner_id, source = sub.id, None
            if (
                sub.file_count == 0
                and plugin.source_subsystem
                and sub.name in self.settings.borrowing_subsystems
            ):
                owner = session.scalars(
                    select(SubsystemRun).where(
                        SubsystemRun.run_id == sub.run_id,
                        SubsystemRun.name == plugin.source_subsystem,
                    )
                ).one_or_none()
                if owner is not None:
                    owner_id, source = owner.id, owner.name
            rows = session.scalars(
                select(ReceivedFile)
                .where(
                    ReceivedFile.subsystem_id == owner_id,
                    ReceivedFile.state.not_in(("quarantined", "pruned")),
                )
                .order_by(ReceivedFile.timestamp)
            ).all()
            refs = [
                FileRef(r.id, self.settings.received_file_path(r.path, r.state), r.timestamp)
                for r in rows
            ]
            session.expunge_all()
        return sub, refs, source

    def _plan(
        self, job: Job, sub: SubsystemRun, files: list[FileRef], plugin: DetectorPlugin
    ) -> _Plan:
        options = plugin.validate_options(dict(job.params.get("options", {})))
        run_start = sub.run.first_file_time
        if job.kind == "time_slice":
            minutes = (float(job.params["min_minutes"]), float(job.params["max_minutes"]))
            add, older = files_for_slice(files, sub.accumulation_mode, run_start, minutes)
            context = ProcessingContext(
                sub.run.run_number,
                sub.name,
                "time_slice",
                options,
                min_time=older.timestamp if older else run_start,
                max_time=add[-1].timestamp,
                minutes=minutes,
            )
            return _Plan(add, older, context, request_key("time_slice", options, minutes))
        add = files if sub.accumulation_mode == "reset" else files[-1:]
        kind = "reprocess" if job.kind == "reprocess" else "run"
        context = ProcessingContext(
            sub.run.run_number,
            sub.name,
            kind,
            options,
            min_time=run_start,
            max_time=files[-1].timestamp if files else None,
        )
        return _Plan(add, None, context, request_key(kind, options, None) if kind != "run" else "")

    def _execute(self, job: Job, plugin: DetectorPlugin, started: datetime) -> tuple[str, int, int]:
        """Run one job: ``(state, histograms stored, objects stored unreadable)``."""
        if job.kind not in {"process", "time_slice", "reprocess"}:
            raise ValueError(f"unknown job kind {job.kind!r}")
        max_bins = self.settings.max_histogram_bins
        reader: Reader = functools.partial(read_file, max_bins=max_bins or None)
        quarantined: list[str] = []
        # Files this job set aside count as seen: else the subsystem never catches up
        # with its newest file time and every scan queues it again.
        set_aside: list[datetime] = []
        for _ in range(MAX_QUARANTINED_PER_JOB + 1):
            sub, files, source = self._load_files(job, plugin)
            if not files:
                if quarantined:
                    raise NothingReadableError(
                        "every file was unreadable and has been quarantined:\n"
                        + _problems(quarantined)
                    )
                self._commit(job, plugin, started, None, None, [])
                return "done", 0, 0
            plan = self._plan(job, sub, files, plugin)
            plan.context.source_subsystem = source
            if job.kind != "process":
                with self.db.session() as session:
                    existing = find_result(session, sub.id, plan.context.kind, plan.key)
                    existing_id = existing.id if existing is not None else None
                if existing_id is not None:
                    self._commit(job, plugin, started, None, existing_id, [])
                    return "done", 0, 0
            # Another subsystem's files: only the histograms the plugin takes from them.
            job_reader = only_matching(reader, plugin.source_pattern) if source else reader
            used = [ref.id for ref in plan.add] + ([plan.subtract.id] if plan.subtract else [])
            level = self.settings.json_compression_level
            checks = self._checks(plan.context)
            encoded = None
            try:
                if can_split(plan.add, self.settings.processing_workers):
                    histograms, encoded, unconvertible = load_and_encode(
                        plugin,
                        plan.context,
                        plan.add,
                        plan.subtract,
                        level,
                        reader=job_reader,
                        checks=checks,
                    )
                else:
                    histograms, unconvertible = load_state(
                        plan.add, plan.subtract, reader=job_reader
                    )
            except CorruptFileError as exc:
                quarantined.append(f"{Path(exc.path).name}: {exc.reason}")
                set_aside += [ref.timestamp for ref in plan.add if str(ref.path) == exc.path]
                self._quarantine_received(exc)
                continue
            errors = [item for item in unconvertible if item.reason != NOT_A_HISTOGRAM]
            if errors and not (encoded if encoded is not None else histograms):
                # Storing an empty result would replace the last good one and say "done".
                raise NothingReadableError(
                    f"no histogram could be read from {len(plan.add)} file(s); "
                    f"{len(errors)} object(s) were unreadable:\n" + _problems(errors)
                )
            data = build_result(
                plugin,
                plan.context,
                histograms,
                unconvertible,
                encoded=encoded,
                key=plan.key,
                compression_level=level,
                checks=checks,
            )
            data.file_ids = used
            if plan.context.kind == "run":
                data.trends = result_trends(
                    self.settings.trending, plugin, plan.context, data.histograms
                )
            note = None
            if errors:
                note = f"{len(errors)} object(s) could not be read:\n" + _problems(errors)
            self._commit(
                job,
                plugin,
                started,
                data,
                None,
                used,
                newest=max([files[-1].timestamp, *set_aside]),
                note=note,
                borrowed=source is not None,
            )
            stored = sum(1 for row in data.histograms if row.error is None)
            return "done", stored, len(data.histograms) - stored
        raise RuntimeError(f"gave up after quarantining {MAX_QUARANTINED_PER_JOB} corrupt files")

    def _skip_if_processed(self, session: Session, job: Job) -> JobOutcome | None:
        """Finish a just claimed ``process`` job whose subsystem has nothing new, in the
        claim's transaction, with a note in its provenance (one statement, see
        :func:`finish_if_processed`); ``None``: run it."""
        started = utcnow()
        note = finish_if_processed(session, job, self.name)
        if note is None:
            return None
        try:
            plugin: DetectorPlugin | None = get_plugin(job.subsystem or "")
        except Exception:  # noqa: BLE001 - provenance without the plugin's name then
            plugin = None
        session.add(self._attempt(job, plugin, started, "done", note, [], 0))
        outcome = JobOutcome(job.id, job.kind, job.run_number, job.subsystem, "done")
        observe_job(outcome.subsystem, outcome.kind, outcome.state, outcome.seconds)
        return outcome

    def _checks(self, context: ProcessingContext) -> CheckSetup | None:
        """The declarative checks of the job's subsystem with its reference histograms."""
        config = self.settings.checks
        if not config.for_subsystem(context.subsystem):
            return None
        found = self.references.load(self.db, config, context.subsystem, context.run_number)
        reason = no_reference_reason(context.subsystem, found.run_number)
        return CheckSetup(config, found.histograms, reason)

    def _quarantine_received(self, exc: CorruptFileError) -> None:
        path = Path(exc.path)
        relative = path.relative_to(self.settings.data_dir).as_posix()
        if path.exists():
            reason = clean_text(f"unreadable during processing: {exc}")
            quarantine(self.settings, self.db, path, reason)
        with self.db.session() as session:
            row = session.scalars(
                select(ReceivedFile).where(ReceivedFile.path == relative)
            ).one_or_none()
            if row is None:
                raise exc
            row.state = "quarantined"

    def _commit(
        self,
        job: Job,
        plugin: DetectorPlugin,
        started: datetime,
        data: ResultData | None,
        result_id: int | None,
        file_ids: list[int],
        newest: datetime | None = None,
        note: str | None = None,
        borrowed: bool = False,
    ) -> None:
        """Store results, finish the job and write provenance in ONE transaction.

        ``note`` goes into the provenance row of a job that is done but could not
        read everything (objects stored with their reasons). ``borrowed`` files
        belong to another subsystem, whose own processing marks them processed.
        """
        with self.db.session() as session:
            current = session.get(Job, job.id, populate_existing=True, with_for_update=True)
            if current is None or current.state != "running" or current.worker != self.name:
                raise _LostLeaseError(
                    f"job {job.id} is no longer ours (state {current.state if current else 'gone'})"
                )
            sub = session.get(SubsystemRun, job.subsystem_id) if job.subsystem_id else None
            if data is not None and sub is not None:
                result_id = store_result(session, sub, data)
                if data.kind == "run":
                    sub.processed_at = utcnow()
                    sub.processed_until = newest
                    if file_ids and not borrowed:
                        session.execute(
                            update(ReceivedFile)
                            .where(ReceivedFile.id.in_(file_ids), ReceivedFile.state != "archived")
                            .values(state="processed")
                            .execution_options(synchronize_session=False)
                        )
                    if sub.accumulation_mode == "reset":
                        self._keep_late_files_pending(session, sub, file_ids)
                    evaluate_alarms(
                        session, self.settings, sub.name, job.run_number or sub.run.run_number
                    )
            elif sub is not None and job.kind == "process" and not file_ids:
                sub.processed_until = sub.last_file_time
            finish_job(session, current, result_id=result_id)
            stored = sum(1 for row in data.histograms if row.error is None) if data else 0
            session.add(self._attempt(current, plugin, started, "done", note, file_ids, stored))

    @staticmethod
    def _keep_late_files_pending(session: Session, sub: SubsystemRun, file_ids: list[int]) -> None:
        """In reset mode, a file registered while this job ran is missing from its sum.

        If it is older than the newest file used ("late"), ``processed_until`` is
        moved back before it, so the next scan queues the subsystem again and the
        sum is rebuilt from all files.  (Registration does the same for a late file
        that arrives after this commit.)
        """
        oldest_missing = session.scalar(
            select(func.min(ReceivedFile.timestamp)).where(
                ReceivedFile.subsystem_id == sub.id,
                ReceivedFile.state == "registered",
                ReceivedFile.id.not_in(file_ids),
            )
        )
        if oldest_missing is not None and (
            sub.processed_until is None or oldest_missing <= sub.processed_until
        ):
            sub.processed_until = oldest_missing - timedelta(microseconds=1)

    def _attempt(
        self,
        job: Job,
        plugin: DetectorPlugin | None,
        started: datetime,
        outcome: str,
        error: str | None,
        file_ids: list[int],
        count: int,
    ) -> JobAttempt:
        finished = utcnow()
        return JobAttempt(
            job_id=job.id,
            attempt=job.attempts,
            worker=self.name,
            plugin=plugin.name if plugin else "",
            plugin_version=plugin.version if plugin else "",
            overwatch_version=__version__,
            started_at=started,
            finished_at=finished,
            duration_seconds=(finished - started).total_seconds(),
            outcome=outcome,
            error=error,
            files={"ids": file_ids},
            histogram_count=count,
        )

    def _record_failure(
        self,
        job: Job,
        plugin: DetectorPlugin | None,
        started: datetime,
        error: str,
    ) -> str:
        with self.db.session() as session:
            state = fail_job(session, job.id, error)
            current = session.get(Job, job.id)
            if current is None:
                return state
            if state == "failed" and current.kind == "process" and current.subsystem_id:
                # Stop re-queueing the same data forever; a newer file queues it again.
                sub = session.get(SubsystemRun, current.subsystem_id)
                if sub is not None:
                    sub.processed_until = sub.last_file_time
            session.add(
                self._attempt(
                    current,
                    plugin,
                    started,
                    "failed" if state == "failed" else "retry",
                    error,
                    [],
                    0,
                )
            )
        return state
