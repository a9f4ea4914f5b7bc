"""Intake details a hostile tester found: symbolic links, and two daemons on one data directory."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import ScanReport
from overwatch.processing.scan import file_checksum
from overwatch.processing.scan import scan
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import Job
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Run

T0 = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)


def _write(directory: Path, settings: Settings, subsystem: str, run: int, second: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return write_receiver_file(
        directory,
        subsystem,
        run,
        "C",
        T0.replace(second=second),
        {"h": (np.arange(10, dtype=np.float32) * (second + 1), np.linspace(0, 10, 11))},
        settings.tz,
    )


def _quarantined(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [
            (row.original_name, row.reason)
            for row in session.scalars(select(QuarantinedFile).order_by(QuarantinedFile.id))
        ]


# -- symbolic links -------------------------------------------------------------------


def test_link_to_a_file_inside_the_data_directory_is_followed_and_processed(
    settings: Settings, db: Database
) -> None:
    staged = _write(settings.data_dir / "staging", settings, "EMC", 4, 1)
    link = settings.data_dir / staged.name
    link.symlink_to(Path("staging") / staged.name)  # relative, as rsync or ln -s would make
    report = scan(settings, db)
    assert report.registered == [f"Run4/EMC/{staged.name}"]
    assert not os.path.lexists(link)
    filed = settings.data_dir / "Run4" / "EMC" / staged.name
    assert filed.resolve() == staged.resolve()  # still leads to the same file from its folder
    assert file_checksum(filed) == file_checksum(staged)
    summary = process_pending(settings, db, workers=1)
    assert (summary.done, summary.failed) == (1, 0)


@pytest.mark.parametrize(
    ("make_link", "reason"),
    [
        ("outside", "outside the data directory"),
        ("dangling", "which does not exist"),
        ("directory", "not a regular file"),
    ],
)
def test_links_that_are_not_followed_are_reported_once(
    settings: Settings,
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_link: str,
    reason: str,
) -> None:
    outside = _write(tmp_path / "elsewhere", settings, "EMC", 6, 2)
    link = settings.data_dir / outside.name
    if make_link == "outside":
        link.symlink_to(outside)
    elif make_link == "dangling":
        link.symlink_to(settings.data_dir / "gone" / outside.name)
    else:
        (settings.data_dir / "folder.root").mkdir()
        link.symlink_to(settings.data_dir / "folder.root")
    good = _write(settings.data_dir, settings, "EMC", 6, 3)
    with caplog.at_level(logging.WARNING, logger="overwatch"):
        first = scan(settings, db)
        second = scan(settings, db)
    assert first.registered == [f"Run6/EMC/{good.name}"]
    assert [name for name, _ in first.quarantined] == [link.name]
    assert reason in first.quarantined[0][1]
    assert second.quarantined == []
    assert [name for name, _ in _quarantined(db)] == [link.name]
    warnings = [r.getMessage() for r in caplog.records if link.name in r.getMessage()]
    assert len(warnings) == 1
    assert reason in warnings[0]
    assert outside.is_file()  # a file outside the data directory is never touched
    assert os.path.islink(settings.effective_quarantine_dir / link.name)


# -- two scanners on one data directory -------------------------------------------------

BAD_NAMES = ("junk.root", "EMChistos_3000000000_C_2018_10_22_9_53_55.root")


def _drop_round(settings: Settings, round_number: int) -> list[Path]:
    files = [
        _write(settings.data_dir, settings, subsystem, 100 + round_number, second)
        for subsystem in ("EMC", "TPC", "HLT")
        for second in range(8)
    ]
    for name in BAD_NAMES:
        (settings.data_dir / f"r{round_number}{name}").write_bytes(b"not ROOT")
    return files


def _scan_together(settings: Settings, db: Database) -> list[ScanReport]:
    start = threading.Barrier(2)
    reports: list[ScanReport] = []
    errors: list[BaseException] = []

    def scanner() -> None:
        start.wait()
        try:
            reports.append(scan(settings, db))
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=scanner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return reports


def test_two_scanners_sharing_a_data_directory_agree_quietly(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    dropped: list[Path] = []
    with caplog.at_level(logging.DEBUG, logger="overwatch"):
        for round_number in range(3):
            dropped += _drop_round(settings, round_number)
            reports = _scan_together(settings, db)
            registered = [path for report in reports for path in report.registered]
            assert len(registered) == len(set(registered))
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    with db.session() as session:
        filed = sorted(session.scalars(select(ReceivedFile.file_name)))
        runs = session.scalars(select(Run.run_number).order_by(Run.run_number)).all()
        queued = session.scalar(select(func.count()).select_from(Job).where(Job.state == "queued"))
    assert filed == sorted(path.name for path in dropped)
    assert list(runs) == [100, 101, 102]
    assert queued == 9  # one per run and subsystem
    for path in dropped:
        assert (
            settings.data_dir / f"Run{path.name.split('_')[1]}" / path.name[:3] / path.name
        ).is_file()
    quarantined = sorted(name for name, _ in _quarantined(db))
    assert quarantined == sorted(f"r{n}{name}" for n in range(3) for name in BAD_NAMES)
    assert not [p for p in settings.data_dir.iterdir() if p.is_file()]
