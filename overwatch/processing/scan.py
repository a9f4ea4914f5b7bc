"""Intake: find new receiver files, register them, file them away, queue work.

A scan is level-triggered and idempotent. It checks each finished file at the top
of the data directory (its name, its ROOT header, a checksum), registers the
files that pass (run, subsystem, file row) in one transaction per
:data:`REGISTER_BATCH` files, then moves each into ``Run<N>/<SYS>/``; a crash
between the two leaves the files where they were and the next scan completes the
move. Work is queued from the database state (subsystems whose newest file is
newer than their result) in one more transaction, so nothing depends on having
seen a file arrive. Content is checked by the header only
(:mod:`overwatch.processing.rootheader`): a file damaged inside is quarantined by
the job that reads it.

No single file stops a scan. Bad files (a name that does not parse completely,
not a whole ROOT file, a symbolic link leading out of the data directory) go to the
quarantine folder with the reason recorded. When a batch's transaction fails, its
files are registered one by one, so the failure stays with the file that caused it. Any other failure with one file is
logged with its traceback: a file-system or database-connection error leaves the
file for the next scan, anything else sets it aside like a bad file; the other
files and the queuing of work go on. Several daemons may share one data
directory: a file another scanner took first is skipped quietly (DEBUG).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from overwatch.config import Settings
from overwatch.detectors.registry import plugin_class
from overwatch.processing.links import link_problem
from overwatch.processing.links import move_into_place
from overwatch.processing.rootheader import header_problem
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import ReceivedFileName
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.writer import remove_stale_temporaries
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_jobs
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
T = TypeVar("T")

REPLAY_DIR = "replay"
#: A receiver's temporary file untouched this long belongs to a writer that died.
STALE_TEMPORARY_SECONDS = 3600.0
#: Tries at registering files when other scanners register the same run at once.
REGISTER_ATTEMPTS = 3
#: Files registered in one transaction (a long backlog is not one long write lock).
REGISTER_BATCH = 100
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
    """SHA-256 of a file."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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


@dataclass(frozen=True)
class _Filing:
    """A file that passed its checks: where it goes and what is registered for it."""

    path: Path
    parsed: ReceivedFileName
    target: Path
    relative: str
    size: int
    checksum: str
    #: ``archived`` for a file a rebuild finds in the archive (``relative`` is then under it).
    state: str = "registered"


def _register_in(session: Session, settings: Settings, filing: _Filing) -> bool:
    parsed = filing.parsed
    row, created = register_file(
        session,
        run_number=parsed.run_number,
        subsystem=parsed.subsystem,
        hlt_mode=parsed.hlt_mode,
        accumulation_mode=settings.mode_for(parsed.subsystem),
        timestamp=parsed.timestamp,
        path=filing.relative,
        size=filing.size,
        checksum=filing.checksum,
        state=filing.state,
    )
    source = session.get(SubsystemRun, row.subsystem_id) if created else None
    if source is not None:
        for name in borrowers_of(settings, parsed.subsystem):
            register_borrower(session, source, name, parsed.timestamp)
    return created


def _register(settings: Settings, db: Database, filings: Sequence[_Filing]) -> list[bool]:
    """Register ``filings`` in one transaction; for each, whether it was new.

    Another scanner may register the same file, run or subsystem at the same time:
    the loser's insert violates a unique index, and trying again finds the winner's rows.
    """
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            with db.session() as session:
                return [_register_in(session, settings, filing) for filing in filings]
        except IntegrityError:
            if attempt == REGISTER_ATTEMPTS:
                raise
            log.debug("%d file(s) registered concurrently elsewhere; trying again", len(filings))
    raise AssertionError("unreachable")  # pragma: no cover


def _parse(settings: Settings, path: Path) -> ReceivedFileName | str:
    """The parsed name of a file fit to take in, else why it is not."""
    problem = link_problem(settings.data_dir, path) if path.is_symlink() else None
    if problem is not None:
        return problem
    try:
        parsed = parse_file_name(path.name, settings.tz)
    except FileNameError as exc:
        return str(exc)
    return header_problem(path) or parsed


def _check(settings: Settings, db: Database, path: Path, report: ScanReport) -> _Filing | None:
    """Check one file: set it aside (replay, duplicate, bad) or return how to file it."""
    parsed = _parse(settings, path)
    if isinstance(parsed, str):
        _reject(settings, db, path, parsed, report)
        return None
    data_dir = settings.data_dir
    if not parsed.processable:
        target_dir = data_dir / REPLAY_DIR / f"Run{parsed.run_number}" / parsed.subsystem
        target_dir.mkdir(parents=True, exist_ok=True)
        move_into_place(path, target_dir / path.name)
        report.replays.append(path.name)
        log.info("replay file %s set aside, not processed", path.name)
        return None
    target_dir = run_directory(data_dir, parsed.run_number, parsed.subsystem)
    target = target_dir / path.name
    checksum = file_checksum(path)
    if target.exists():
        if file_checksum(target) == checksum:
            path.unlink()
            report.duplicates.append(path.name)
            log.info("duplicate of already filed %s removed", path.name)
            return None
        if target.stat().st_size > 0:
            reason = f"a different file named {path.name} was already received for run {parsed.run_number}"
            _reject(settings, db, path, reason, report)
            return None
    # The directory first: a file that cannot be filed is not registered either.
    target_dir.mkdir(parents=True, exist_ok=True)
    relative = target.relative_to(data_dir).as_posix()
    return _Filing(path, parsed, target, relative, path.stat().st_size, checksum)


def _file(filing: _Filing, created: bool, report: ScanReport) -> None:
    move_into_place(filing.path, filing.target)
    if created:
        report.registered.append(filing.relative)


def _register_and_file(
    settings: Settings, db: Database, filing: _Filing, report: ScanReport
) -> None:
    _file(filing, _register(settings, db, [filing])[0], report)


def _file_batch(
    settings: Settings, db: Database, filings: Sequence[_Filing], report: ScanReport
) -> None:
    """Register a batch in one transaction, then move each file into place.

    If the transaction fails, each file is registered and filed on its own, so
    whatever went wrong stays with the file that caused it (and is reported there).
    """
    try:
        created = _register(settings, db, filings)
    except Exception:  # retried file by file below, where it is reported
        log.debug("registering %d file(s) together failed", len(filings), exc_info=True)
        for filing in filings:
            step = functools.partial(_register_and_file, settings, db, filing, report)
            _intake_one(settings, db, filing.path, report, step)
        return
    for filing, new in zip(filings, created, strict=True):
        _intake_one(
            settings, db, filing.path, report, functools.partial(_file, filing, new, report)
        )


def _intake_one(
    settings: Settings, db: Database, path: Path, report: ScanReport, step: Callable[[], T]
) -> T | None:
    """One step of taking in one file; whatever goes wrong with it stays with it (the
    intake boundary). The step's value, or None when it failed."""
    try:
        return step()
    except Exception as exc:  # one file never stops intake; logged below
        gone = not os.path.lexists(path)
        if gone and isinstance(exc, FileNotFoundError):
            # Another daemon sharing the data directory filed or set it aside first.
            log.debug("%s was taken in by another scanner", path.name)
            return None
        if gone or isinstance(exc, RETRIED_ERRORS):
            log.error("could not take in %s; trying again next scan", path.name, exc_info=True)
            return None
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
    return None


def enqueue_pending(settings: Settings, db: Database) -> int:
    """Queue a processing job for every subsystem whose files are newer than its result."""
    return len(_enqueue_pending(settings, db))


def _enqueue_pending(settings: Settings, db: Database, *, partial: bool = False) -> set[int]:
    """:func:`enqueue_pending`; the ids of the subsystems it queued.

    ``partial``: more batches of this scan are to come, which may bring a borrowing
    subsystem its own files; it is queued after the last batch.
    """
    with db.session() as session:
        subsystems = subsystems_needing_processing(session, own_files_only=partial)
        enqueue_jobs(
            session,
            [
                {
                    "kind": "process",
                    "dedupe_key": f"process:{sub.id}",
                    "subsystem_id": sub.id,
                    "run_number": sub.run.run_number,
                    "subsystem": sub.name,
                }
                for sub in subsystems
            ],
            max_attempts=settings.job_max_attempts,
        )
        return {sub.id for sub in subsystems}


def _owner(filing: _Filing) -> tuple[str, int]:
    return filing.parsed.subsystem, filing.parsed.run_number


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
    # Each batch's jobs are queued as soon as it is filed, so workers start on a
    # backlog while the scan goes on. A batch ends only between two runs or
    # subsystems: the files of one never straddle two batches, which would queue
    # a job for the first part and another for the rest.
    batch: list[_Filing] = []
    queued: set[int] = set()
    for path in _candidates(data_dir, settings.file_settle_seconds, report, whole):
        filing = _intake_one(
            settings, db, path, report, functools.partial(_check, settings, db, path, report)
        )
        if filing is None:
            continue
        if len(batch) >= REGISTER_BATCH and _owner(filing) != _owner(batch[-1]):
            _file_batch(settings, db, batch, report)
            queued |= _enqueue_pending(settings, db, partial=True)
            batch = []
        batch.append(filing)
    if batch:
        _file_batch(settings, db, batch, report)
    queued |= _enqueue_pending(settings, db)
    report.jobs_queued = len(queued)
    if report.registered or report.quarantined:
        log.info("scan: %s", report.summary())
    return report


def register_existing(
    settings: Settings, db: Database, *, only_unknown: bool = False
) -> ScanReport:
    """Register every file already filed under ``Run<N>/<SYS>/``, in the data directory
    and in the archive (``archive_dir``, where retention moves old runs), and queue the work.

    ``overwatch db rebuild`` calls it on an emptied database. With ``only_unknown``
    (``overwatch db register-files``, after restoring a dump older than the data
    directory) the files the database knows are skipped without being read, and
    only the ones filed after the dump are registered. A file in both places (an
    archiving cut short after the copy) is registered once, from the data directory.
    """
    report = ScanReport()
    seen: set[str] = set()
    if only_unknown:
        with db.session() as session:
            seen = set(session.scalars(select(ReceivedFile.path)))
    bases = [(settings.data_dir, "registered"), (settings.effective_archive_dir, "archived")]
    for base, state in bases:
        for path in sorted(base.glob("Run*/*/*.root")):
            if not is_candidate(path.name):
                continue
            relative = path.relative_to(base).as_posix()
            if relative in seen:
                continue
            seen.add(relative)
            try:
                parsed = parse_file_name(path.name, settings.tz)
            except FileNameError as exc:
                _reject(settings, db, path, str(exc), report)
                continue
            if path.parent != run_directory(base, parsed.run_number, parsed.subsystem):
                log.warning(
                    "%s is filed under the wrong run or subsystem; registering it where it is",
                    path,
                )
            size, checksum = path.stat().st_size, file_checksum(path)
            filing = _Filing(path, parsed, path, relative, size, checksum, state)
            if _register(settings, db, [filing])[0]:
                report.registered.append(relative)
    report.jobs_queued = enqueue_pending(settings, db)
    return report
