"""Read-side queries for runs, subsystems and results (histograms: :mod:`.histograms`).

Every function answers from indexes (``runs.run_number``, ``subsystem_runs (run_id,
name)``) and returns small frozen dataclasses, never ORM objects, so templates cannot
trigger lazy loads and a page costs a fixed, small number of queries however many runs
there are. The run list filters by a run's quality (the worst of its subsystems') with
EXISTS on ``subsystem_runs (run_id, ...)``, so keyset pages stay index walks.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

__all__ = [
    "QUALITY_FILTERS",
    "ResultView",
    "RunList",
    "RunSummary",
    "SubsystemSummary",
    "get_result",
    "get_run",
    "get_subsystem",
    "list_runs",
    "neighbour_runs",
    "raw_file",
]


@dataclass(frozen=True)
class SubsystemSummary:
    id: int
    run_number: int
    name: str
    hlt_mode: str
    accumulation_mode: str
    quality: str | None
    file_count: int
    first_file_time: datetime
    last_file_time: datetime
    current_result_id: int | None
    run_first_file_time: datetime

    @property
    def length_minutes(self) -> float:
        """Minutes from the run's first file to this subsystem's last file."""
        return max((self.last_file_time - self.run_first_file_time).total_seconds() / 60, 0.0)


@dataclass(frozen=True)
class RunSummary:
    run_number: int
    first_file_time: datetime
    last_file_time: datetime
    subsystems: list[SubsystemSummary] = field(default_factory=list)


@dataclass(frozen=True)
class RunList:
    """One page of runs; ``page`` is ``None`` for pages reached by run number (keyset)."""

    runs: list[RunSummary]
    page: int | None
    per_page: int
    total: int
    has_newer: bool
    has_older: bool

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


@dataclass(frozen=True)
class ResultView:
    id: int
    subsystem_id: int
    kind: str
    options: dict[str, Any]
    quality: str | None
    min_time: datetime | None
    max_time: datetime | None
    created_at: datetime


_SUBSYSTEM_COLUMNS = (
    SubsystemRun.id,
    Run.run_number,
    SubsystemRun.name,
    SubsystemRun.hlt_mode,
    SubsystemRun.accumulation_mode,
    SubsystemRun.quality,
    SubsystemRun.file_count,
    SubsystemRun.first_file_time,
    SubsystemRun.last_file_time,
    SubsystemRun.current_result_id,
    Run.first_file_time,
)


def _subsystem(values: Any) -> SubsystemSummary:
    return SubsystemSummary(*values)


#: The values of the run list's quality filter: a run's quality is the worst of its
#: subsystems' (``good`` < ``medium`` < ``bad``; ``none`` when no subsystem was checked),
#: the rule of :func:`overwatch.detectors.api.worst_quality`.
QUALITY_FILTERS = ("bad", "medium", "good", "none")


def _has_subsystem(*qualities: str) -> ColumnElement[bool]:
    """The run has a subsystem of one of these qualities (an EXISTS on the run_id index)."""
    return exists().where(SubsystemRun.run_id == Run.id, SubsystemRun.quality.in_(qualities))


def _quality_condition(quality: str) -> ColumnElement[bool]:
    """Runs whose worst subsystem quality is ``quality`` (one of :data:`QUALITY_FILTERS`)."""
    if quality not in QUALITY_FILTERS:
        raise ValueError(f"unknown quality filter {quality!r}: one of {', '.join(QUALITY_FILTERS)}")
    if quality == "none":
        return ~_has_subsystem("good", "medium", "bad")
    worse = QUALITY_FILTERS[: QUALITY_FILTERS.index(quality)]
    condition = _has_subsystem(quality)
    return and_(condition, ~_has_subsystem(*worse)) if worse else condition


def list_runs(
    session: Session,
    page: int | None = None,
    per_page: int = 50,
    *,
    before: int | None = None,
    after: int | None = None,
    quality: str | None = None,
) -> RunList:
    """One page of runs, newest (highest run number) first, each with its subsystems.

    ``before=N`` gives the runs just older than run N and ``after=N`` those just newer
    (keyset pagination on the unique run-number index: as fast on the last page as on
    the first, however many runs there are); else ``page`` counts pages from the newest.
    ``quality`` (one of :data:`QUALITY_FILTERS`) keeps only the runs of that quality;
    ``total`` and the newer/older flags then count those runs only.
    """
    filters: list[ColumnElement[bool]] = []
    if quality is not None:
        filters.append(_quality_condition(quality))
    columns = select(Run.id, Run.run_number, Run.first_file_time, Run.last_file_time).where(
        *filters
    )
    total = session.scalar(select(func.count()).select_from(Run).where(*filters)) or 0
    if before is not None or after is not None:
        if before is not None:
            query = columns.where(Run.run_number < before).order_by(Run.run_number.desc())
            beyond = Run.run_number >= before
        else:
            query = columns.where(Run.run_number > after).order_by(Run.run_number.asc())
            beyond = Run.run_number <= after
        rows = list(session.execute(query.limit(per_page + 1)).all())
        more = len(rows) > per_page
        rows = rows[:per_page]
        other_side = session.scalar(select(Run.id).where(beyond, *filters).limit(1)) is not None
        if after is not None:
            rows.reverse()
        has_newer, has_older = (other_side, more) if before is not None else (more, other_side)
        shown_page = None
    else:
        shown_page = max(page or 1, 1)
        offset = (shown_page - 1) * per_page
        query = columns.order_by(Run.run_number.desc()).limit(per_page).offset(offset)
        rows = list(session.execute(query).all())
        has_newer, has_older = shown_page > 1, offset + len(rows) < total
    by_id: dict[int, RunSummary] = {
        run_id: RunSummary(number, first, last) for run_id, number, first, last in rows
    }
    if by_id:
        # The run columns are known already: read subsystem_runs alone, by its run_id index.
        subsystem_rows = session.execute(
            select(SubsystemRun.run_id, SubsystemRun.id, *_SUBSYSTEM_COLUMNS[2:-1])
            .where(SubsystemRun.run_id.in_(by_id))
            .order_by(SubsystemRun.name)
        ).all()
        for run_id, sub_id, *values in subsystem_rows:
            run = by_id[run_id]
            run.subsystems.append(
                _subsystem((sub_id, run.run_number, *values, run.first_file_time))
            )
    return RunList(list(by_id.values()), shown_page, per_page, total, has_newer, has_older)


def get_run(session: Session, run_number: int) -> RunSummary | None:
    run = session.execute(
        select(Run.id, Run.run_number, Run.first_file_time, Run.last_file_time).where(
            Run.run_number == run_number
        )
    ).one_or_none()
    if run is None:
        return None
    summary = RunSummary(run.run_number, run.first_file_time, run.last_file_time)
    rows = session.execute(
        select(*_SUBSYSTEM_COLUMNS)
        .join(Run, Run.id == SubsystemRun.run_id)
        .where(SubsystemRun.run_id == run.id)
        .order_by(SubsystemRun.name)
    ).all()
    summary.subsystems.extend(_subsystem(row) for row in rows)
    return summary


def get_subsystem(session: Session, run_number: int, name: str) -> SubsystemSummary | None:
    row = session.execute(
        select(*_SUBSYSTEM_COLUMNS)
        .join(Run, Run.id == SubsystemRun.run_id)
        .where(Run.run_number == run_number, SubsystemRun.name == name)
    ).one_or_none()
    return _subsystem(row) if row is not None else None


def neighbour_runs(session: Session, run_number: int) -> tuple[int | None, int | None]:
    """(previous, next) run numbers around ``run_number``."""
    previous = session.scalar(select(func.max(Run.run_number)).where(Run.run_number < run_number))
    following = session.scalar(select(func.min(Run.run_number)).where(Run.run_number > run_number))
    return previous, following


def get_result(
    session: Session, result_id: int, subsystem_id: int | None = None
) -> ResultView | None:
    """A stored result; with ``subsystem_id``, only if it belongs to that subsystem."""
    query = select(
        Result.id,
        Result.subsystem_id,
        Result.kind,
        Result.options,
        Result.quality,
        Result.min_time,
        Result.max_time,
        Result.created_at,
    ).where(Result.id == result_id)
    if subsystem_id is not None:
        query = query.where(Result.subsystem_id == subsystem_id)
    row = session.execute(query).one_or_none()
    return ResultView(*row) if row is not None else None


def raw_file(
    session: Session, subsystem_id: int, file_id: int | None = None
) -> tuple[int, str, str, str] | None:
    """(id, path relative to the data or archive dir, file name, state) of a subsystem's
    received file.

    The newest one unless ``file_id`` names one of this subsystem's files.
    """
    query = select(
        ReceivedFile.id, ReceivedFile.path, ReceivedFile.file_name, ReceivedFile.state
    ).where(ReceivedFile.subsystem_id == subsystem_id)
    if file_id is not None:
        query = query.where(ReceivedFile.id == file_id)
    row = session.execute(query.order_by(ReceivedFile.timestamp.desc()).limit(1)).first()
    return (row[0], row[1], row[2], row[3]) if row is not None else None
