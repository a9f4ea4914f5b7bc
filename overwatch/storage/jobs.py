"""The job queue of record: enqueue, claim, heartbeat, finish, reclaim.

Claiming is one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)``
statement: on PostgreSQL several worker processes on any number of machines never
claim the same job; on SQLite the statement is atomic because SQLite serialises
writers. Partial unique indexes allow one queued and one running job per
``dedupe_key``, so level-triggered scans never add duplicates and a subsystem is
never processed by two workers at once.

Live processing always goes first: jobs queued by a scan carry
:data:`PRIORITY_LIVE`, above every user request (:data:`PRIORITY_USER`), and a
user may have at most a quota of requests queued (:func:`enqueue_request`), so
an expert's time slices can never hold back the data that is coming in.

A job ends ``done``, ``failed`` (attempts spent), or ``superseded``: it failed or
its worker died while the same work was queued again, so the newer job does it.

Nothing is processed twice for nothing. A scan queues a subsystem again while its
``process`` job runs (a file may have arrived after the job read the list), and
several daemons scan one queue; so a ``process`` job first asks, in one statement,
whether the subsystem's stored result already includes every registered file
(:func:`finish_if_processed`) and, if so, is done at once with a note. Only jobs
whose params say ``force`` (re-derivation after a plugin changed) always run. A
job met in the queue is never queued a second time because a worker claimed it
while :func:`enqueue_job` looked (the running job does the work), unless the new
request asks for more than that job will do (``force``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overwatch.storage.models import Job
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import utcnow

__all__ = [
    "FORCE",
    "JOB_STATES",
    "PRIORITY_LIVE",
    "PRIORITY_USER",
    "QueueQuotaError",
    "claim_job",
    "claim_job_by_id",
    "enqueue_job",
    "enqueue_jobs",
    "enqueue_rederivation",
    "enqueue_request",
    "fail_job",
    "finish_if_processed",
    "finish_job",
    "heartbeat",
    "queue_counts",
    "queued_requests",
    "reclaim_expired",
    "worker_name",
]

#: Bound parameters of one ``IN`` list (SQLite allows 32,766 per statement).
_KEYS_PER_STATEMENT = 500
#: Jobs from a scan (live processing of newly received files) are claimed first...
PRIORITY_LIVE = 10
#: ...then user requests (time slices, reprocessing).
PRIORITY_USER = 0
#: Every state a job can be in; the last three are final.
JOB_STATES = ("queued", "running", "done", "failed", "superseded")
#: Tries at reading back the queued job after an insert that found one already queued.
_ENQUEUE_ATTEMPTS = 3
#: The params key of a ``process`` job that must run even if nothing new arrived.
FORCE = "force"
#: How the provenance note of a job finished at once (nothing new) begins.
SKIPPED_NOTE = "skipped:"


class QueueQuotaError(Exception):
    """A user already has as many requests queued as the quota allows."""

    def __init__(self, user: str, queued: int, quota: int) -> None:
        self.user = user
        self.queued = queued
        self.quota = quota
        super().__init__(
            f"{user} already has {queued} request(s) waiting in the queue (the limit is {quota}); "
            "wait until some are done before asking for more"
        )


def worker_name() -> str:
    """host:pid, recorded on every claimed job and attempt."""
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue_job(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    subsystem_id: int | None = None,
    run_number: int | None = None,
    subsystem: str | None = None,
    params: dict[str, Any] | None = None,
    priority: int = PRIORITY_LIVE,
    max_attempts: int = 3,
    requested_by: str | None = None,
) -> Job:
    """Queue a job unless one with the same ``dedupe_key`` is already queued; return the queued one.

    An existing queued job keeps its place but takes the higher of the two priorities
    (and ``force`` from ``params``). If a worker claims that job while this call
    looks, the running job is returned: it starts after this call, so it does the
    same work (commit the data a job must see before queuing it). A ``force``
    request that meets a running job without it is queued after all.
    """
    values = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "subsystem_id": subsystem_id,
        "run_number": run_number,
        "subsystem": subsystem,
        "params": params or {},
        "priority": priority,
        "max_attempts": max_attempts,
        "requested_by": requested_by,
        "state": "queued",
        "attempts": 0,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text("state = 'queued'"))
    )
    forced = bool(params and params.get(FORCE))
    for _ in range(_ENQUEUE_ATTEMPTS):
        session.execute(statement)
        # Locked, so no worker claims it before it carries our priority and force.
        job = session.scalars(
            select(Job)
            .where(Job.dedupe_key == dedupe_key, Job.state == "queued")
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if job is not None:
            job.priority = max(job.priority, priority)
            if forced and not job.params.get(FORCE):
                job.params = {**job.params, FORCE: True}
            session.flush()
            return job
        # The queued job we met was claimed in between (PostgreSQL: SQLite holds its
        # write lock from the insert on). It reads its data after the claim, so it
        # does our work, unless ours must run whatever it finds (force).
        running = session.scalars(
            select(Job)
            .where(Job.dedupe_key == dedupe_key, Job.state == "running")
            .execution_options(populate_existing=True)
        ).one_or_none()
        if running is not None and (running.params.get(FORCE) or not forced):
            return running
    raise RuntimeError(f"could not queue {dedupe_key}: it is claimed as fast as it is queued")


def enqueue_rederivation(
    session: Session,
    *,
    runs: tuple[int, int] | None = None,
    subsystem: str | None = None,
    max_attempts: int = 3,
) -> list[int]:
    """Queue a ``process`` job for every subsystem of the chosen runs; their job ids.

    The jobs carry the live processing's dedupe key (``process:<subsystem id>``), so a
    subsystem already queued is not queued twice and is never processed by two
    workers at once; they wait behind live processing (:data:`PRIORITY_USER`). They
    carry ``force``: the stored results are derived again although no file is new.
    """
    query = select(SubsystemRun.id, Run.run_number, SubsystemRun.name).join(
        Run, Run.id == SubsystemRun.run_id
    )
    if runs is not None:
        query = query.where(Run.run_number.between(*runs))
    if subsystem is not None:
        query = query.where(SubsystemRun.name == subsystem)
    ids = []
    # In subsystem id order, as scans queue: the queued rows are locked in one order.
    for sub_id, run_number, name in session.execute(query.order_by(SubsystemRun.id)).all():
        job = enqueue_job(
            session,
            kind="process",
            dedupe_key=f"process:{sub_id}",
            subsystem_id=sub_id,
            run_number=run_number,
            subsystem=name,
            params={FORCE: True},
            priority=PRIORITY_USER,
            max_attempts=max_attempts,
        )
        ids.append(job.id)
    return ids


def enqueue_jobs(
    session: Session,
    jobs: Sequence[dict[str, Any]],
    *,
    priority: int = PRIORITY_LIVE,
    max_attempts: int = 3,
) -> None:
    """Queue many jobs in one statement, each unless one with its ``dedupe_key`` is queued.

    For intake, which queues one job per subsystem with new files: ``jobs`` give
    ``kind``, ``dedupe_key`` and optionally ``subsystem_id``, ``run_number``,
    ``subsystem`` and ``params``. A job already queued under the same key keeps its
    place and does the work (it reads the files when it runs) and takes the higher
    of the two priorities.
    """
    if not jobs:
        return
    now = utcnow()
    rows = [
        {
            "kind": job["kind"],
            "dedupe_key": job["dedupe_key"],
            "subsystem_id": job.get("subsystem_id"),
            "run_number": job.get("run_number"),
            "subsystem": job.get("subsystem"),
            "params": job.get("params") or {},
            "priority": priority,
            "max_attempts": max_attempts,
            "requested_by": None,
            "state": "queued",
            "attempts": 0,
            "created_at": now,
        }
        for job in jobs
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Job).on_conflict_do_nothing(
            index_elements=["dedupe_key"], index_where=text("state = 'queued'")
        ),
        rows,
    )
    keys = [row["dedupe_key"] for row in rows]
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        session.execute(
            update(Job)
            .where(
                Job.state == "queued",
                Job.priority < priority,
                Job.dedupe_key.in_(keys[start : start + _KEYS_PER_STATEMENT]),
            )
            .values(priority=priority)
            .execution_options(synchronize_session=False)
        )


def queued_requests(session: Session, user: str) -> int:
    """How many of ``user``'s requests (anything but live processing) wait in the queue."""
    return int(
        session.scalar(
            select(func.count()).where(
                Job.requested_by == user, Job.state == "queued", Job.kind != "process"
            )
        )
        or 0
    )


def enqueue_request(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    requested_by: str,
    quota: int,
    subsystem_id: int | None = None,
    run_number: int | None = None,
    subsystem: str | None = None,
    params: dict[str, Any] | None = None,
    max_attempts: int = 3,
) -> Job:
    """Queue a user's request at :data:`PRIORITY_USER`, within the user's quota.

    Asking again for a request that is already queued returns that job and costs
    nothing; a new one beyond ``quota`` queued requests raises :class:`QueueQuotaError`.
    """
    waiting = session.scalars(
        select(Job).where(Job.dedupe_key == dedupe_key, Job.state == "queued")
    ).one_or_none()
    if waiting is not None:
        return waiting
    queued = queued_requests(session, requested_by)
    if queued >= quota:
        raise QueueQuotaError(requested_by, queued, quota)
    return enqueue_job(
        session,
        kind=kind,
        dedupe_key=dedupe_key,
        subsystem_id=subsystem_id,
        run_number=run_number,
        subsystem=subsystem,
        params=params,
        priority=PRIORITY_USER,
        max_attempts=max_attempts,
        requested_by=requested_by,
    )


def claim_job(session: Session, worker: str, *, now: datetime | None = None) -> Job | None:
    """Atomically take the most urgent queued job; ``None`` when there is nothing to do.

    A job whose dedupe key is already running waits, so one subsystem's results are
    written by one worker at a time. Commit the session to publish the claim.
    """
    running = select(Job.dedupe_key).where(Job.state == "running")
    candidate = (
        select(Job.id)
        .where(Job.state == "queued", Job.dedupe_key.not_in(running))
        .order_by(Job.priority.desc(), Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return _claim(session, Job.id == candidate, worker, now)


def claim_job_by_id(
    session: Session, job_id: int, worker: str, *, now: datetime | None = None
) -> Job | None:
    """Take one particular queued job (bulk reprocessing hands out job ids); ``None``
    when it is not queued any more or its dedupe key is running elsewhere.

    The same one conditional ``UPDATE`` as :func:`claim_job`, so however many times a
    cluster retries the hand-out, one attempt at most runs at a time.
    """
    running = select(Job.dedupe_key).where(Job.state == "running")
    return _claim(session, and_(Job.id == job_id, Job.dedupe_key.not_in(running)), worker, now)


def _claim(
    session: Session, which: ColumnElement[bool], worker: str, now: datetime | None
) -> Job | None:
    """queued -> running for the job ``which`` selects, in one statement."""
    now = now or utcnow()
    statement = (
        update(Job)
        .where(and_(which, Job.state == "queued"))
        .values(
            state="running",
            attempts=Job.attempts + 1,
            claimed_at=now,
            heartbeat_at=now,
            worker=worker,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    try:
        with session.begin_nested():
            job_id = session.execute(statement).scalar_one_or_none()
    except IntegrityError:
        # Another worker started the same dedupe key between our subquery and update.
        return None
    if job_id is None:
        return None
    return session.get(Job, job_id, populate_existing=True)


def heartbeat(session: Session, job_id: int, worker: str, *, now: datetime | None = None) -> bool:
    """Extend a running job's lease; ``False`` if the job is no longer ours."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "running", Job.worker == worker)
        .values(heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_job(session: Session, job: Job, *, result_id: int | None = None) -> None:
    """Mark a job done (call inside the transaction that stores its results)."""
    job.state = "done"
    job.finished_at = utcnow()
    job.error = None
    job.result_id = result_id


def finish_if_processed(session: Session, job: Job, worker: str) -> str | None:
    """Finish ``worker``'s running ``process`` job at once if there is nothing new to do.

    Nothing is new when the subsystem's stored result includes every registered file
    (``processed_until`` is at least ``last_file_time``: the test by which a scan
    would not queue it now). Then the job is marked done, pointing at the current
    result, in one ``UPDATE`` (no file is read), and the note for its provenance is
    returned. ``None``: the job must run (another kind, ``force``, files newer than
    the result, or the job is no longer this worker's). A file registered after this
    statement makes the next scan queue the subsystem again.
    """
    if job.kind != "process" or job.subsystem_id is None or job.params.get(FORCE):
        return None
    subsystem = select(SubsystemRun).where(SubsystemRun.id == Job.subsystem_id)
    covered = subsystem.where(
        SubsystemRun.processed_until.is_not(None),
        SubsystemRun.processed_until >= SubsystemRun.last_file_time,
    ).exists()
    current = subsystem.with_only_columns(SubsystemRun.current_result_id).scalar_subquery()
    finished = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state == "running", Job.worker == worker, covered)
        .values(state="done", finished_at=utcnow(), error=None, result_id=current)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if finished is None:
        return None
    return (
        f"{SKIPPED_NOTE} the stored result of {job.subsystem} in run {job.run_number} already "
        "includes every registered file (nothing new since it was processed)"
    )


def _requeue_or_supersede(session: Session, job: Job, error: str) -> None:
    newer = session.scalar(
        select(func.min(Job.id)).where(
            Job.dedupe_key == job.dedupe_key, Job.state == "queued", Job.id != job.id
        )
    )
    if newer is not None:
        # The same work is queued again (a newer file, the same request): not a failure.
        job.state = "superseded"
        job.error = f"{error}\n(superseded by job {newer}, queued for the same work)"
        job.finished_at = utcnow()
    else:
        job.state = "queued"
        job.error = error
        job.worker = None


def fail_job(session: Session, job_id: int, error: str) -> str:
    """Record a failed attempt: requeue while attempts remain, else mark failed.

    Returns the new state: ``queued``, ``failed``, or ``superseded`` when the same
    work is already queued again.
    """
    job = session.get(Job, job_id, populate_existing=True, with_for_update=True)
    if job is None:
        return "missing"
    if job.attempts < job.max_attempts:
        _requeue_or_supersede(session, job, error)
    else:
        job.state = "failed"
        job.error = error
        job.finished_at = utcnow()
    session.flush()
    return job.state


def reclaim_expired(
    session: Session, lease_seconds: float, *, now: datetime | None = None
) -> list[int]:
    """Return running jobs whose worker stopped heartbeating to the queue (or fail them when spent)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=lease_seconds)
    stale = session.scalars(
        select(Job)
        .where(Job.state == "running", Job.heartbeat_at < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    for job in stale:
        error = f"worker {job.worker} stopped heartbeating (last {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)"
        if job.attempts < job.max_attempts:
            _requeue_or_supersede(session, job, error)
        else:
            job.state = "failed"
            job.error = error
            job.finished_at = now
    session.flush()
    return [job.id for job in stale]


def queue_counts(session: Session) -> dict[str, int]:
    """Number of jobs in each state."""
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    counts = dict.fromkeys(JOB_STATES, 0)
    counts.update(dict(rows))
    return counts
