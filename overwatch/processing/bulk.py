"""Bulk reprocessing: re-derive many runs, on local workers or on a Dask cluster.

After a plugin or a check changes, ``overwatch reprocess`` queues one ``process``
job per subsystem of the chosen runs (:func:`queue`) and runs them:

- locally (:func:`run_local`): the worker processes of ``process --once``;
- on Dask distributed (:func:`run_on_dask`): each job id becomes a task that a Dask
  worker runs with :func:`run_job_task`, claiming that job in the database first.

The job table stays the record, whatever happens to a Dask worker. A task claims
its job with one conditional ``UPDATE`` (queued → running), so a task that Dask
retries or runs twice finds the job taken and does nothing; results are stored in
one transaction that first checks the claim is still this worker's, so a job is
done once. A worker killed mid-job leaves its job ``running``; when its lease
(``job_lease_seconds``) runs out, :func:`~overwatch.storage.jobs.reclaim_expired`
queues it again and the coordinator hands it out anew. Each attempt records the
Dask worker that ran it (``dask:<worker name>``) in ``job_attempts``.

Dask is the ``overwatch[dask]`` extra; nothing here imports it until a scheduler
is given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_rederivation
from overwatch.storage.jobs import reclaim_expired
from overwatch.storage.models import Job

__all__ = ["BulkSummary", "prepare_worker", "queue", "run_job_task", "run_local", "run_on_dask"]

log = logging.getLogger(__name__)

#: Job states that end a job.
FINISHED = ("done", "failed", "superseded")
#: Seconds between the coordinator's looks at the job table.
POLL_SECONDS = 0.5

Progress = Callable[[int, int], None]


@dataclass
class BulkSummary:
    jobs: int
    done: int = 0
    failed: int = 0
    superseded: int = 0
    seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"reprocessed: {self.done} of {self.jobs} job(s) done, {self.failed} failed"
            + (f", {self.superseded} superseded" if self.superseded else "")
            + f" in {self.seconds:.1f} s"
        )


def queue(
    settings: Settings,
    db: Database,
    *,
    runs: tuple[int, int] | None = None,
    subsystem: str | None = None,
) -> list[int]:
    """Queue re-derivation of the chosen runs; the job ids (empty when nothing matches)."""
    with db.session() as session:
        return enqueue_rederivation(
            session, runs=runs, subsystem=subsystem, max_attempts=settings.job_max_attempts
        )


def _states(db: Database, job_ids: list[int]) -> dict[int, str]:
    states: dict[int, str] = {}
    with db.session() as session:
        for start in range(0, len(job_ids), 500):
            chunk = job_ids[start : start + 500]
            rows = session.execute(select(Job.id, Job.state).where(Job.id.in_(chunk)))
            states.update({job_id: state for job_id, state in rows})  # noqa: C416 - rows of two
    return states


def _summarise(db: Database, job_ids: list[int], started: float) -> BulkSummary:
    summary = BulkSummary(len(job_ids), seconds=time.perf_counter() - started)
    with db.session() as session:
        for start in range(0, len(job_ids), 500):
            chunk = job_ids[start : start + 500]
            for job_id, state, error in session.execute(
                select(Job.id, Job.state, Job.error).where(Job.id.in_(chunk))
            ):
                if state == "done":
                    summary.done += 1
                elif state == "superseded":
                    summary.superseded += 1
                elif state == "failed":
                    summary.failed += 1
                    last = (error or "").strip().splitlines()[-1:] or [""]
                    summary.failures.append((job_id, last[0]))
    return summary


def run_local(
    settings: Settings,
    db: Database,
    job_ids: list[int],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> BulkSummary:
    """Run the queue with this machine's worker processes until it is empty."""
    from overwatch.processing.daemon import process_pending  # noqa: PLC0415

    started = time.perf_counter()
    ids = set(job_ids)

    def ours(_done: int, _total: int) -> None:
        if progress is not None:
            states = _states(db, job_ids)
            progress(sum(1 for i in ids if states.get(i) in FINISHED), len(ids))

    process_pending(settings, db, workers=workers, progress=ours if progress else None)
    return _summarise(db, job_ids, started)


# -- Dask -----------------------------------------------------------------------------

_WORKER_STATE: dict[str, Any] = {}


def _worker_for(settings: Settings, dask_worker: Any = None) -> Any:
    """This process's :class:`~overwatch.processing.worker.Worker`, made once per settings."""
    from overwatch.processing.reload import PluginReloader  # noqa: PLC0415
    from overwatch.processing.worker import Worker  # noqa: PLC0415

    key = settings.effective_database_url
    found = _WORKER_STATE.get(key)
    if found is None:
        if dask_worker is None:
            from distributed import get_worker  # noqa: PLC0415

            dask_worker = get_worker()
        PluginReloader(settings).start()
        db = Database(settings.effective_database_url)
        found = Worker(settings, db, name=f"dask:{dask_worker.name}")
        _WORKER_STATE[key] = found
    return found


def prepare_worker(settings: Settings, dask_worker: Any = None) -> str:
    """Load plugins and open the database on a Dask worker before its first job (run on
    every worker at once with ``Client.run``, so their seconds of imports overlap)."""
    return str(_worker_for(settings, dask_worker).name)


def run_job_task(settings: Settings, job_id: int) -> dict[str, Any]:
    """Run one job on a Dask worker (the function Dask ships); what happened, for the log.

    ``{"job": id, "state": "taken"}`` when the job could not be claimed: done already,
    or held by another attempt (e.g. of a worker that died, until its lease runs out).
    """
    outcome = _worker_for(settings).run_job(job_id)
    if outcome is None:
        return {"job": job_id, "state": "taken"}
    return {"job": job_id, "state": outcome.state, "seconds": outcome.seconds}


class _Coordinator:
    """Keeps one task in flight per queued job until the job table says each finished."""

    def __init__(self, settings: Settings, db: Database, client: Any, job_ids: list[int]) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.remaining = set(job_ids)
        self.in_flight: dict[int, Any] = {}
        self.submissions: dict[int, int] = {}
        self.last_reclaim = 0.0

    def reclaim(self) -> None:
        """Queue again the jobs of workers whose lease ran out (a killed Dask worker)."""
        now = time.perf_counter()
        if now - self.last_reclaim < max(self.settings.job_lease_seconds / 2, 1.0):
            return
        with self.db.session() as session:
            reclaimed = reclaim_expired(session, self.settings.job_lease_seconds)
        if reclaimed:
            log.warning("reclaimed jobs of lost workers: %s", reclaimed)
        self.last_reclaim = now

    def step(self) -> None:
        """Forget finished jobs and tasks, submit a task for each queued job without one."""
        states = _states(self.db, sorted(self.remaining))
        for job_id, state in states.items():
            if state in FINISHED:
                self.remaining.discard(job_id)
                self.in_flight.pop(job_id, None)
        for job_id, future in list(self.in_flight.items()):
            if future.done():
                del self.in_flight[job_id]
                if future.status == "error":
                    log.warning("job %s: the Dask task failed: %s", job_id, future.exception())
        for job_id in sorted(self.remaining):
            if states.get(job_id) == "queued" and job_id not in self.in_flight:
                self.submit(job_id)

    def submit(self, job_id: int) -> None:
        count = self.submissions[job_id] = self.submissions.get(job_id, 0) + 1
        self.in_flight[job_id] = self.client.submit(
            run_job_task,
            self.settings,
            job_id,
            key=f"overwatch-job-{job_id}-{count}",
            pure=False,
        )

    def pause(self, wait: Callable[..., Any]) -> None:
        """Until a task finishes, or :data:`POLL_SECONDS` at most."""
        futures = list(self.in_flight.values())
        if not futures:
            time.sleep(POLL_SECONDS)
            return
        with contextlib.suppress(TimeoutError):
            wait(futures, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")

    def cancel(self) -> None:
        for future in self.in_flight.values():
            future.cancel()


def run_on_dask(
    settings: Settings,
    db: Database,
    job_ids: list[int],
    scheduler: str,
    *,
    progress: Progress | None = None,
) -> BulkSummary:
    """Hand the jobs to the Dask cluster at ``scheduler`` until each has finished.

    A job is (re)submitted whenever it is queued and no task of it is in flight: at
    the start, and after a lost worker's lease was reclaimed. The database, not
    Dask, says when a job is finished.
    """
    try:
        from distributed import Client  # noqa: PLC0415
        from distributed import wait  # noqa: PLC0415
    except ImportError as exc:
        raise RuntimeError(
            "bulk reprocessing on Dask needs the dask extra: pip install 'overwatch[dask]'"
        ) from exc
    started = time.perf_counter()
    # Typed as Any: the dask extra may be absent where mypy runs.
    connect: Any = Client
    client = connect(scheduler, timeout=30)
    coordinator = _Coordinator(settings, db, client, job_ids)
    try:
        # Workers that join later prepare themselves with their first task.
        client.run(prepare_worker, settings)
        while coordinator.remaining:
            coordinator.reclaim()
            coordinator.step()
            if progress is not None:
                progress(len(job_ids) - len(coordinator.remaining), len(job_ids))
            if coordinator.remaining:
                coordinator.pause(wait)
    finally:
        coordinator.cancel()
        client.close()
    return _summarise(db, job_ids, started)
