"""Retention: keep the disk bounded without losing anything a page needs.

Three policies, each off by default (docs/operations.md):

- ``keep_received_files = N``: of each run's cumulative-mode subsystem, the newest N
  processed files stay; older ones are deleted (their data is in the newest file and
  the stored result). Time slices can then only start at a kept file.
- ``archive_after_days = D``: every file of a run whose last file is older than D days
  moves to ``archive_dir`` under the same ``Run<N>/<SYS>/`` path; reprocessing and
  time slices still read it there.
- ``request_results_keep_days``: stored time-slice and reprocessing results expire.

Run pages are served from the database, which is never pruned here. A file is
removed or moved first and its row marked after, batch by batch; after a crash
half-way a row still says ``processed``: readers look for the file in both places
(:meth:`Settings.received_file_path`), and the next pass, which offers the same
files again, finishes the work (removing a missing file or moving a moved one is a
no-op) and marks them.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from pathlib import Path

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import utcnow
from overwatch.storage.records import prune_request_results
from overwatch.storage.retention import FileEntry
from overwatch.storage.retention import archivable_files
from overwatch.storage.retention import mark_files
from overwatch.storage.retention import surplus_files

__all__ = ["PruneReport", "prune"]

log = logging.getLogger(__name__)

#: Files handled per transaction, so a long first pass commits as it goes.
BATCH = 200


@dataclass
class PruneReport:
    dry_run: bool
    files_removed: int = 0
    bytes_removed: int = 0
    files_archived: int = 0
    bytes_archived: int = 0
    runs_archived: set[int] = field(default_factory=set)
    results_removed: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would" if self.dry_run else "did"
        return (
            f"prune ({verb}): remove {self.files_removed} file(s) "
            f"({_megabytes(self.bytes_removed)}), archive {len(self.runs_archived)} run(s) "
            f"with {self.files_archived} file(s) ({_megabytes(self.bytes_archived)}), "
            f"expire {self.results_removed} request result(s)"
            + (f"; {len(self.problems)} problem(s)" if self.problems else "")
        )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


Progress = Callable[[int], None]


def prune(
    settings: Settings, db: Database, *, dry_run: bool = False, progress: Progress | None = None
) -> PruneReport:
    """Apply every retention policy once; ``dry_run`` only says what would happen.

    ``progress`` is called with the number of files handled, batch by batch.
    """
    report = PruneReport(dry_run)
    with db.session() as session:
        surplus = (
            surplus_files(session, settings.keep_received_files)
            if settings.keep_received_files
            else []
        )
        cutoff = utcnow() - timedelta(days=settings.archive_after_days)
        to_archive = archivable_files(session, cutoff) if settings.archive_after_days else []
        report.results_removed = prune_request_results(
            session, settings.request_results_keep_days, dry_run=dry_run
        )
    # A file both surplus and archivable is archived: archiving loses nothing.
    archiving = {entry.id for entry in to_archive}
    surplus = [entry for entry in surplus if entry.id not in archiving]
    report.files_removed = len(surplus)
    report.bytes_removed = sum(entry.size for entry in surplus)
    report.files_archived = len(to_archive)
    report.bytes_archived = sum(entry.size for entry in to_archive)
    report.runs_archived = {entry.run_number for entry in to_archive}
    if dry_run:
        return report
    for batch in _batches(surplus):
        _remove(settings, db, batch, report)
        if progress:
            progress(len(batch))
    for batch in _batches(to_archive):
        _archive(settings, db, batch, report)
        if progress:
            progress(len(batch))
    if surplus or to_archive or report.results_removed:
        log.info("%s", report.summary())
    return report


def _batches(entries: list[FileEntry]) -> list[list[FileEntry]]:
    return [entries[start : start + BATCH] for start in range(0, len(entries), BATCH)]


def _remove(settings: Settings, db: Database, batch: list[FileEntry], report: PruneReport) -> None:
    removed: list[int] = []
    for entry in batch:
        path = settings.data_dir / entry.path
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            report.files_removed -= 1
            report.bytes_removed -= entry.size
            report.problems.append(f"cannot remove {entry.path}: {exc}")
            log.warning("retention: cannot remove %s: %s", path, exc)
        else:
            removed.append(entry.id)
            _remove_empty_parents(path.parent, settings.data_dir)
    with db.session() as session:
        mark_files(session, removed, "pruned")


def _archive(settings: Settings, db: Database, batch: list[FileEntry], report: PruneReport) -> None:
    archive_dir = settings.effective_archive_dir
    moved: list[int] = []
    for entry in batch:
        source = settings.data_dir / entry.path
        target = archive_dir / entry.path
        try:
            _move(source, target)
        except OSError as exc:
            report.files_archived -= 1
            report.bytes_archived -= entry.size
            report.problems.append(f"cannot archive {entry.path}: {exc}")
            log.warning("retention: cannot archive %s to %s: %s", source, target, exc)
        else:
            moved.append(entry.id)
            _remove_empty_parents(source.parent, settings.data_dir)
    with db.session() as session:
        mark_files(session, moved, "archived")


def _move(source: Path, target: Path) -> None:
    """Move one file; a copy is completed (and synced) before the original goes."""
    if not source.exists() and target.exists():
        return  # moved by a pass that stopped before recording it
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:
        # Another file system: copy under a temporary name, sync, rename, then remove.
        partial = target.with_name(f".{target.name}.partial")
        shutil.copy2(source, partial)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        source.unlink()


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    """Remove ``Run<N>/<SYS>/`` folders that became empty, up to (not including) ``stop``."""
    stop = stop.resolve()
    current = directory.resolve()
    while current != stop and current.is_relative_to(stop):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
