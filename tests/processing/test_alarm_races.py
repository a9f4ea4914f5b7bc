"""Two workers raising the same alarm at once, on PostgreSQL (separate sessions in threads).

Each race is made to happen, not hoped for: the first session has written and not
committed; the second is started and seen waiting on a lock in ``pg_stat_activity``
before the first commits. Afterwards exactly one alarm is active and nothing failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from overwatch.config import Settings
from overwatch.processing.alarms import evaluate_alarms
from overwatch.storage import Database
from overwatch.storage.alarms import list_alarms
from overwatch.storage.alarms import raise_alarm
from overwatch.storage.models import AlarmStreak
from tests.processing.test_alarm_evaluation import SYS
from tests.processing.test_alarm_evaluation import Snapshots
from tests.processing.test_alarm_evaluation import bad_rule
from tests.processing.test_alarm_evaluation import check_settings


@pytest.fixture
def pg(db: Database) -> Database:
    if not db.is_postgresql:
        pytest.skip("a race between sessions needs PostgreSQL (SQLite serialises writers)")
    return db


def backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def waits_on_lock(db: Database, pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            event = connection.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            connection.rollback()
            if event == "Lock":
                return True
            time.sleep(0.05)
    return False


def race(db: Database, work: Callable[[Session], Any]) -> None:
    """Run ``work`` in session A (uncommitted), then in session B in a thread until B
    waits on A's lock, then commit A; B must finish without an error."""
    first = db.new_session()
    second = db.new_session()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with second.begin():
                work(second)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    try:
        first.begin()
        work(first)
        first.flush()
        pid = backend_pid(second)
        second.commit()  # the pid query opened a transaction; B's work starts its own
        thread = threading.Thread(target=other)
        thread.start()
        assert waits_on_lock(db, pid), "the second session never waited for the first"
        first.commit()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()
    assert errors == []


def test_two_sessions_raising_the_same_alarm_leave_one_active_alarm(pg: Database) -> None:
    def raise_it(session: Session) -> None:
        raise_alarm(
            session,
            rule="EMC drift",
            subsystem="EMC",
            target="emc_mean",
            severity="warning",
            message="emc_mean = 12 in run 100",
            run_number=100,
        )

    race(pg, raise_it)
    with pg.session() as session:
        [alarm] = list_alarms(session)
    assert (alarm.count, alarm.cleared_at) == (2, None)


def test_two_workers_evaluating_the_same_subsystem_count_the_streak_once_each(
    make_settings: Callable[..., Settings], pg: Database
) -> None:
    # Results stored by the real pipeline, no rule yet; then two evaluations at once
    # of a rule needing two bad results in a row, as two workers finishing together.
    Snapshots(check_settings(make_settings), pg)(300, "h_bad")
    settings = check_settings(make_settings, bad_rule(consecutive=2))

    race(pg, lambda session: evaluate_alarms(session, settings, SYS, 300))
    with pg.session() as session:
        counts = {row.histogram: row.count for row in session.scalars(select(AlarmStreak))}
        alarms = list_alarms(session)
    assert counts == {"h_bad": 2}
    assert [(a.histogram, a.count, a.cleared_at) for a in alarms] == [("h_bad", 1, None)]
