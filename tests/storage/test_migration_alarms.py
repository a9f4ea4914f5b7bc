"""Migration 0005_alarms: old alarms survive as cleared ones, and one alarm per key is active."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import Alarm


def test_upgrade_keeps_old_alarms_as_cleared_and_seen_once(settings: Settings) -> None:
    db = Database(settings.effective_database_url)
    try:
        db.upgrade("0004_references")
        with db.session() as session:
            for _ in range(2):  # the old schema allowed duplicates of one rule and target
                session.execute(
                    text(
                        "INSERT INTO alarms (subsystem, run_number, rule, target, message, "
                        "severity, raised_at) VALUES ('EMC', 7, 'r', 't', 'm', 'warning', "
                        ":raised)"
                    ),
                    {"raised": datetime(2024, 5, 1, 12, tzinfo=UTC).replace(tzinfo=None)},
                )
        db.upgrade()
        with db.session() as session:
            alarms = session.scalars(select(Alarm).order_by(Alarm.id)).all()
            assert [(a.count, a.last_seen_at, a.cleared_at) for a in alarms] == [
                (1, a.raised_at, a.raised_at) for a in alarms
            ]
            assert len(alarms) == 2
    finally:
        db.dispose()


def _alarm(**changes: object) -> Alarm:
    values: dict[str, object] = {
        "subsystem": "EMC",
        "run_number": 7,
        "rule": "hot towers",
        "target": "EMC/*",
        "message": "bad",
    }
    values.update(changes)
    return Alarm(**values)


def test_only_one_active_alarm_per_rule_subsystem_and_target(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        session.add(_alarm(cleared_at=now))
        session.add(_alarm(cleared_at=now))
        session.add(_alarm())
        session.add(_alarm(subsystem="TPC"))
        session.add(_alarm(target="EMC/other"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(_alarm(run_number=8))
    with db.session() as session:
        assert len(session.scalars(select(Alarm)).all()) == 5
