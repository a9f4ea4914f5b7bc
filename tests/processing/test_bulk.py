"""Bulk reprocessing on local workers and on a real Dask cluster (scheduler + workers on
localhost), including a worker killed with SIGKILL half-way: every job is done once
and the results equal those of local processing."""

from __future__ import annotations

import gzip
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.demo import generate_demo_data
from overwatch.processing import bulk
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from tests.dasksupport import DaskCluster

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Demo data sets written once per module: {runs: folder}."""
    folders = {}
    for runs in (6, 200):
        folder = tmp_path_factory.mktemp(f"demo{runs}")
        generate_demo_data(folder, ZoneInfo("UTC"), runs=runs, minutes=1, subsystems=["HLT"])
        folders[runs] = folder
    return folders


def _load(settings: Settings, db: Database, source: Path) -> None:
    """Copy a demo data set in, process it locally: the reference results."""
    for path in source.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    scan(settings, db)
    summary = process_pending(settings, db, workers=1)
    assert summary.failed == 0, summary.failures


def _results(db: Database) -> dict[tuple[int, str, str], bytes]:
    """Every current histogram's JSON by (run, subsystem, name)."""
    with db.session() as session:
        rows = session.execute(
            select(Run.run_number, SubsystemRun.name, HistogramRecord.name, HistogramRecord.json_gz)
            .join(SubsystemRun, SubsystemRun.run_id == Run.id)
            .join(Result, Result.id == SubsystemRun.current_result_id)
            .join(HistogramRecord, HistogramRecord.result_id == Result.id)
        ).all()
    return {(run, sub, name): gzip.decompress(data or b"") for run, sub, name, data in rows}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    workdir = tmp_path / "dask"
    workdir.mkdir()
    running = DaskCluster(workdir)
    try:
        yield running
    finally:
        running.stop()


def _attempts(db: Database) -> list[tuple[int, str, str]]:
    with db.session() as session:
        return [
            (job_id, worker, outcome)
            for job_id, worker, outcome in session.execute(
                select(JobAttempt.job_id, JobAttempt.worker, JobAttempt.outcome)
            )
        ]


def test_local_reprocessing_rederives_every_run_with_the_same_results(
    make_settings, db: Database, demo_files: dict[int, Path]
) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings()
    _load(settings, db, demo_files[6])
    before = _results(db)
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
    }
    result = CliRunner().invoke(
        cli, ["reprocess", "--runs", "1-999999", "--subsystem", "HLT"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "queued 6 job(s); running them on local workers" in result.output
    assert "reprocessed: 6 of 6 job(s) done, 0 failed" in result.output
    assert _results(db) == before
    nothing = CliRunner().invoke(cli, ["reprocess", "--runs", "1-2"], env=env)
    assert nothing.exit_code == 1
    assert "nothing to reprocess" in nothing.output


def test_bad_run_range_is_refused(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings()
    env = {"OVERWATCH_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(cli, ["reprocess", "--runs", "20-10"], env=env)
    assert result.exit_code == 2
    assert "the range 20-10 is empty" in result.output


def test_dask_cluster_reprocesses_every_job_once(
    make_settings, db: Database, demo_files: dict[int, Path], cluster: DaskCluster
) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings()
    _load(settings, db, demo_files[6])
    before = _results(db)
    cluster.start(workers=2)
    job_ids = bulk.queue(settings, db)
    assert len(job_ids) == 12  # HLT and TPC (which reads the HLT files) of 6 runs
    summary = bulk.run_on_dask(settings, db, job_ids, cluster.address)
    assert (summary.done, summary.failed) == (12, 0), summary.failures
    assert _results(db) == before
    attempts = [a for a in _attempts(db) if a[0] in job_ids]
    assert sorted(job for job, _, _ in attempts) == sorted(job_ids)  # one attempt each
    assert {worker for _, worker, _ in attempts} <= {"dask:w1", "dask:w2"}


def test_a_worker_killed_half_way_loses_and_repeats_nothing(
    make_settings,
    db: Database,
    demo_files: dict[int, Path],
    cluster: DaskCluster,
    database_url: str,
) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("the 200-run drill runs on PostgreSQL, the database several hosts share")
    settings: Settings = make_settings(job_lease_seconds=4)
    _load(settings, db, demo_files[200])
    before = _results(db)
    cluster.start(workers=2)
    job_ids = bulk.queue(settings, db)
    assert len(job_ids) == 400

    def done_count() -> int:
        with db.session() as session:
            return int(
                session.scalar(select(func.count()).where(Job.id.in_(job_ids), Job.state == "done"))
                or 0
            )

    killed = threading.Event()

    def kill_half_way() -> None:
        while done_count() < len(job_ids) // 2:
            time.sleep(0.2)
        cluster.kill("w1")
        killed.set()

    killer = threading.Thread(target=kill_half_way, daemon=True)
    killer.start()
    summary = bulk.run_on_dask(settings, db, job_ids, cluster.address)
    killer.join(timeout=5)
    assert killed.is_set()
    assert (summary.done, summary.failed) == (400, 0), summary.failures
    assert _results(db) == before
    done_attempts = [a for a in _attempts(db) if a[0] in job_ids and a[2] == "done"]
    assert sorted(job for job, _, _ in done_attempts) == sorted(job_ids)  # each done once
    workers = {worker for _, worker, _ in done_attempts}
    assert workers == {"dask:w1", "dask:w2"}
