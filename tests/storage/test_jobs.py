"""The job queue: dedupe, priorities, claiming, attempts, leases, concurrent workers."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import select

from overwatch.storage import Database
from overwatch.storage.jobs import FORCE
from overwatch.storage.jobs import PRIORITY_LIVE
from overwatch.storage.jobs import PRIORITY_USER
from overwatch.storage.jobs import QueueQuotaError
from overwatch.storage.jobs import claim_job
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import enqueue_request
from overwatch.storage.jobs import fail_job
from overwatch.storage.jobs import finish_job
from overwatch.storage.jobs import heartbeat
from overwatch.storage.jobs import queue_counts
from overwatch.storage.jobs import reclaim_expired
from overwatch.storage.models import Job
from overwatch.storage.models import utcnow
from overwatch.storage.queries import list_jobs


def _enqueue(db: Database, key: str, priority: int = 0, max_attempts: int = 3) -> int:
    with db.session() as session:
        return enqueue_job(
            session, kind="process", dedupe_key=key, priority=priority, max_attempts=max_attempts
        ).id


def test_enqueue_is_deduplicated_while_queued(db: Database) -> None:
    first = _enqueue(db, "process:1", priority=PRIORITY_USER)
    again = _enqueue(db, "process:1", priority=PRIORITY_LIVE)
    assert again == first
    with db.session() as session:
        job = session.get(Job, first)
        assert job is not None
        assert job.priority == PRIORITY_LIVE  # the higher priority wins
        assert queue_counts(session)["queued"] == 1


def test_claim_order_priority_then_age(db: Database) -> None:
    old = _enqueue(db, "a", priority=PRIORITY_USER)
    urgent = _enqueue(db, "b", priority=PRIORITY_LIVE)
    newer = _enqueue(db, "c", priority=PRIORITY_USER)
    claimed = []
    for _ in range(4):
        with db.session() as session:
            job = claim_job(session, "w1")
            claimed.append(job.id if job else None)
    assert claimed == [urgent, old, newer, None]
    with db.session() as session:
        job = session.get(Job, urgent)
        assert job is not None
        assert (job.state, job.attempts, job.worker) == ("running", 1, "w1")


def _request(db: Database, user: str, number: int, quota: int = 1000) -> int:
    with db.session() as session:
        return enqueue_request(
            session,
            kind="time_slice",
            dedupe_key=f"time_slice:1:{number}",
            requested_by=user,
            quota=quota,
            params={"min_minutes": number},
        ).id


def test_live_processing_is_claimed_before_any_user_request(db: Database) -> None:
    # Found by a hostile tester: 300 queued time slices ran before a new file's job.
    requests = [_request(db, "expert", number) for number in range(300)]
    with db.session() as session:
        live = enqueue_job(session, kind="process", dedupe_key="process:9").id
    with db.session() as session:
        first = claim_job(session, "w")
        second = claim_job(session, "w")
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == (live, requests[0])


def test_a_user_may_queue_only_up_to_the_quota(db: Database) -> None:
    queued = [_request(db, "expert", number, quota=3) for number in range(3)]
    with pytest.raises(QueueQuotaError, match=r"expert already has 3 request.*the limit is 3"):
        _request(db, "expert", 3, quota=3)
    # Asking again for a queued request costs nothing; another user has a quota of their own.
    assert _request(db, "expert", 1, quota=3) == queued[1]
    _request(db, "someone-else", 3, quota=3)
    with db.session() as session:
        assert queue_counts(session)["queued"] == 4
        claim_job(session, "w")  # one starts running: a place in the queue is free again
    assert _request(db, "expert", 3, quota=3) not in queued


def test_job_superseded_after_a_crash_is_shown_as_superseded_not_failed(db: Database) -> None:
    crashed = _enqueue(db, "process:3")
    with db.session() as session:
        claim_job(session, "dead-worker", now=utcnow() - timedelta(hours=1))
    newer = _enqueue(db, "process:3")  # a new file arrived meanwhile
    with db.session() as session:
        assert reclaim_expired(session, lease_seconds=60) == [crashed]
    with db.session() as session:
        job = session.get(Job, crashed)
        assert job is not None
        assert job.state == "superseded"
        assert job.finished_at is not None
        assert f"superseded by job {newer}" in (job.error or "")
        counts = queue_counts(session)
        assert (counts["superseded"], counts["failed"], counts["queued"]) == (1, 0, 1)
        assert list_jobs(session, state="failed") == []
        assert [view.id for view in list_jobs(session, state="superseded")] == [crashed]


def test_failed_attempt_with_the_same_work_queued_again_is_superseded(db: Database) -> None:
    first = _enqueue(db, "process:4")
    with db.session() as session:
        claim_job(session, "w")
    _enqueue(db, "process:4")
    with db.session() as session:
        assert fail_job(session, first, "boom") == "superseded"


def test_one_running_job_per_dedupe_key(db: Database) -> None:
    _enqueue(db, "process:7")
    with db.session() as session:
        running = claim_job(session, "w1")
    assert running is not None
    # New data arrives while the first job runs: one more may queue, but must wait.
    waiting = _enqueue(db, "process:7")
    assert waiting != running.id
    with db.session() as session:
        assert claim_job(session, "w2") is None
        finish_job(session, session.get(Job, running.id))  # type: ignore[arg-type]
    with db.session() as session:
        job = claim_job(session, "w2")
        assert job is not None
        assert job.id == waiting


def test_failures_are_retried_up_to_the_cap(db: Database) -> None:
    job_id = _enqueue(db, "k", max_attempts=2)
    states = []
    for _ in range(3):
        with db.session() as session:
            job = claim_job(session, "w")
            if job is None:
                states.append("none")
                continue
            states.append(fail_job(session, job.id, "boom"))
    assert states == ["queued", "failed", "none"]
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.attempts, job.error) == ("failed", 2, "boom")


def test_expired_lease_is_reclaimed_and_heartbeat_keeps_it(db: Database) -> None:
    live = _enqueue(db, "live")
    dead = _enqueue(db, "dead")
    with db.session() as session:
        for _ in range(2):
            claim_job(session, "w", now=utcnow() - timedelta(minutes=10))
    with db.session() as session:
        assert heartbeat(session, live, "w")
        assert not heartbeat(session, live, "someone-else")
    with db.session() as session:
        reclaimed = reclaim_expired(session, lease_seconds=60)
    assert reclaimed == [dead]
    with db.session() as session:
        states = dict(session.execute(select(Job.id, Job.state)).all())
        assert states == {live: "running", dead: "queued"}
        job = session.get(Job, dead)
        assert job is not None
        assert job.error is not None
        assert "stopped heartbeating" in job.error


def test_reclaim_fails_a_spent_job(db: Database) -> None:
    job_id = _enqueue(db, "spent", max_attempts=1)
    with db.session() as session:
        claim_job(session, "w", now=utcnow() - timedelta(hours=1))
    with db.session() as session:
        reclaim_expired(session, lease_seconds=60)
        job = session.get(Job, job_id)
        assert job is not None
        assert job.state == "failed"


def _claim_all(url: str, name: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = Database(url)
    claimed = []
    while True:
        with db.session() as session:
            job = claim_job(session, name)
            if job is None:
                break
            job.state = "done"
            claimed.append(job.id)
    db.dispose()
    out.put(claimed)


@pytest.mark.slow
def test_concurrent_processes_never_claim_a_job_twice(db: Database) -> None:
    with db.session() as session:
        ids = {enqueue_job(session, kind="process", dedupe_key=f"k{i}").id for i in range(300)}
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    url = db.url.render_as_string(hide_password=False)
    workers = [context.Process(target=_claim_all, args=(url, f"w{i}", out)) for i in range(4)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    claimed = [job_id for chunk in results for job_id in chunk]
    assert len(claimed) == len(set(claimed)), "a job was claimed twice"
    assert set(claimed) == ids
    if db.is_postgresql:
        # With row locks every worker gets a share; on SQLite one may take them all.
        assert sum(1 for chunk in results if chunk) >= 2


# -- a worker claims the queued job while it is queued again ---------------------------


def _claim_after_the_insert(db: Database, claimed: list[int]) -> Any:
    """A listener that, right after ``enqueue_job``'s INSERT met the queued job, lets
    another worker (another connection) claim that job: the moment of the race."""

    def claim(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO JOBS") and not claimed:
            with db.session() as other:
                job = claim_job(other, "fast-worker")
                assert job is not None
                claimed.append(job.id)

    return claim


@pytest.mark.parametrize("force", [False, True])
def test_a_job_claimed_while_it_is_queued_again_is_not_queued_twice(
    db: Database, force: bool
) -> None:
    if not db.is_postgresql:
        pytest.skip("SQLite holds the write lock from the INSERT on: no claim can come between")
    first = _enqueue(db, "process:5")
    claimed: list[int] = []
    listener = _claim_after_the_insert(db, claimed)
    event.listen(db.engine, "after_cursor_execute", listener)
    try:
        with db.session() as session:
            again = enqueue_job(
                session,
                kind="process",
                dedupe_key="process:5",
                params={FORCE: True} if force else {},
            ).id
    finally:
        event.remove(db.engine, "after_cursor_execute", listener)
    assert claimed == [first]
    with db.session() as session:
        counts = queue_counts(session)
        queued = session.scalars(select(Job).where(Job.state == "queued")).all()
    if force:
        # The running job may find nothing new and skip: a forced request waits its turn.
        assert again != first
        assert [(job.id, job.params) for job in queued] == [(again, {FORCE: True})]
        assert (counts["queued"], counts["running"]) == (1, 1)
    else:
        # The running job started after this call: it does the work, nothing more is queued.
        assert again == first
        assert (counts["queued"], counts["running"]) == (0, 1)


def test_a_forced_request_makes_the_queued_job_forced(db: Database) -> None:
    live = _enqueue(db, "process:6", priority=PRIORITY_LIVE)
    with db.session() as session:
        forced = enqueue_job(
            session, kind="process", dedupe_key="process:6", params={FORCE: True}
        ).id
        # A live job queued after it keeps the force it carries now.
        again = enqueue_job(session, kind="process", dedupe_key="process:6").id
    assert forced == again == live
    with db.session() as session:
        job = session.get(Job, live)
        assert job is not None
        assert (job.params, job.priority, job.state) == ({FORCE: True}, PRIORITY_LIVE, "queued")
