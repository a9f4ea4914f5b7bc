"""Intake: registration, filing into Run<N>/<SYS>/, idempotence, quarantine, replays."""

from __future__ import annotations

import os
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.processing.scan import register_existing
from overwatch.processing.scan import scan
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import Job
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

T0 = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)


def _hist(scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(10, dtype=np.float32) * scale, np.linspace(0, 10, 11)


def _drop(settings: Settings, subsystem: str, run: int, minute: int, mode: str = "C") -> Path:
    stamp = T0.replace(minute=minute)
    return write_receiver_file(
        settings.data_dir, subsystem, run, mode, stamp, {"h": _hist(minute + 1)}, settings.tz
    )


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_new_files_are_registered_filed_and_queued(settings: Settings, db: Database) -> None:
    first = _drop(settings, "EMC", 294832, 53)
    _drop(settings, "EMC", 294832, 54)
    _drop(settings, "TPC", 294832, 54)
    report = scan(settings, db)
    assert sorted(report.registered) == [
        "Run294832/EMC/EMChistos_294832_C_2018_10_22_9_53_55.root",
        "Run294832/EMC/EMChistos_294832_C_2018_10_22_9_54_55.root",
        "Run294832/TPC/TPChistos_294832_C_2018_10_22_9_54_55.root",
    ]
    assert not first.exists()
    assert (settings.data_dir / "Run294832" / "EMC" / first.name).is_file()
    assert report.jobs_queued == 2
    with db.session() as session:
        run = session.scalars(select(Run)).one()
        assert run.run_number == 294832
        assert run.first_file_time == T0.replace(minute=53)  # Zurich 9:53 CEST is 7:53 UTC
        assert run.last_file_time == T0.replace(minute=54)
        emc = session.scalars(select(SubsystemRun).where(SubsystemRun.name == "EMC")).one()
        assert (emc.file_count, emc.hlt_mode, emc.accumulation_mode) == (2, "C", "cumulative")
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.kind, j.subsystem, j.run_number, j.state) for j in jobs] == [
            ("process", "EMC", 294832, "queued"),
            ("process", "TPC", 294832, "queued"),
        ]
        checksums = session.scalars(select(ReceivedFile.checksum)).all()
        assert all(len(c) == 64 for c in checksums)


def test_scanning_again_adds_nothing(settings: Settings, db: Database) -> None:
    _drop(settings, "EMC", 1, 1)
    scan(settings, db)
    again = scan(settings, db)
    assert again.registered == []
    assert _count(db, ReceivedFile) == 1
    assert _count(db, Job) == 1  # still the one queued job


def test_file_seen_twice_is_one_row(settings: Settings, db: Database) -> None:
    path = _drop(settings, "EMC", 1, 1)
    content = path.read_bytes()
    scan(settings, db)
    # The receiver resends the same file: it is recognised as a duplicate and removed.
    path.write_bytes(content)
    os.utime(path, (time.time() - 60, time.time() - 60))
    report = scan(settings, db)
    assert report.duplicates == [path.name]
    assert not path.exists()
    assert _count(db, ReceivedFile) == 1


def test_crash_between_registration_and_move_is_completed_next_scan(
    settings: Settings, db: Database
) -> None:
    path = _drop(settings, "HLT", 5, 2)
    scan(settings, db)
    filed = settings.data_dir / "Run5" / "HLT" / path.name
    # Simulate a crash after registering but before moving: the file is back on top.
    filed.rename(path)
    report = scan(settings, db)
    assert filed.is_file()
    assert not path.exists()
    assert report.registered == []
    assert _count(db, ReceivedFile) == 1


def test_bad_names_and_bad_content_are_quarantined_without_blocking(
    settings: Settings, db: Database
) -> None:
    (settings.data_dir / "garbage.root").write_bytes(b"not a root file at all")
    (settings.data_dir / "EMChistos_12_C_2018_13_40_1_2_3.root").write_bytes(b"x")
    (settings.data_dir / "EMChistos_12_C_2018_1_4_1_2_3.root").write_bytes(b"\x00" * 300)
    (settings.data_dir / "EMChistos_12_C_2018_1_4_1_2_4.root").write_bytes(b"")
    good = _drop(settings, "EMC", 12, 5)
    report = scan(settings, db)
    reasons = dict(report.quarantined)
    assert set(reasons) == {
        "garbage.root",
        "EMChistos_12_C_2018_13_40_1_2_3.root",
        "EMChistos_12_C_2018_1_4_1_2_3.root",
        "EMChistos_12_C_2018_1_4_1_2_4.root",
    }
    assert "does not match" in reasons["garbage.root"]
    assert "invalid date" in reasons["EMChistos_12_C_2018_13_40_1_2_3.root"]
    assert "not a readable ROOT file" in reasons["EMChistos_12_C_2018_1_4_1_2_3.root"]
    assert reasons["EMChistos_12_C_2018_1_4_1_2_4.root"] == "empty file"
    assert report.registered == [f"Run12/EMC/{good.name}"]
    quarantine = settings.effective_quarantine_dir
    assert (quarantine / "garbage.root").is_file()
    assert "does not match" in (quarantine / "garbage.root.reason.txt").read_text()
    with db.session() as session:
        rows = session.scalars(select(QuarantinedFile)).all()
        assert {r.original_name for r in rows} == set(reasons)


def test_hidden_temporary_and_unsettled_files_are_left_alone(
    make_settings, data_dir: Path, db: Database
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(file_settle_seconds=3600)
    (data_dir / ".EMChistos_1_C_2018_1_1_1_1_1.root.x1.tmp").write_bytes(b"partial")
    fresh = _drop(settings, "EMC", 1, 1)
    report = scan(settings, db)
    assert report.unsettled == [fresh.name]
    assert report.registered == []
    assert fresh.exists()
    assert (data_dir / ".EMChistos_1_C_2018_1_1_1_1_1.root.x1.tmp").exists()
    assert report.quarantined == []


def test_replay_files_are_set_aside_and_never_processed(settings: Settings, db: Database) -> None:
    path = _drop(settings, "EMC", 7, 3, mode="E")
    report = scan(settings, db)
    assert report.replays == [path.name]
    assert (settings.data_dir / "replay" / "Run7" / "EMC" / path.name).is_file()
    assert _count(db, ReceivedFile) == 0
    assert _count(db, Job) == 0


def test_conflicting_file_with_same_name_is_quarantined(settings: Settings, db: Database) -> None:
    path = _drop(settings, "EMC", 3, 1)
    scan(settings, db)
    write_receiver_file(
        settings.data_dir, "EMC", 3, "C", T0.replace(minute=1), {"other": _hist(9)}, settings.tz
    )
    report = scan(settings, db)
    assert [name for name, _ in report.quarantined] == [path.name]
    assert "already received" in report.quarantined[0][1]


def test_register_existing_rebuilds_from_filed_files(settings: Settings, db: Database) -> None:
    for minute in (1, 2):
        _drop(settings, "TPC", 9, minute)
    scan(settings, db)
    with db.session() as session:
        session.query(Job).delete()
        session.query(Run).delete()
    report = register_existing(settings, db)
    assert len(report.registered) == 2
    assert report.jobs_queued == 1
    assert _count(db, ReceivedFile) == 2


def test_a_file_damaged_inside_is_filed_and_then_quarantined_by_its_job(
    settings: Settings, db: Database
) -> None:
    """The scan reads only the header; the job that reads the keys sets the file aside."""
    from overwatch.processing.worker import Worker  # noqa: PLC0415

    older = _drop(settings, "EMC", 14, 1)
    newest = _drop(settings, "EMC", 14, 2)
    data = bytearray(newest.read_bytes())
    begin = int.from_bytes(data[8:12], "big")
    data[begin : begin + 200] = b"\xff" * 200  # the top directory's key, header intact
    newest.write_bytes(bytes(data))
    report = scan(settings, db)
    assert sorted(report.registered) == sorted(f"Run14/EMC/{path.name}" for path in (older, newest))
    assert report.quarantined == []
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done"
    with db.session() as session:
        quarantined = session.scalars(select(QuarantinedFile)).one()
        assert quarantined.original_name == newest.name
        assert "unreadable during processing" in quarantined.reason
        states = dict(session.execute(select(ReceivedFile.file_name, ReceivedFile.state)).all())
    assert states == {older.name: "processed", newest.name: "quarantined"}


def test_a_backlog_is_registered_in_batches_and_queued_once_each(
    settings: Settings, db: Database
) -> None:
    from overwatch.processing import scan as scan_module  # noqa: PLC0415

    dropped = [
        _drop(settings, subsystem, 20 + n, n) for n in range(7) for subsystem in ("EMC", "TPC")
    ]
    original = scan_module.REGISTER_BATCH
    scan_module.REGISTER_BATCH = 3
    try:
        report = scan(settings, db)
    finally:
        scan_module.REGISTER_BATCH = original
    assert len(report.registered) == len(dropped) == _count(db, ReceivedFile)
    assert report.jobs_queued == 14 == _count(db, Job)
    assert scan(settings, db).jobs_queued == 14  # queued again: no second job per subsystem
    assert _count(db, Job) == 14


def test_a_backlog_queues_each_batch_at_once_without_splitting_a_run(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers start on the first batches while the scan files the rest; the files of
    # one run and subsystem stay in one batch, so no job sees only part of them.
    from overwatch.processing import scan as scan_module  # noqa: PLC0415

    for minute in range(5):
        _drop(settings, "EMC", 30, minute)
    for n in range(4):
        _drop(settings, "TPC", 40 + n, n)
    monkeypatch.setattr(scan_module, "REGISTER_BATCH", 2)
    seen: list[tuple[list[tuple[str, int]], int]] = []
    original = scan_module._file_batch

    def filing(*args: Any) -> None:
        batch = args[2]
        owners = sorted({(item.parsed.subsystem, item.parsed.run_number) for item in batch})
        seen.append((owners, _count(db, Job)))
        original(*args)

    monkeypatch.setattr(scan_module, "_file_batch", filing)
    report = scan(settings, db)
    assert [owners for owners, _ in seen] == [
        [("EMC", 30)],
        [("TPC", 40), ("TPC", 41)],
        [("TPC", 42), ("TPC", 43)],
    ]
    assert [jobs for _, jobs in seen] == [0, 1, 3]
    assert report.jobs_queued == 5 == _count(db, Job)


def test_a_borrowing_subsystem_is_queued_after_the_batch_with_its_own_files(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HLT's files come first (by name); TPC borrows them until its own arrive. Queued
    # after HLT's batch, TPC would be processed once from HLT's files, once from its own.
    from overwatch.processing import scan as scan_module  # noqa: PLC0415

    assert "TPC" in settings.borrowing_subsystems
    for minute in range(3):
        _drop(settings, "HLT", 50, minute)
    for minute in range(3):
        _drop(settings, "TPC", 50, minute)
    monkeypatch.setattr(scan_module, "REGISTER_BATCH", 2)
    queued_before: list[list[str]] = []
    original = scan_module._file_batch

    def filing(*args: Any) -> None:
        with db.session() as session:
            queued_before.append(sorted(session.scalars(select(Job.subsystem))))
        original(*args)

    monkeypatch.setattr(scan_module, "_file_batch", filing)
    report = scan(settings, db)
    assert queued_before == [[], ["HLT"]]  # TPC not queued from HLT's files alone
    with db.session() as session:
        assert sorted(session.scalars(select(Job.subsystem))) == ["HLT", "TPC"]
    assert report.jobs_queued == 2
