"""Nothing processed twice for nothing, nothing lost: a ``process`` job whose subsystem's
stored result already includes every registered file is done at once with a note;
a file that arrives while its subsystem is processed is processed afterwards;
re-derivation (``force``) always runs; several daemons on one queue process each
(run, subsystem, file set) once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.model import Histogram
from overwatch.processing import bulk
from overwatch.processing.scan import scan
from overwatch.processing.worker import JobOutcome
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.jobs import FORCE
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import queue_counts
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

RUN = 294900
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 10.0, 11)
#: While a test plugin's job runs, this is called once (then cleared).
_DURING_JOB: list[Callable[[], None]] = []
#: Set whenever a test plugin's job is half-way.
_JOB_RUNNING = threading.Event()


class MidJobPlugin(DetectorPlugin):
    """The generic plugin, which lets a test act while a job is half-way."""

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram]:
        _JOB_RUNNING.set()
        if _DURING_JOB:
            _DURING_JOB.pop()()
        return []


@pytest.fixture(autouse=True)
def mid_job_plugin() -> Iterator[None]:
    register_plugin("EMC", MidJobPlugin)
    _DURING_JOB.clear()
    yield
    unregister_plugin("EMC")
    _DURING_JOB.clear()


def _drop(settings: Settings, minute: int, subsystem: str = "EMC", run: int = RUN) -> Path:
    counts = np.full(10, float(minute))
    name = "TPCQA_hist" if subsystem == "HLT" else "EMCTRQA_hist"
    return write_receiver_file(
        settings.data_dir,
        subsystem,
        run,
        "C",
        START.replace(minute=minute),
        {name: (counts, EDGES)},
        settings.tz,
    )


def _attempts(db: Database) -> list[JobAttempt]:
    with db.session() as session:
        return list(session.scalars(select(JobAttempt).order_by(JobAttempt.id)))


def _entries(db: Database, subsystem: str = "EMC", run: int = RUN) -> float:
    """The entries of the subsystem's current histogram (``minute`` * 10 of its newest file)."""
    with db.session() as session:
        entries = session.scalar(
            select(HistogramRecord.entries)
            .join(SubsystemRun, SubsystemRun.current_result_id == HistogramRecord.result_id)
            .join(Run, Run.id == SubsystemRun.run_id)
            .where(SubsystemRun.name == subsystem, Run.run_number == run)
        )
    assert entries is not None
    return float(entries)


def test_a_job_queued_while_its_subsystem_ran_is_skipped_when_nothing_arrived(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1)
    scan(settings, db)
    requeued: list[int] = []
    # Another daemon's scan while the job runs: the subsystem looks unprocessed.
    _DURING_JOB.append(lambda: requeued.append(scan(settings, db).jobs_queued))
    outcomes = Worker(settings, db).run_until_idle()
    assert requeued == [1]
    assert [(o.state, o.histograms) for o in outcomes] == [("done", 1), ("done", 0)]
    first, second = _attempts(db)
    assert (first.histogram_count, first.error) == (1, None)
    assert second.outcome == "done"
    assert second.histogram_count == 0
    assert second.files == {"ids": []}
    assert (second.error or "").startswith("skipped: the stored result of EMC in run 294900")
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        job = session.get(Job, second.job_id)
        assert job is not None
        assert (job.state, job.error, job.result_id) == ("done", None, sub.current_result_id)
        assert session.scalar(select(func.count()).select_from(Result)) == 1
    assert scan(settings, db).jobs_queued == 0


def test_a_file_arriving_while_its_job_runs_is_processed_afterwards(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1)
    scan(settings, db)

    def arrive() -> None:
        _drop(settings, 2)
        assert scan(settings, db).registered

    _DURING_JOB.append(arrive)
    outcomes = Worker(settings, db).run_until_idle()
    assert [(o.state, o.histograms) for o in outcomes] == [("done", 1), ("done", 1)]
    assert [a.error for a in _attempts(db)] == [None, None]
    assert _entries(db) == 20.0  # the newer file's histogram
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        newest = session.scalar(select(func.max(ReceivedFile.timestamp)))
        assert sub.processed_until == newest == START.replace(minute=2)
    assert scan(settings, db).jobs_queued == 0


def _queue_live(db: Database, sub_id: int) -> int:
    with db.session() as session:
        return enqueue_job(
            session,
            kind="process",
            dedupe_key=f"process:{sub_id}",
            subsystem_id=sub_id,
            run_number=RUN,
            subsystem="EMC",
        ).id


def test_reprocessing_derives_again_although_nothing_is_new(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub_id, before = session.execute(
            select(SubsystemRun.id, SubsystemRun.current_result_id)
        ).one()
    # A live job for data already processed (as a scan racing a worker queues it) ends at once.
    live = _queue_live(db, sub_id)
    [skipped] = Worker(settings, db).run_until_idle()
    assert (skipped.job_id, skipped.state, skipped.histograms) == (live, "done", 0)
    # Re-derivation meets a live job still queued: that job now carries force.
    waiting = _queue_live(db, sub_id)
    job_ids = bulk.queue(settings, db, runs=(RUN, RUN))
    assert job_ids == [waiting]
    outcomes = Worker(settings, db).run_until_idle()
    assert [(o.job_id, o.state, o.histograms) for o in outcomes] == [(waiting, "done", 1)]
    with db.session() as session:
        job = session.get(Job, waiting)
        assert job is not None
        assert job.params == {FORCE: True}
        after = session.scalars(select(SubsystemRun)).one().current_result_id
    assert after != before  # derived again, not pointed at the old result
    assert _attempts(db)[-1].error is None
    # And once more with nothing queued: bulk reprocessing queues forced jobs of its own.
    [again] = bulk.queue(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert (outcome.job_id, outcome.histograms) == (again, 1)


# -- several daemons on one queue ---------------------------------------------------------

RUNS = (500, 501, 502)
SUBSYSTEMS = ("EMC", "HLT")  # HLT's files are TPC's too (borrowing_subsystems)
ROUNDS = 4
DAEMONS = 4
#: A safety net against a hang, not a measurement.
GIVE_UP_SECONDS = 600.0


def _daemon(
    settings: Settings,
    index: int,
    dropped: threading.Event,
    outcomes: list[JobOutcome],
    errors: list[BaseException],
) -> None:
    """One processing daemon: its own connections, scanning and working in turn."""
    db = Database(settings.effective_database_url)
    worker = Worker(settings, db, name=f"daemon-{index}")
    deadline = time.monotonic() + GIVE_UP_SECONDS
    try:
        while time.monotonic() < deadline:
            pending = scan(settings, db).jobs_queued
            outcome = worker.run_next()
            if outcome is not None:
                outcomes.append(outcome)
            elif dropped.is_set() and pending == 0:
                return
            else:
                time.sleep(0.01)
        raise TimeoutError(f"daemon-{index} still busy after {GIVE_UP_SECONDS} s")
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        errors.append(exc)
    finally:
        db.dispose()


def test_daemons_sharing_a_queue_process_each_file_set_once_and_lose_none(
    settings: Settings, db: Database
) -> None:
    dropped = threading.Event()
    outcomes: list[JobOutcome] = []
    errors: list[BaseException] = []
    daemons = [
        threading.Thread(target=_daemon, args=(settings, i, dropped, outcomes, errors))
        for i in range(DAEMONS)
    ]
    for minute in range(1, ROUNDS + 1):
        _JOB_RUNNING.clear()
        for run in RUNS:
            for subsystem in SUBSYSTEMS:
                _drop(settings, minute, subsystem, run)
        if minute == 1:
            for daemon in daemons:
                daemon.start()
        # The next files arrive while a job is half-way.
        assert _JOB_RUNNING.wait(GIVE_UP_SECONDS)
    dropped.set()
    for daemon in daemons:
        daemon.join()
    assert errors == []
    assert {o.state for o in outcomes} == {"done"}

    with db.session() as session:
        counts = queue_counts(session)
        assert (counts["queued"], counts["running"]) == (0, 0)
        assert counts["done"] == len(outcomes)
        subsystems = {
            (run, name): (sub_id, until)
            for sub_id, run, name, until in session.execute(
                select(
                    SubsystemRun.id, Run.run_number, SubsystemRun.name, SubsystemRun.processed_until
                ).join(Run, Run.id == SubsystemRun.run_id)
            )
        }
        processed = Counter(
            (sub_id, tuple(files["ids"]))
            for sub_id, files in session.execute(
                select(Job.subsystem_id, JobAttempt.files)
                .join(Job, Job.id == JobAttempt.job_id)
                .where(JobAttempt.histogram_count > 0)
            )
        )
        skips = session.scalars(
            select(JobAttempt.error).where(JobAttempt.histogram_count == 0)
        ).all()
        registered = session.scalar(select(func.count()).select_from(ReceivedFile))
    assert registered == len(RUNS) * len(SUBSYSTEMS) * ROUNDS
    # Each (run, subsystem, file set) once: in cumulative mode a set is its newest file.
    twice = {key: count for key, count in processed.items() if count > 1}
    assert twice == {}, f"processed more than once: {twice}"
    assert all((error or "").startswith("skipped: ") for error in skips), skips
    # Nothing lost: every subsystem (TPC following HLT's files) holds its newest file.
    newest = START.replace(minute=ROUNDS)
    assert sorted(subsystems) == sorted(
        (run, name) for run in RUNS for name in (*SUBSYSTEMS, "TPC")
    )
    assert {until for _, until in subsystems.values()} == {newest}
    for run in RUNS:
        assert _entries(db, "EMC", run) == 10.0 * ROUNDS
        assert _entries(db, "TPC", run) == 10.0 * ROUNDS
    assert scan(settings, db).jobs_queued == 0


def test_process_once_says_how_many_jobs_were_skipped(
    settings: Settings, db: Database, close_cli_databases: None
) -> None:
    from tests.clisupport import run_cli  # noqa: PLC0415

    _drop(settings, 1)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub_id = session.scalars(select(SubsystemRun.id)).one()
    _queue_live(db, sub_id)  # as a scan does when it meets a running job
    env = {"OVERWATCH_FILE_SETTLE_SECONDS": "0", "OVERWATCH_PROCESSING_WORKERS": "1"}
    result = run_cli(settings, "process", "--once", env=env)
    assert result.exit_code == 0, result.output
    assert "processed: 0 job(s) done, 1 skipped (nothing new), 0 failed" in result.output
