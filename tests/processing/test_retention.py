"""Retention: surplus files go, old runs move to the archive, and nothing a page or a
later job needs is lost (real files, the real worker, both databases)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.processing.retention import prune
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import SubsystemRun
from overwatch.storage.retention import disk_usage

RUN = 294832
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 10.0, 11)
KEPT = {"registered": "kept", "processed": "kept"}


@pytest.fixture(autouse=True)
def generic_emc_plugin() -> Iterator[None]:
    register_plugin("EMC", DetectorPlugin)
    yield
    unregister_plugin("EMC")


def _drop(settings: Settings, minute: int, value: float, subsystem: str = "EMC") -> Path:
    objects = {"hist": (np.full(10, value), EDGES)}
    stamp = START.replace(minute=minute)
    return write_receiver_file(settings.data_dir, subsystem, RUN, "C", stamp, objects, settings.tz)


def _process(settings: Settings, db: Database) -> None:
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert all(outcome.state == "done" for outcome in outcomes), outcomes


def _files(db: Database, subsystem: str = "EMC") -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(ReceivedFile.file_name, ReceivedFile.state)
            .join(SubsystemRun, SubsystemRun.id == ReceivedFile.subsystem_id)
            .where(SubsystemRun.name == subsystem)
            .order_by(ReceivedFile.timestamp)
        )
        # Processing marks only the newest file of a pass "processed"; both mean kept here.
        return [(name, KEPT.get(state, state)) for name, state in rows]


def _current_bins(db: Database, kind: str = "run") -> list[float]:
    with db.session() as session:
        record = session.scalars(
            select(HistogramRecord)
            .join(Result, Result.id == HistogramRecord.result_id)
            .where(Result.kind == kind, HistogramRecord.name == "hist")
            .order_by(Result.id.desc())
        ).first()
        assert record is not None
        assert record.json_gz is not None
        return [float(v) for v in json.loads(gzip.decompress(record.json_gz))["fArray"][1:-1]]


def _enqueue(db: Database, kind: str, params: dict[str, object], key: str) -> int:
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun).where(SubsystemRun.name == "EMC")).one()
        job = enqueue_job(
            session,
            kind=kind,
            dedupe_key=key,
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params=params,
        )
        return job.id


def test_surplus_files_are_removed_keeping_the_newest_and_the_run_page(
    make_settings, db: Database
) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(keep_received_files=2)
    paths = [
        _drop(settings, minute, value) for minute, value in ((0, 1), (5, 3), (10, 6), (15, 10))
    ]
    _process(settings, db)
    before = _current_bins(db)
    names = [path.name for path in paths]

    dry = prune(settings, db, dry_run=True)
    assert (dry.files_removed, dry.files_archived) == (2, 0)
    assert dry.bytes_removed > 0
    assert [state for _, state in _files(db)] == ["kept"] * 4  # a dry run changes nothing

    report = prune(settings, db)
    assert report.files_removed == 2
    assert not report.problems
    assert _files(db) == [
        (names[0], "pruned"),
        (names[1], "pruned"),
        (names[2], "kept"),
        (names[3], "kept"),
    ]
    on_disk = sorted(p.name for p in settings.data_dir.glob("Run*/EMC/*.root"))
    assert on_disk == names[2:]
    assert _current_bins(db) == before == [10.0] * 10
    assert prune(settings, db).files_removed == 0  # idempotent

    # Jobs still work on what is kept: a reprocessing and a time slice within the kept files.
    _enqueue(db, "reprocess", {"options": {}}, "again")
    _enqueue(db, "time_slice", {"min_minutes": 12, "max_minutes": 16, "options": {}}, "slice")
    outcomes = Worker(settings, db).run_until_idle()
    assert [o.state for o in outcomes] == ["done", "done"], outcomes
    assert _current_bins(db, "time_slice") == [4.0] * 10  # minute 15 minus minute 10


def test_reset_mode_and_busy_subsystems_keep_every_file(make_settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(keep_received_files=1, subsystem_modes={"HLT": "reset"})
    register_plugin("HLT", DetectorPlugin)
    try:
        for minute in (0, 5, 10):
            _drop(settings, minute, 1.0, subsystem="HLT")
            _drop(settings, minute, 1.0)
        _process(settings, db)
        # A newer EMC file waits to be processed: its subsystem has a queued job.
        _drop(settings, 20, 2.0)
        scan(settings, db)
        assert prune(settings, db).files_removed == 0
        assert {state for _, state in _files(db, "HLT")} == {"kept"}
        Worker(settings, db).run_until_idle()
        assert prune(settings, db).files_removed == 3  # EMC now; HLT never
        assert [state for _, state in _files(db)] == ["pruned"] * 3 + ["kept"]
        assert {state for _, state in _files(db, "HLT")} == {"kept"}
    finally:
        unregister_plugin("HLT")


def test_old_runs_are_archived_and_stay_readable(
    make_settings, db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "archive"
    settings: Settings = make_settings(archive_after_days=30, archive_dir=str(archive))
    for minute, value in ((0, 1), (5, 3)):
        _drop(settings, minute, value)
    _process(settings, db)

    report = prune(settings, db)
    assert (report.files_archived, report.runs_archived) == (2, {RUN})
    assert not (settings.data_dir / f"Run{RUN}").exists()  # emptied folders go too
    assert len(list(archive.glob(f"Run{RUN}/EMC/*.root"))) == 2
    assert {state for _, state in _files(db)} == {"archived"}
    with db.session() as session:
        [usage] = disk_usage(session)
    assert (usage.files, usage.files_archived, usage.files_pruned) == (0, 2, 0)
    assert usage.bytes_archived > 0

    # A time slice of an archived run reads the files from the archive.
    _enqueue(db, "time_slice", {"min_minutes": 2, "max_minutes": 7, "options": {}}, "slice")
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    assert _current_bins(db, "time_slice") == [2.0] * 10

    # Reprocessing the run reads the archive too; its files stay archived.
    _enqueue(db, "process", {"force": True}, "process-again")
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    assert {state for _, state in _files(db)} == {"archived"}


def test_rebuild_registers_the_archived_runs_from_the_archive(
    make_settings, db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "archive"
    settings: Settings = make_settings(archive_after_days=30, archive_dir=str(archive))
    names = [_drop(settings, minute, value).name for minute, value in ((0, 1), (5, 3))]
    _process(settings, db)
    before = _current_bins(db)
    assert prune(settings, db).files_archived == 2
    # An archiving cut short after the copy: the first file is in both places.
    copied = settings.data_dir / f"Run{RUN}" / "EMC" / names[0]
    copied.parent.mkdir(parents=True)
    copied.write_bytes((archive / f"Run{RUN}" / "EMC" / names[0]).read_bytes())
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_ARCHIVE_DIR": str(archive),
    }

    result = CliRunner().invoke(cli, ["db", "rebuild", "--yes", "--no-process"], env=env)

    assert result.exit_code == 0, result.output
    assert "rebuild: 2 file(s) registered, 1 job(s) queued" in result.output
    assert _files(db) == [(names[0], "kept"), (names[1], "archived")]
    outcomes = Worker(settings, db).run_until_idle()
    assert [outcome.state for outcome in outcomes] == ["done"], outcomes
    assert _current_bins(db) == before


def test_an_archive_cut_short_is_finished_by_the_next_pass(
    make_settings, db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "archive"
    settings: Settings = make_settings(archive_after_days=30, archive_dir=str(archive))
    name = _drop(settings, 0, 1.0).name
    _process(settings, db)
    with db.session() as session:
        stored = session.scalars(select(ReceivedFile.path)).one()
    # A crash after the move, before the row was marked: the row still says what it said.
    moved = archive / stored
    moved.parent.mkdir(parents=True)
    (settings.data_dir / stored).rename(moved)
    with db.session() as session:
        row = session.scalars(select(ReceivedFile)).one()
        assert settings.received_file_path(row.path, row.state) == moved  # still found
    assert prune(settings, db).files_archived == 1
    assert _files(db) == [(name, "archived")]


def test_prune_command_reports_and_dry_run(make_settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(keep_received_files=1)
    for minute in (0, 5):
        _drop(settings, minute, 1.0)
    _process(settings, db)
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_KEEP_RECEIVED_FILES": "1",
    }
    runner = CliRunner()
    dry = runner.invoke(cli, ["prune", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "keep the newest 1 file(s)" in dry.output
    assert "prune (would): remove 1 file(s)" in dry.output
    assert [state for _, state in _files(db)] == ["kept", "kept"]
    done = runner.invoke(cli, ["prune"], env=env)
    assert done.exit_code == 0, done.output
    assert "prune (did): remove 1 file(s)" in done.output
    assert [state for _, state in _files(db)] == ["pruned", "kept"]


def test_no_jobs_or_policies_means_nothing_to_do(settings: Settings, db: Database) -> None:
    _drop(settings, 0, 1.0)
    _process(settings, db)
    report = prune(settings, db)
    assert (report.files_removed, report.files_archived, report.results_removed) == (0, 0, 0)
    with db.session() as session:
        assert session.scalars(select(Job.state)).all() == ["done"]
