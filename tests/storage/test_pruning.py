"""Old results of user requests expire; a subsystem's current result never does."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.processing.daemon import PRUNE_INTERVAL_SECONDS
from overwatch.processing.daemon import apply_retention
from overwatch.processing.daemon import schedule
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import finish_job
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import Result
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import utcnow
from overwatch.storage.records import HistogramRow
from overwatch.storage.records import ResultData
from overwatch.storage.records import prune_request_results
from overwatch.storage.records import register_file
from overwatch.storage.records import store_result

T0 = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)


def _result(db: Database, kind: str, age_days: float, key: str = "") -> int:
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        hist = HistogramRow("h", "TH1F", "", None, b"x", 1, "e")
        result_id = store_result(session, sub, ResultData(kind, [], [hist], key=key))
        session.get_one(Result, result_id).created_at = utcnow() - timedelta(days=age_days)
        return result_id


def _ids(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(Result.id)))


def _setup(db: Database) -> None:
    with db.session() as session:
        register_file(
            session,
            run_number=1,
            subsystem="EMC",
            hlt_mode="C",
            accumulation_mode="cumulative",
            timestamp=T0,
            path="Run1/EMC/EMChistos_1_C_2018_10_22_9_53_55.root",
            size=1,
            checksum="0" * 64,
        )


def test_old_request_results_are_pruned_and_current_ones_kept(db: Database) -> None:
    _setup(db)
    current = _result(db, "run", age_days=400)  # the run's state: never pruned
    old_slice = _result(db, "time_slice", age_days=31, key="a")
    _result(db, "reprocess", age_days=90, key="b")  # old: pruned
    recent = _result(db, "time_slice", age_days=29, key="c")
    pinned = _result(db, "reprocess", age_days=90, key="d")
    with db.session() as session:
        job = enqueue_job(session, kind="time_slice", dedupe_key="time_slice:a")
        job.state = "running"
        finish_job(session, job, result_id=old_slice)
    # A result that is some subsystem's current one stays, whatever its kind.
    with db.session() as session:
        other = session.scalars(select(SubsystemRun)).one()
        assert other.current_result_id == current
        session.execute(update(SubsystemRun).values(current_result_id=pinned))
    with db.session() as session:
        assert prune_request_results(session, keep_days=30) == 2
    assert _ids(db) == {current, recent, pinned}
    with db.session() as session:
        histograms = set(session.scalars(select(HistogramRecord.result_id)))
        assert histograms == {current, recent, pinned}  # their histograms went with them
        job_row = session.scalars(select(Job)).one()
        assert (job_row.state, job_row.result_id) == ("done", None)
    with db.session() as session:
        assert prune_request_results(session, keep_days=30) == 0


def test_the_daemon_prunes_daily_with_the_configured_age(make_settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(request_results_keep_days=7)
    tasks = {task.name: task for task in schedule(settings)}
    assert tasks["retention"].seconds == PRUNE_INTERVAL_SECONDS == 24 * 3600
    assert tasks["retention"].func is apply_retention
    _setup(db)
    _result(db, "time_slice", age_days=8, key="old")
    kept = _result(db, "time_slice", age_days=6, key="new")
    assert apply_retention(settings, db) == 1
    assert _ids(db) == {kept}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(HistogramRecord)) == 1
