"""Trend values: written with a job's result, read by the trending page, API and backfill.

Guarantee: one row per (subsystem, trend, run, ``time``), ``time`` being the time
of the newest file the processed result includes. :func:`store_trend_values`
replaces the rows of that key inside the caller's transaction, so processing the
same data again, or back-filling it, never duplicates a point (a unique index
backs this on both databases). "By run number" a trend is the last value of
each run (:func:`trend_series` with ``by="run"``).

Only finite numbers are stored: SQLite cannot hold NaN (it reads it as NULL and the
column refuses it), PostgreSQL would keep it and break every page and JSON that
shows the trend. :func:`store_trend_values` is the one way in, for processing and
back-filling alike, and skips a NaN or infinite value with a warning naming it, as
if the trend had given no value (an earlier value of the same processing stays).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from typing import cast

from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import TrendValue

__all__ = [
    "RunResult",
    "StoredHistogram",
    "TrendPoint",
    "TrendSummary",
    "run_results",
    "store_trend_values",
    "stored_histograms",
    "trend_series",
    "trend_subsystems",
    "trend_summaries",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrendPoint:
    run_number: int
    time: datetime
    value: float
    error: float | None = None


@dataclass(frozen=True)
class TrendSummary:
    """A trend that has stored values: how many and the newest."""

    name: str
    points: int
    last_time: datetime
    last_run: int


@dataclass(frozen=True)
class RunResult:
    """A subsystem's current result of one run, as backfill walks them."""

    subsystem: str
    run_number: int
    result_id: int
    time: datetime
    options: dict[str, object]


@dataclass(frozen=True)
class StoredHistogram:
    """One stored histogram's JSON (gzip) and the figures its checks stored."""

    name: str
    json_gz: bytes | None
    checks: Mapping[str, float | None]


def store_trend_values(
    session: Session,
    subsystem: str,
    run_number: int,
    time: datetime,
    values: Mapping[str, float],
) -> int:
    """Store one processing's trend values, replacing those of the same processing;
    how many were stored. Values that are not finite are skipped with a warning."""
    finite = {name: float(value) for name, value in values.items() if math.isfinite(value)}
    if len(finite) < len(values):
        skipped = ", ".join(f"{name}={values[name]}" for name in values if name not in finite)
        log.warning(
            "trend values of %s run %d at %s not stored, not finite: %s",
            subsystem,
            run_number,
            time.isoformat(),
            skipped,
        )
    if not finite:
        return 0
    session.execute(
        delete(TrendValue).where(
            TrendValue.subsystem == subsystem,
            TrendValue.run_number == run_number,
            TrendValue.time == time,
            TrendValue.name.in_(list(finite)),
        )
    )
    rows = [
        {"subsystem": subsystem, "name": name, "run_number": run_number, "time": time,
         "value": value, "error": None}
        for name, value in finite.items()
    ]  # fmt: skip
    session.execute(insert(cast(Table, TrendValue.__table__)), rows)
    return len(rows)


def trend_series(
    session: Session,
    subsystem: str,
    name: str,
    *,
    by: Literal["time", "run"] = "time",
    since: datetime | int | None = None,
    until: datetime | int | None = None,
) -> list[TrendPoint]:
    """The points of one trend in x order: every value by time, or each run's last value by run.

    ``since``/``until`` (inclusive) are times or, as whole numbers, run numbers.
    """
    query = select(TrendValue).where(TrendValue.subsystem == subsystem, TrendValue.name == name)
    for bound, lower in ((since, True), (until, False)):
        if bound is None:
            continue
        column = TrendValue.run_number if isinstance(bound, int) else TrendValue.time
        query = query.where(column >= bound if lower else column <= bound)
    if by == "run":
        last = (
            select(TrendValue.run_number, func.max(TrendValue.time).label("time"))
            .where(TrendValue.subsystem == subsystem, TrendValue.name == name)
            .group_by(TrendValue.run_number)
            .subquery()
        )
        query = query.join(
            last, (TrendValue.run_number == last.c.run_number) & (TrendValue.time == last.c.time)
        ).order_by(TrendValue.run_number)
    else:
        query = query.order_by(TrendValue.time, TrendValue.run_number)
    return [
        TrendPoint(row.run_number, row.time, row.value, row.error) for row in session.scalars(query)
    ]


def trend_summaries(session: Session, subsystem: str) -> list[TrendSummary]:
    """Every trend of ``subsystem`` with stored values, by name."""
    newest = func.max(TrendValue.time)
    rows = session.execute(
        select(TrendValue.name, func.count(), newest, func.max(TrendValue.run_number))
        .where(TrendValue.subsystem == subsystem)
        .group_by(TrendValue.name)
        .order_by(TrendValue.name)
    ).all()
    return [TrendSummary(name, int(count), last, int(run)) for name, count, last, run in rows]


def trend_subsystems(session: Session) -> list[str]:
    """Subsystems with stored trend values."""
    return list(
        session.scalars(select(TrendValue.subsystem).distinct().order_by(TrendValue.subsystem))
    )


def run_results(session: Session, subsystems: Sequence[str] | None = None) -> list[RunResult]:
    """Each subsystem's current result per run (what backfill recomputes), oldest run first."""
    query = (
        select(SubsystemRun.name, Run.run_number, Result.id, Result.max_time, Result.created_at,
               Result.options)
        .join(Run, Run.id == SubsystemRun.run_id)
        .join(Result, Result.id == SubsystemRun.current_result_id)
        .where(Result.kind == "run")
        .order_by(Run.run_number, SubsystemRun.name)
    )  # fmt: skip
    if subsystems is not None:
        query = query.where(SubsystemRun.name.in_(list(subsystems)))
    return [
        RunResult(name, run_number, result_id, max_time or created, dict(options or {}))
        for name, run_number, result_id, max_time, created, options in session.execute(query)
    ]


def stored_histograms(
    session: Session, result_id: int, names: Sequence[str]
) -> dict[str, StoredHistogram]:
    """The stored JSON and check figures of the histograms ``names`` of one result."""
    rows = session.execute(
        select(HistogramRecord.id, HistogramRecord.name, HistogramRecord.json_gz).where(
            HistogramRecord.result_id == result_id, HistogramRecord.name.in_(list(names))
        )
    ).all()
    checks: dict[int, dict[str, float | None]] = {id_: {} for id_, _, _ in rows}
    if rows:
        for histogram_id, check, value in session.execute(
            select(CheckResult.histogram_id, CheckResult.name, CheckResult.value).where(
                CheckResult.histogram_id.in_(list(checks))
            )
        ):
            checks[histogram_id][check] = value
    return {name: StoredHistogram(name, json_gz, checks[id_]) for id_, name, json_gz in rows}
