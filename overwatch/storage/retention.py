"""Queries behind the retention policy: which received files may go, and disk usage.

The promise: only files whose data is already in the database are offered for
removal or archiving (no newer than the subsystem's ``processed_until``; in
cumulative mode only the newest file of a pass is marked ``processed``, the older
ones it supersedes stay ``registered``), never a file of a subsystem with a
queued or running job, and never one of the newest ``keep`` files of a
cumulative-mode subsystem, whose newest file is the run's state. Reset-mode
subsystems are never offered for removal: their run's state is the sum of every file.
Rows stay, with the state ``pruned`` or ``archived``, so a run keeps its history of
files and the time-slice form knows which remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from overwatch.storage.models import Job
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

__all__ = [
    "FileEntry",
    "SubsystemUsage",
    "archivable_files",
    "disk_usage",
    "mark_files",
    "surplus_files",
]

#: File states whose bytes are still in the data directory.
ON_DISK = ("registered", "processed", "replay")
#: States of files in the data directory that processing has taken in.
_INTAKE = ("registered", "processed")


def _settled() -> ColumnElement[bool]:
    """A received file whose data the subsystem's current result includes."""
    return and_(
        ReceivedFile.state.in_(_INTAKE),
        SubsystemRun.processed_until.is_not(None),
        ReceivedFile.timestamp <= SubsystemRun.processed_until,
    )


@dataclass(frozen=True)
class FileEntry:
    id: int
    path: str
    size: int
    run_number: int
    subsystem: str


@dataclass(frozen=True)
class SubsystemUsage:
    subsystem: str
    files: int
    bytes_on_disk: int
    files_archived: int
    bytes_archived: int
    files_pruned: int


def _busy_subsystems() -> Select[int | None]:
    return select(Job.subsystem_id).where(
        Job.state.in_(("queued", "running")), Job.subsystem_id.is_not(None)
    )


def _file_entries() -> Select[int, str, int, int, str]:
    """The columns of a :class:`FileEntry`; callers join subsystem and run."""
    return select(
        ReceivedFile.id, ReceivedFile.path, ReceivedFile.size, Run.run_number, SubsystemRun.name
    )


def _entries(session: Session, query: Select[int, str, int, int, str]) -> list[FileEntry]:
    return [
        FileEntry(file_id, path, size, run_number, subsystem)
        for file_id, path, size, run_number, subsystem in session.execute(query)
    ]


def surplus_files(session: Session, keep: int) -> list[FileEntry]:
    """Settled files of cumulative-mode subsystems beyond the newest ``keep`` of each."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    rank = (
        func.row_number()
        .over(
            partition_by=ReceivedFile.subsystem_id,
            order_by=(ReceivedFile.timestamp.desc(), ReceivedFile.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(ReceivedFile.id, rank)
        .join(SubsystemRun, SubsystemRun.id == ReceivedFile.subsystem_id)
        .where(
            SubsystemRun.accumulation_mode == "cumulative",
            ReceivedFile.state.in_(ON_DISK),
        )
        .subquery()
    )
    query = (
        _file_entries()
        .join(ranked, ranked.c.id == ReceivedFile.id)
        .join(SubsystemRun, SubsystemRun.id == ReceivedFile.subsystem_id)
        .join(Run, Run.id == SubsystemRun.run_id)
        .where(
            ranked.c.rank > keep,
            _settled(),
            ReceivedFile.subsystem_id.not_in(_busy_subsystems()),
        )
        .order_by(Run.run_number, SubsystemRun.name, ReceivedFile.timestamp)
    )
    return _entries(session, query)


def archivable_files(session: Session, older_than: datetime) -> list[FileEntry]:
    """Files of runs whose last file is older than ``older_than`` and that are fully
    processed: every file settled and no queued or running job in the run."""
    unsettled_runs = (
        select(SubsystemRun.run_id)
        .join(ReceivedFile, ReceivedFile.subsystem_id == SubsystemRun.id)
        .where(ReceivedFile.state.in_(_INTAKE), not_(_settled()))
        .union(select(SubsystemRun.run_id).where(SubsystemRun.id.in_(_busy_subsystems())))
    )
    query = (
        _file_entries()
        .join(SubsystemRun, SubsystemRun.id == ReceivedFile.subsystem_id)
        .join(Run, Run.id == SubsystemRun.run_id)
        .where(
            Run.last_file_time < older_than,
            Run.id.not_in(unsettled_runs),
            _settled(),
        )
        .order_by(Run.run_number, SubsystemRun.name, ReceivedFile.timestamp)
    )
    return _entries(session, query)


def mark_files(session: Session, ids: Sequence[int], state: str) -> None:
    """Set the state of received files (``pruned``, ``archived`` or back to ``processed``)."""
    for start in range(0, len(ids), 500):
        session.execute(
            update(ReceivedFile)
            .where(ReceivedFile.id.in_(ids[start : start + 500]))
            .values(state=state)
            .execution_options(synchronize_session=False)
        )


def disk_usage(session: Session) -> list[SubsystemUsage]:
    """Received files and bytes per subsystem: in the data dir, archived, and pruned."""
    on_disk = case((ReceivedFile.state.in_(ON_DISK), 1), else_=0)
    archived = case((ReceivedFile.state == "archived", 1), else_=0)
    pruned = case((ReceivedFile.state == "pruned", 1), else_=0)
    rows = session.execute(
        select(
            SubsystemRun.name,
            func.sum(on_disk),
            func.sum(on_disk * ReceivedFile.size),
            func.sum(archived),
            func.sum(archived * ReceivedFile.size),
            func.sum(pruned),
        )
        .join(ReceivedFile, ReceivedFile.subsystem_id == SubsystemRun.id)
        .group_by(SubsystemRun.name)
        .order_by(SubsystemRun.name)
    )
    return [SubsystemUsage(name, *(int(value or 0) for value in values)) for name, *values in rows]
