"""Intake survives any single file: overflowing names, database and file-system failures.

Found by a hostile tester: one bad name made every scan raise before it queued
anything. Each test mixes one bad file among good ones and checks that the good
ones are filed and queued, the bad one is set aside (or left for a retry) and the
scan itself returns.
"""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy import text

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.processing.scan import scan
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import Job
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import ReceivedFile

T0 = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)


def _drop(settings: Settings, subsystem: str, run: int, minute: int) -> Path:
    return write_receiver_file(
        settings.data_dir,
        subsystem,
        run,
        "C",
        T0.replace(minute=minute),
        {"h": (np.arange(10, dtype=np.float32) * minute, np.linspace(0, 10, 11))},
        settings.tz,
    )


def _rename(path: Path, name: str) -> Path:
    """A real ROOT file under a name no writer would build (ours refuses it)."""
    target = path.with_name(name)
    path.rename(target)
    return target


def _quarantined(db: Database) -> dict[str, str]:
    with db.session() as session:
        rows = session.scalars(select(QuarantinedFile)).all()
        return {row.original_name: row.reason for row in rows}


def _filed(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(ReceivedFile.file_name)))


def _queued(db: Database) -> list[tuple[str | None, int | None]]:
    with db.session() as session:
        rows = session.execute(select(Job.subsystem, Job.run_number)).all()
        return sorted((subsystem, run) for subsystem, run in rows)


OVERFLOWING = [
    "EMChistos_3000000000_C_2018_10_22_9_53_55.root",  # INTEGER overflow on PostgreSQL
    "EMChistos_5_C_0001_01_01_0_0_0.root",  # year 1: UTC conversion overflows
]


def test_overflowing_names_are_quarantined_and_process_once_goes_on(
    settings: Settings, db: Database
) -> None:
    good = [_drop(settings, "EMC", 5, 1), _drop(settings, "TPC", 5, 2)]
    for minute, name in enumerate(OVERFLOWING, start=10):
        _rename(_drop(settings, "EMC", 5, minute), name)
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_FILE_SETTLE_SECONDS": "0",
        "OVERWATCH_PROCESSING_WORKERS": "1",
    }
    result = CliRunner().invoke(cli, ["process", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "scan: 2 new file(s), 2 quarantined" in result.output
    assert "processed: 2 job(s) done, 0 failed" in result.output
    assert _filed(db) == sorted(path.name for path in good)
    reasons = _quarantined(db)
    assert set(reasons) == set(OVERFLOWING)
    assert "larger than 2147483647" in reasons[OVERFLOWING[0]]
    assert "year 1 is outside" in reasons[OVERFLOWING[1]]
    for name in OVERFLOWING:
        assert (settings.effective_quarantine_dir / name).is_file()
        assert not (settings.data_dir / name).exists()


def _reject_tpc_files(db: Database) -> None:
    """A real database error for one file: a trigger refuses TPC rows."""
    with db.session() as session:
        if db.is_sqlite:
            session.execute(
                text(
                    "CREATE TRIGGER refuse_tpc BEFORE INSERT ON received_files "
                    "WHEN NEW.file_name LIKE 'TPC%' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION refuse_tpc() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.file_name LIKE 'TPC%' THEN "
                    "RAISE EXCEPTION 'refused by a test trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER refuse_tpc BEFORE INSERT ON received_files "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_tpc()"
                )
            )


def test_a_database_error_for_one_file_quarantines_it_and_spares_the_others(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    _reject_tpc_files(db)
    emc = _drop(settings, "EMC", 8, 1)
    tpc = _drop(settings, "TPC", 8, 1)
    hlt = _drop(settings, "HLT", 8, 1)
    with caplog.at_level(logging.INFO, logger="overwatch"):
        report = scan(settings, db)
    assert sorted(report.registered) == [f"Run8/EMC/{emc.name}", f"Run8/HLT/{hlt.name}"]
    assert [name for name, _ in report.quarantined] == [tpc.name]
    assert "refused by a test trigger" in _quarantined(db)[tpc.name]
    assert (settings.effective_quarantine_dir / tpc.name).is_file()
    # TPC's own file was set aside, so TPC follows the HLT files (borrowing_subsystems).
    assert _queued(db) == [("EMC", 8), ("HLT", 8), ("TPC", 8)]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert tpc.name in failures[0].getMessage()
    assert failures[0].exc_info is not None  # the traceback is in the log


def test_a_file_system_error_for_one_file_leaves_it_for_the_next_scan(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # A plain file where the run's directory should be: filing run 7 fails.
    (settings.data_dir / "Run7").write_text("in the way")
    blocked = _drop(settings, "EMC", 7, 1)
    fine = _drop(settings, "EMC", 9, 1)
    with caplog.at_level(logging.INFO, logger="overwatch"):
        report = scan(settings, db)
    assert report.registered == [f"Run9/EMC/{fine.name}"]
    assert report.quarantined == []
    assert blocked.is_file()  # still waiting, not lost
    assert _filed(db) == [fine.name]  # not registered before it could be filed
    assert _queued(db) == [("EMC", 9)]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [blocked.name in r.getMessage() for r in failures] == [True]
    assert failures[0].exc_info is not None
    (settings.data_dir / "Run7").unlink()
    again = scan(settings, db)
    assert again.registered == [f"Run7/EMC/{blocked.name}"]


def test_process_once_starts_its_second_worker_during_the_scan(
    settings: Settings, db: Database
) -> None:
    """A backlog: the extra worker process starts while the scan runs and waits for it
    (which of the two processes takes how many jobs depends on the machine's load);
    every file is processed exactly once."""
    from overwatch.storage.models import JobAttempt  # noqa: PLC0415

    dropped = [_drop(settings, "EMC", 40 + n, n) for n in range(20)]
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_FILE_SETTLE_SECONDS": "0",
        "OVERWATCH_PROCESSING_WORKERS": "2",
    }
    result = CliRunner().invoke(cli, ["process", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "scan: 20 new file(s)" in result.output
    assert "processed: 20 job(s) done, 0 failed" in result.output
    assert _filed(db) == sorted(path.name for path in dropped)
    with db.session() as session:
        attempts = session.scalars(select(JobAttempt.outcome)).all()
        states = set(session.scalars(select(Job.state)))
    assert states == {"done"}
    assert attempts == ["done"] * 20
