"""Intake: find new receiver files, register them, file them away, queue work.

A scan is level-triggered and idempotent. For each finished file at the top of the
data directory it registers the file (run, subsystem, file row) in one
transaction, then moves it into ``Run<N>/<SYS>/``; a crash between the two leaves
the file where it was and the next scan completes the move. Work is queued from
the database state (subsystems whose newest file is newer than their result), so
nothing depends on having seen a file arrive.

No single file stops a scan. Bad files (a name that does not parse completely,
unreadable content, a symbolic link leading out of the data directory) go to the
quarantine folder with the reason recorded. Any other failure with one file is
logged with its traceback: a file-system or database-connection error leaves the
file for the next scan, anything else sets it aside like a bad file; the other
files and the queuing of work go on. Several daemons may share one data
directory: a file another scanner took first is skipped quietly (DEBUG).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Collection
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import uproot
from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from overwatch.config import Settings
from overwatch.detectors.registry import plugin_class
from overwatch.processing.links import link_problem
from overwatch.processing.links import move_into_place
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import ReceivedFileName
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.writer import remove_stale_temporaries
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import SubsystemRun
from overwatch.storage.records import record_quarantine
from overwatch.storage.records import register_borrower
from overwatch.storage.records import register_file
from overwatch.storage.records import subsystems_needing_processing

__all__ = [
    "ScanReport",
    "borrowers_of",
    "enqueue_pending",
    "file_checksum",
    "quarantine",
    "register_existing",
    "run_directory",
    "scan",
]

log = logging.getLogger(__name__)

REPLAY_DIR = "replay"
#: A receiver's temporary file untouched this long belongs to a writer that died.
STALE_TEMPORARY_SECONDS = 3600.0
#: Tries at registering one file when other scanners register the same run at once.
REGISTER_ATTEMPTS = 3
#: Failures that say nothing about the file (disk, database connection): it is tried again.
RETRIED_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
)


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
    except Exception as exc:  # any failure to parse means a bad file
        if not os.path.lexists(path):
            raise FileNotFoundError(path) from exc  # taken by another scanner, not bad
        return f"not a readable ROOT file: {type(exc).__name__}: {exc}"
    return None


def _candidates(
    data_dir: Path, settle_seconds: float, report: ScanReport, complete: frozenset[str]
) -> Iterator[Path]:
    now = time.time()
    with os.scandir(data_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if not is_candidate(entry.name):
                continue
            link = entry.is_symlink()
            if not link and not entry.is_file(follow_symlinks=False):
                continue
            try:
                modified = entry.stat(follow_symlinks=not link).st_mtime
            except FileNotFoundError:
                continue  # another scanner took it since the listing
            if link:
                # A link is checked (and reported) when taken in; its target's age does not matter.
                yield Path(entry.path)
            elif now - modified < settle_seconds and entry.name not in complete:
                report.unsettled.append(entry.name)
            else:
                yield Path(entry.path)


def borrowers_of(settings: Settings, subsystem: str) -> list[str]:
    """The subsystems (``borrowing_subsystems``) whose plugin processes ``subsystem``'s files."""
    return [
        name
        for name in settings.borrowing_subsystems
        if name != subsystem and plugin_class(name).source_subsystem == subsystem
    ]


def _register(
    settings: Settings,
    db: Database,
    parsed: ReceivedFileName,
    relative: str,
    size: int,
    checksum: str,
) -> bool:
    """Register one file in its own transaction; whether it was new.

    Another scanner may register the same file, run or subsystem at the same time:
    the loser's insert violates a unique index, and trying again finds the winner's rows.
    """
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            with db.session() as session:
                row, created = register_file(
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
                source = session.get(SubsystemRun, row.subsystem_id) if created else None
                if source is not None:
                    for name in borrowers_of(settings, parsed.subsystem):
                        register_borrower(session, source, name, parsed.timestamp)
        except IntegrityError:
            if attempt == REGISTER_ATTEMPTS:
                raise
            log.debug("%s: registered concurrently by another scanner; trying again", relative)
            continue
        return created
    raise AssertionError("unreachable")  # pragma: no cover


def _file_one(
    settings: Settings, db: Database, path: Path, parsed: ReceivedFileName, report: ScanReport
) -> None:
    data_dir = settings.data_dir
    if not parsed.processable:
        target_dir = data_dir / REPLAY_DIR / f"Run{parsed.run_number}" / parsed.subsystem
        target_dir.mkdir(parents=True, exist_ok=True)
        move_into_place(path, target_dir / path.name)
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
    # The directory first: a file that cannot be filed is not registered either.
    target_dir.mkdir(parents=True, exist_ok=True)
    relative = target.relative_to(data_dir).as_posix()
    created = _register(settings, db, parsed, relative, path.stat().st_size, checksum)
    move_into_place(path, target)
    if created:
        report.registered.append(relative)


def _take_in(settings: Settings, db: Database, path: Path, report: ScanReport) -> None:
    problem = link_problem(settings.data_dir, path) if path.is_symlink() else None
    if problem is not None:
        _reject(settings, db, path, problem, report)
        return
    try:
        parsed = parse_file_name(path.name, settings.tz)
    except FileNameError as exc:
        _reject(settings, db, path, str(exc), report)
        return
    problem = _content_problem(path)
    if problem is not None:
        _reject(settings, db, path, problem, report)
        return
    _file_one(settings, db, path, parsed, report)


def _intake_one(settings: Settings, db: Database, path: Path, report: ScanReport) -> None:
    """Take in one file; whatever goes wrong with it stays with it (the intake boundary)."""
    try:
        _take_in(settings, db, path, report)
    except Exception as exc:  # one file never stops intake; logged below
        gone = not os.path.lexists(path)
        if gone and isinstance(exc, FileNotFoundError):
            # Another daemon sharing the data directory filed or set it aside first.
            log.debug("%s was taken in by another scanner", path.name)
            return
        if gone or isinstance(exc, RETRIED_ERRORS):
            log.error("could not take in %s; trying again next scan", path.name, exc_info=True)
            return
        log.error("taking in %s failed; setting it aside", path.name, exc_info=True)
        reason = f"intake failed: {type(exc).__name__}: {str(exc).strip()}"
        try:
            _reject(settings, db, path, reason, report)
        except (OSError, SQLAlchemyError):
            if os.path.lexists(path):
                log.error(
                    "could not set %s aside either; trying again next scan",
                    path.name,
                    exc_info=True,
                )


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


def scan(settings: Settings, db: Database, *, complete: Collection[Path] = ()) -> ScanReport:
    """One pass over the data directory; see the module docstring.

    ``complete`` names files known to be whole (the file watcher saw them renamed into
    place or closed by their writer): they skip the settle time that protects files a
    writer may still be writing.
    """
    report = ScanReport()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    whole = frozenset(path.name for path in complete)
    stale = remove_stale_temporaries(data_dir, STALE_TEMPORARY_SECONDS)
    if stale:
        log.info("removed %d temporary file(s) left by interrupted writers: %s", len(stale), stale)
    for path in _candidates(data_dir, settings.file_settle_seconds, report, whole):
        _intake_one(settings, db, path, report)
    report.jobs_queued = enqueue_pending(settings, db)
    if report.registered or report.quarantined:
        log.info("scan: %s", report.summary())
    return report


def register_existing(
    settings: Settings, db: Database, *, only_unknown: bool = False
) -> ScanReport:
    """Register every file already filed under ``Run<N>/<SYS>/`` and queue the work.

    ``overwatch db rebuild`` calls it on an emptied database. With ``only_unknown``
    (``overwatch db register-files``, after restoring a dump older than the data
    directory) the files the database knows are skipped without being read, and
    only the ones filed after the dump are registered.
    """
    report = ScanReport()
    data_dir = settings.data_dir
    known: set[str] = set()
    if only_unknown:
        with db.session() as session:
            known = set(session.scalars(select(ReceivedFile.path)))
    for path in sorted(data_dir.glob("Run*/*/*.root")):
        if not is_candidate(path.name):
            continue
        if known and path.relative_to(data_dir).as_posix() in known:
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
