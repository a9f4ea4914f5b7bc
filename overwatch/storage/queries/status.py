"""Read-side queries for the status page: jobs, daemon heartbeats, newest files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import DaemonHeartbeat
from overwatch.storage.models import Job
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.queries.runs import raw_file

__all__ = [
    "HeartbeatView",
    "JobView",
    "SubsystemActivity",
    "get_job",
    "heartbeats",
    "list_jobs",
    "requested_minutes",
    "subsystem_activity",
]


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    state: str
    run_number: int | None
    subsystem: str | None
    params: dict[str, Any]
    priority: int
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    result_id: int | None
    requested_by: str | None
    worker: str | None


_JOB_COLUMNS = (
    Job.id,
    Job.kind,
    Job.state,
    Job.run_number,
    Job.subsystem,
    Job.params,
    Job.priority,
    Job.attempts,
    Job.created_at,
    Job.finished_at,
    Job.error,
    Job.result_id,
    Job.requested_by,
    Job.worker,
)


def get_job(session: Session, job_id: int) -> JobView | None:
    row = session.execute(select(*_JOB_COLUMNS).where(Job.id == job_id)).one_or_none()
    return JobView(*row) if row is not None else None


def list_jobs(
    session: Session,
    *,
    state: str | None = None,
    subsystem_id: int | None = None,
    limit: int = 20,
    claim_order: bool = False,
) -> list[JobView]:
    """Newest jobs first, filtered by state and/or subsystem; with ``claim_order``, in the
    order the workers claim them (highest priority, then oldest, first)."""
    query = select(*_JOB_COLUMNS)
    if state is not None:
        query = query.where(Job.state == state)
    if subsystem_id is not None:
        query = query.where(Job.subsystem_id == subsystem_id, Job.kind != "process")
    order = (Job.priority.desc(), Job.id) if claim_order else (Job.id.desc(),)
    rows = session.execute(query.order_by(*order).limit(limit)).all()
    return [JobView(*row) for row in rows]


def requested_minutes(session: Session, result_id: int) -> tuple[float, float] | None:
    """The minutes a time slice was asked for, from the newest job that computed ``result_id``.

    ``None`` when no time-slice job names the result (it was pruned, or the result is
    no time slice).
    """
    params = session.scalar(
        select(Job.params)
        .where(Job.result_id == result_id, Job.kind == "time_slice")
        .order_by(Job.id.desc())
        .limit(1)
    )
    if not params or "min_minutes" not in params or "max_minutes" not in params:
        return None
    return float(params["min_minutes"]), float(params["max_minutes"])


@dataclass(frozen=True)
class SubsystemActivity:
    """A subsystem's newest data, for the status page."""

    name: str
    run_number: int
    last_file_time: datetime
    last_file_name: str | None


def subsystem_activity(session: Session) -> list[SubsystemActivity]:
    """Per subsystem name, the run and file received last (index on (name, last_file_time))."""
    newest = (
        select(SubsystemRun.name, func.max(SubsystemRun.last_file_time).label("newest"))
        .group_by(SubsystemRun.name)
        .subquery()
    )
    rows = session.execute(
        select(SubsystemRun.id, SubsystemRun.name, Run.run_number, SubsystemRun.last_file_time)
        .join(
            newest,
            and_(
                newest.c.name == SubsystemRun.name, newest.c.newest == SubsystemRun.last_file_time
            ),
        )
        .join(Run, Run.id == SubsystemRun.run_id)
        .order_by(SubsystemRun.name, Run.run_number.desc())
    ).all()
    activity: dict[str, SubsystemActivity] = {}
    for sub_id, name, run_number, last in rows:
        if name in activity:
            continue
        latest = raw_file(session, sub_id)
        activity[name] = SubsystemActivity(name, run_number, last, latest[2] if latest else None)
    return list(activity.values())


@dataclass(frozen=True)
class HeartbeatView:
    name: str
    started_at: datetime
    heartbeat_at: datetime
    info: dict[str, Any]


def heartbeats(session: Session) -> list[HeartbeatView]:
    rows = session.execute(
        select(
            DaemonHeartbeat.name,
            DaemonHeartbeat.started_at,
            DaemonHeartbeat.heartbeat_at,
            DaemonHeartbeat.info,
        ).order_by(DaemonHeartbeat.heartbeat_at.desc())
    ).all()
    return [HeartbeatView(*row) for row in rows]
