"""Migration 0002_jobs: queued jobs take the new priorities, old superseded jobs are marked so."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import text

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import Job

OLD_ROWS = [
    # (kind, dedupe_key, state, priority, error) as version 0001 wrote them
    ("process", "process:1", "queued", 0, None),
    ("time_slice", "time_slice:1:a", "queued", 10, None),
    ("process", "process:2", "failed", 0, "boom\n(superseded by a newer queued job)"),
    ("process", "process:3", "failed", 0, "boom"),
]


def test_upgrade_reorders_the_queue_and_separates_superseded_jobs(settings: Settings) -> None:
    db = Database(settings.effective_database_url)
    try:
        db.upgrade("0001")
        with db.session() as session:
            for kind, key, state, priority, error in OLD_ROWS:
                session.execute(
                    text(
                        "INSERT INTO jobs (kind, dedupe_key, state, priority, attempts, "
                        "max_attempts, created_at, params, error) VALUES (:kind, :key, :state, "
                        ":priority, 1, 3, CURRENT_TIMESTAMP, '{}', :error)"
                    ),
                    {
                        "kind": kind,
                        "key": key,
                        "state": state,
                        "priority": priority,
                        "error": error,
                    },
                )
        db.upgrade()
        with db.session() as session:
            rows = session.execute(
                select(Job.dedupe_key, Job.state, Job.priority).order_by(Job.id)
            ).all()
        assert [tuple(row) for row in rows] == [
            ("process:1", "queued", 10),
            ("time_slice:1:a", "queued", 0),
            ("process:2", "superseded", 0),
            ("process:3", "failed", 0),
        ]
    finally:
        db.dispose()
