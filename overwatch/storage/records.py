"""Write-side query functions used by intake and processing.

Registration is idempotent (the same file seen twice is one row), and
:func:`store_result` replaces a subsystem's result (and stores a run result's
trend values) inside the caller's transaction,
so a crash leaves the previous state intact. Results of user requests (time
slices, reprocessing) are kept for a while to serve the same request again, then
pruned (:func:`prune_request_results`); a subsystem's current result never is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import Alarm
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import TrendValue
from overwatch.storage.models import utcnow
from overwatch.storage.trends import store_trend_values

__all__ = [
    "REQUEST_RESULT_KINDS",
    "CheckRow",
    "GroupRow",
    "HistogramRow",
    "ResultData",
    "delete_runs",
    "find_result",
    "prune_request_results",
    "record_quarantine",
    "register_borrower",
    "register_file",
    "request_key",
    "store_result",
    "subsystems_needing_processing",
]


#: Result kinds made on a user's request; the kind ``run`` is a subsystem's current state.
REQUEST_RESULT_KINDS = ("time_slice", "reprocess")


def _get_or_create_run(session: Session, run_number: int, timestamp: datetime) -> Run:
    run = session.scalars(select(Run).where(Run.run_number == run_number)).one_or_none()
    if run is None:
        run = Run(run_number=run_number, first_file_time=timestamp, last_file_time=timestamp)
        session.add(run)
        session.flush()
    else:
        run.first_file_time = min(run.first_file_time, timestamp)
        run.last_file_time = max(run.last_file_time, timestamp)
    return run


def register_file(
    session: Session,
    *,
    run_number: int,
    subsystem: str,
    hlt_mode: str,
    accumulation_mode: str,
    timestamp: datetime,
    path: str,
    size: int,
    checksum: str,
    state: str = "registered",
) -> tuple[ReceivedFile, bool]:
    """Register one received file with its run and subsystem; ``(row, created)``.

    ``state`` is ``archived`` for a file found in the archive by a rebuild."""
    existing = session.scalars(select(ReceivedFile).where(ReceivedFile.path == path)).one_or_none()
    if existing is not None:
        return existing, False
    run = _get_or_create_run(session, run_number, timestamp)
    sub = session.scalars(
        select(SubsystemRun).where(SubsystemRun.run_id == run.id, SubsystemRun.name == subsystem)
    ).one_or_none()
    if sub is None:
        sub = SubsystemRun(
            run_id=run.id,
            name=subsystem,
            hlt_mode=hlt_mode,
            accumulation_mode=accumulation_mode,
            first_file_time=timestamp,
            last_file_time=timestamp,
            file_count=0,
        )
        session.add(sub)
        session.flush()
    if sub.file_count == 0:
        # The first file of its own: a row that so far served another subsystem's
        # files (see register_borrower) starts afresh from its own.
        sub.first_file_time = sub.last_file_time = timestamp
        sub.hlt_mode = hlt_mode
        sub.accumulation_mode = accumulation_mode
        sub.processed_until = None
    sub.first_file_time = min(sub.first_file_time, timestamp)
    sub.last_file_time = max(sub.last_file_time, timestamp)
    sub.file_count += 1
    if sub.accumulation_mode == "reset" and sub.processed_until is not None:
        # A late file of a summed run: the stored sum lacks it, so the run is queued
        # again (the worker sums all files).
        sub.processed_until = min(sub.processed_until, timestamp - timedelta(microseconds=1))
    row = ReceivedFile(
        subsystem_id=sub.id,
        path=path,
        file_name=path.rsplit("/", 1)[-1],
        timestamp=timestamp,
        size=size,
        checksum=checksum,
        state=state,
        received_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def register_borrower(
    session: Session, source: SubsystemRun, name: str, timestamp: datetime
) -> SubsystemRun | None:
    """Let subsystem ``name`` of the same run follow ``source``'s files.

    For a subsystem whose plugin processes another's files when the run has none
    of its own: its row is created (or kept) without files, mirroring the
    source's times and mode so that work is queued when the source gets a file
    (``timestamp``). A row with files of its own is left alone (``None``).
    """
    sub = session.scalars(
        select(SubsystemRun).where(SubsystemRun.run_id == source.run_id, SubsystemRun.name == name)
    ).one_or_none()
    if sub is None:
        sub = SubsystemRun(
            run_id=source.run_id,
            name=name,
            hlt_mode=source.hlt_mode,
            accumulation_mode=source.accumulation_mode,
            first_file_time=source.first_file_time,
            last_file_time=source.last_file_time,
            file_count=0,
        )
        session.add(sub)
        session.flush()
        return sub
    if sub.file_count > 0:
        return None
    sub.first_file_time = min(sub.first_file_time, source.first_file_time)
    sub.last_file_time = max(sub.last_file_time, source.last_file_time)
    sub.accumulation_mode = source.accumulation_mode
    if sub.accumulation_mode == "reset" and sub.processed_until is not None:
        # A late file of a summed run, as in register_file.
        sub.processed_until = min(sub.processed_until, timestamp - timedelta(microseconds=1))
    return sub


def record_quarantine(
    session: Session, original_name: str, path: str, reason: str
) -> QuarantinedFile:
    row = QuarantinedFile(
        original_name=original_name, path=path, reason=reason, quarantined_at=utcnow()
    )
    session.add(row)
    session.flush()
    return row


def subsystems_needing_processing(
    session: Session, *, own_files_only: bool = False
) -> Sequence[SubsystemRun]:
    """Subsystems with files newer than their current result (level-triggered work).

    ``own_files_only`` leaves out subsystems without files of their own (those
    that borrow another's until their own arrive). In id order: scanners queuing
    at the same time then take locks in one order (two orders can deadlock on
    PostgreSQL).
    """
    needing = or_(
        SubsystemRun.processed_until.is_(None),
        SubsystemRun.last_file_time > SubsystemRun.processed_until,
    )
    query = select(SubsystemRun).where(needing)
    if own_files_only:
        query = query.where(SubsystemRun.file_count > 0)
    return session.scalars(query.order_by(SubsystemRun.id)).all()


@dataclass
class CheckRow:
    """One check's result on one histogram (a declarative check, or the plugin's own)."""

    name: str
    quality: str | None
    message: str
    #: The number the check judged, for trending (``None``: none, or not finite).
    value: float | None = None


@dataclass
class HistogramRow:
    """One stored histogram, ready for insertion."""

    name: str
    class_name: str
    title: str
    group: str | None
    json_gz: bytes | None
    json_size: int
    etag: str
    entries: float = 0.0
    draw_options: str = ""
    quality: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    checks: list[CheckRow] = field(default_factory=list)


@dataclass
class GroupRow:
    name: str
    selector: str = ""
    #: Page layout hint of the group (``""`` a list, ``"grid"``) and the grid's columns.
    layout: str = ""
    columns: int = 0


@dataclass
class ResultData:
    """Everything one job produced for one subsystem."""

    kind: str
    groups: list[GroupRow]
    histograms: list[HistogramRow]
    key: str = ""
    quality: str | None = None
    min_time: datetime | None = None
    max_time: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)
    file_ids: list[int] = field(default_factory=list)
    #: Trend values of a ``run`` result by trend name, stored with it at ``max_time``.
    trends: dict[str, float] = field(default_factory=dict)


def request_key(kind: str, options: dict[str, Any], minutes: tuple[float, float] | None) -> str:
    """Identifies a time slice / reprocessing request, so the same one is served from storage."""
    payload = json.dumps({"kind": kind, "options": options, "minutes": minutes}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def find_result(session: Session, subsystem_id: int, kind: str, key: str) -> Result | None:
    """A stored time slice / reprocessing with the same request key, if any."""
    return session.scalars(
        select(Result)
        .where(Result.subsystem_id == subsystem_id, Result.kind == kind, Result.key == key)
        .order_by(Result.id.desc())
        .limit(1)
    ).first()


def store_result(session: Session, subsystem: SubsystemRun, data: ResultData) -> int:
    """Insert a result with its groups and histograms; a ``run`` result becomes current.
    Returns the new result's id.

    Runs inside the caller's transaction: nothing is visible until it commits, and a
    failure leaves the previous result in place. Rows go in through the tables, one
    statement each for the result, its groups and its histograms: ORM objects and
    their flushes would cost more than storing the JSON.
    """
    results = cast(Table, Result.__table__)
    result_id: int = session.execute(
        insert(results)
        .values(
            subsystem_id=subsystem.id,
            kind=data.kind,
            key=data.key,
            min_time=data.min_time,
            max_time=data.max_time,
            options=data.options,
            quality=data.quality,
            file_ids={"ids": data.file_ids},
            created_at=utcnow(),
        )
        .returning(results.c.id)
    ).scalar_one()
    group_ids: dict[str, int] = {}
    if data.groups:
        groups = cast(Table, HistogramGroup.__table__)
        rows_of_groups = [
            {
                "result_id": result_id,
                "name": group.name,
                "position": position,
                "selector": group.selector,
                "layout": group.layout,
                "columns": group.columns,
            }
            for position, group in enumerate(data.groups)
        ]
        new_ids = session.execute(
            insert(groups).returning(groups.c.id, sort_by_parameter_order=True), rows_of_groups
        ).scalars()
        group_ids = {group.name: id_ for group, id_ in zip(data.groups, new_ids, strict=True)}
    positions: dict[str | None, int] = {}
    rows = []
    for hist in data.histograms:
        position = positions.get(hist.group, 0)
        positions[hist.group] = position + 1
        rows.append(
            {
                "result_id": result_id,
                "group_id": group_ids.get(hist.group) if hist.group else None,
                "position": position,
                "name": hist.name,
                "class_name": hist.class_name,
                "title": hist.title,
                "entries": hist.entries,
                "draw_options": hist.draw_options,
                "quality": hist.quality,
                "info": hist.info,
                "json_gz": hist.json_gz,
                "json_size": hist.json_size,
                "etag": hist.etag,
                "error": hist.error,
            }
        )
    if rows:
        # One executemany on the table: per-row ORM objects would cost more than the
        # JSON itself, and the ORM's bulk insert splits the rows into a statement per
        # run of rows with the same NULL columns (a histogram and its pull map
        # alternate), splicing the RETURNING rows together again each time.
        table = cast(Table, HistogramRecord.__table__)
        if any(hist.checks for hist in data.histograms):
            ids = (
                session.execute(
                    insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            _store_checks(session, ids, data.histograms)
        else:
            session.execute(insert(table), rows)
    if data.kind == "run":
        previous = subsystem.current_result_id
        subsystem.current_result_id = result_id
        subsystem.quality = data.quality
        session.flush()
        if previous is not None:
            session.execute(delete(Result).where(Result.id == previous))
        if data.trends and data.max_time is not None:
            run_number = session.scalar(select(Run.run_number).where(Run.id == subsystem.run_id))
            if run_number is not None:
                store_trend_values(session, subsystem.name, run_number, data.max_time, data.trends)
    return result_id


def _store_checks(session: Session, ids: Sequence[int], histograms: Sequence[HistogramRow]) -> None:
    checks = [
        {
            "histogram_id": id_,
            "name": check.name,
            "quality": check.quality,
            "message": check.message,
            "value": check.value,
        }
        for id_, hist in zip(ids, histograms, strict=True)
        for check in hist.checks
    ]
    if checks:
        # The table, not the ORM class: the ORM's bulk path costs more than the rows.
        session.execute(insert(cast(Table, CheckResult.__table__)), checks)


def prune_request_results(
    session: Session, keep_days: float, *, now: datetime | None = None, dry_run: bool = False
) -> int:
    """Delete time-slice and reprocessing results older than ``keep_days``; how many
    (with ``dry_run``, how many would go).

    Their histograms and groups go with them (ON DELETE CASCADE), and jobs keep their
    row with no result. A subsystem's current result is never deleted, whatever its kind.
    """
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    current = select(SubsystemRun.current_result_id).where(
        SubsystemRun.current_result_id.is_not(None)
    )
    expired = (
        Result.kind.in_(REQUEST_RESULT_KINDS),
        Result.created_at < cutoff,
        Result.id.not_in(current),
    )
    if dry_run:
        return int(session.scalar(select(func.count()).where(*expired)) or 0)
    result = session.execute(
        delete(Result).where(*expired).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_runs(session: Session, run_numbers: Sequence[int]) -> int:
    """Forget runs entirely: their subsystems, files, results, jobs, trend values and alarms.

    The received files stay on disk (the caller decides about them); references that
    name these runs stay too. Returns how many runs were deleted.
    """
    numbers = sorted(set(run_numbers))
    if not numbers:
        return 0
    for model in (TrendValue, Alarm, Job):
        session.execute(delete(model).where(model.run_number.in_(numbers)))
    # Subsystems, files, results, histograms and their jobs go with the run (ON DELETE CASCADE).
    deleted = session.execute(delete(Run).where(Run.run_number.in_(numbers)))
    return int(getattr(deleted, "rowcount", 0) or 0)
