"""Intake: find new receiver files, register them, file them away, queue work.

A scan is level-triggered and idempotent. For each finished file at the top of the
data directory it registers the file (run, subsystem, file row) in one
transaction, then moves it into ``Run<N>/<SYS>/``; a crash between the two leaves
the file where it was and the next scan completes the move. Work is queued from
the database state (subsystems whose newest file is newer than their result), so
nothing depends on having seen a file arrive. Bad files go to the quarantine folder
with the reason recorded; they never stop the scan.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import uproot

from overwatch.config import Settings
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import ReceivedFileName
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.records import record_quarantine
from overwatch.storage.records import register_file
from overwatch.storage.records import subsystems_needing_processing

__all__ = [
    "ScanReport",
    "enqueue_pending",
    "file_checksum",
    "quarantine",
    "register_existing",
    "run_directory",
    "scan",
]

log = logging.getLogger(__name__)

REPLAY_DIR = "replay"


@dataclass
class ScanReport:
    registered: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    replays: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    jobs_queued: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.registered)} new file(s), {len(self.quarantined)} quarantined, "
            f"{len(self.replays)} replay(s) set aside, {len(self.duplicates)} duplicate(s), "
            f"{self.jobs_queued} job(s) queued"
        )


def run_directory(data_dir: Path, run_number: int, subsystem: str) -> Path:
    return data_dir / f"Run{run_number}" / subsystem


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    counter = 1
    while target.exists():
        target = directory / f"{name}.{counter}"
        counter += 1
    return target


def quarantine(settings: Settings, db: Database, path: Path, reason: str) -> Path:
    """Move a bad file aside, record why, and log it."""
    directory = settings.effective_quarantine_dir
    directory.mkdir(parents=True, exist_ok=True)
    target = _free_name(directory, path.name)
    shutil.move(str(path), target)
    (target.parent / (target.name + ".reason.txt")).write_text(reason + "\n", encoding="utf-8")
    with db.session() as session:
        record_quarantine(session, path.name, str(target), reason)
    log.warning("quarantined %s: %s", path.name, reason)
    return target


def _reject(settings: Settings, db: Database, path: Path, reason: str, report: ScanReport) -> None:
    quarantine(settings, db, path, reason)
    report.quarantined.append((path.name, reason))


def _content_problem(path: Path) -> str | None:
    """Why a file cannot be read as ROOT, or None; cheap: reads only the key list."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with uproot.open(path) as root_file:
            root_file.keys(recursive=False)
    except Exception as exc:  # noqa: BLE001 - any failure to parse means a bad file
        return f"not a readable ROOT file: {type(exc).__name__}: {exc}"
    return None


def _candidates(data_dir: Path, settle_seconds: float, report: ScanReport) -> Iterator[Path]:
    now = time.time()
    with os.scandir(data_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False) or not is_candidate(entry.name):
                continue
            if now - entry.stat().st_mtime < settle_seconds:
                report.unsettled.append(entry.name)
                continue
            yield Path(entry.path)


def _register(
    settings: Settings,
    db: Database,
    parsed: ReceivedFileName,
    relative: str,
    size: int,
    checksum: str,
) -> bool:
    """Register one file in its own transaction; whether it was new."""
    with db.session() as session:
        _, created = register_file(
            session,
            run_number=parsed.run_number,
            subsystem=parsed.subsystem,
            hlt_mode=parsed.hlt_mode,
            accumulation_mode=settings.mode_for(parsed.subsystem),
            timestamp=parsed.timestamp,
            path=relative,
            size=size,
            checksum=checksum,
        )
    return created


def _file_one(
    settings: Settings, db: Database, path: Path, parsed: ReceivedFileName, report: ScanReport
) -> None:
    data_dir = settings.data_dir
    if not parsed.processable:
        target_dir = data_dir / REPLAY_DIR / f"Run{parsed.run_number}" / parsed.subsystem
        target_dir.mkdir(parents=True, exist_ok=True)
        os.replace(path, target_dir / path.name)
        report.replays.append(path.name)
        log.info("replay file %s set aside, not processed", path.name)
        return
    target_dir = run_directory(data_dir, parsed.run_number, parsed.subsystem)
    target = target_dir / path.name
    checksum = file_checksum(path)
    if target.exists():
        if file_checksum(target) == checksum:
            path.unlink()
            report.duplicates.append(path.name)
            log.info("duplicate of already filed %s removed", path.name)
            return
        if target.stat().st_size > 0:
            reason = f"a different file named {path.name} was already received for run {parsed.run_number}"
            _reject(settings, db, path, reason, report)
            return
    relative = target.relative_to(data_dir).as_posix()
    created = _register(settings, db, parsed, relative, path.stat().st_size, checksum)
    target_dir.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    if created:
        report.registered.append(relative)


def enqueue_pending(settings: Settings, db: Database) -> int:
    """Queue a processing job for every subsystem whose files are newer than its result."""
    count = 0
    with db.session() as session:
        for sub in subsystems_needing_processing(session):
            enqueue_job(
                session,
                kind="process",
                dedupe_key=f"process:{sub.id}",
                subsystem_id=sub.id,
                run_number=sub.run.run_number,
                subsystem=sub.name,
                max_attempts=settings.job_max_attempts,
            )
            count += 1
    return count


def scan(settings: Settings, db: Database) -> ScanReport:
    """One pass over the data directory; see the module docstring."""
    report = ScanReport()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in _candidates(data_dir, settings.file_settle_seconds, report):
        try:
            parsed = parse_file_name(path.name, settings.tz)
        except FileNameError as exc:
            _reject(settings, db, path, str(exc), report)
            continue
        problem = _content_problem(path)
        if problem is not None:
            _reject(settings, db, path, problem, report)
            continue
        try:
            _file_one(settings, db, path, parsed, report)
        except OSError as exc:
            # A file system hiccup on one file must not stop the others; it is retried next scan.
            log.error("could not file %s: %s", path.name, exc)
    report.jobs_queued = enqueue_pending(settings, db)
    if report.registered or report.quarantined:
        log.info("scan: %s", report.summary())
    return report


def register_existing(settings: Settings, db: Database) -> ScanReport:
    """Register every file already filed under ``Run<N>/<SYS>/`` (``overwatch db rebuild``)."""
    report = ScanReport()
    data_dir = settings.data_dir
    for path in sorted(data_dir.glob("Run*/*/*.root")):
        if not is_candidate(path.name):
            continue
        try:
            parsed = parse_file_name(path.name, settings.tz)
        except FileNameError as exc:
            _reject(settings, db, path, str(exc), report)
            continue
        if path.parent != run_directory(data_dir, parsed.run_number, parsed.subsystem):
            log.warning(
                "%s is filed under the wrong run or subsystem; registering it where it is", path
            )
        relative = path.relative_to(data_dir).as_posix()
        if _register(settings, db, parsed, relative, path.stat().st_size, file_checksum(path)):
            report.registered.append(relative)
    report.jobs_queued = enqueue_pending(settings, db)
    return report
