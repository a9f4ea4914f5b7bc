"""End to end: the demo data set through scan and worker; the default alarm rule fires
on exactly the histograms where the demo planted problems, in those runs, and nowhere else."""

from __future__ import annotations

import shutil
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.demo import PLANTED_PROBLEMS
from overwatch.demo import generate_demo_data
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.storage import Database
from overwatch.storage.alarms import list_alarms
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

RUNS = 3
MINUTES = 8
NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("demo")
    generate_demo_data(source, ZoneInfo("Europe/Zurich"), runs=RUNS, minutes=MINUTES, now=NOW)
    return source


def test_default_rule_fires_exactly_where_the_demo_planted_problems(
    demo_files: Path, make_settings: Any, db: Database
) -> None:
    settings: Settings = make_settings(timezone="Europe/Zurich")
    for path in demo_files.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    scan(settings, db)
    assert [o.state for o in Worker(settings, db).run_until_idle()] == ["done"] * (RUNS * 3)

    with db.session() as session:
        alarms = list_alarms(session)
        bad = {
            (run, sub, name)
            for run, sub, name in session.execute(
                select(Run.run_number, SubsystemRun.name, HistogramRecord.name)
                .join(SubsystemRun, SubsystemRun.run_id == Run.id)
                .join(HistogramRecord, HistogramRecord.result_id == SubsystemRun.current_result_id)
                .where(HistogramRecord.quality == "bad")
            )
        }
    fired = {(a.run_number, a.subsystem, a.histogram) for a in alarms}
    assert fired == bad
    planted = {(p.run_number(RUNS), p.subsystem) for p in PLANTED_PROBLEMS}
    assert {(run, sub) for run, sub, _ in fired} == planted
    for problem in PLANTED_PROBLEMS:
        shown = set(problem.histograms) | set(problem.derived)
        where = (problem.run_number(RUNS), problem.subsystem)
        named = {name for run, sub, name in fired if (run, sub) == where}
        assert named, problem.kind
        assert named <= shown, (problem.kind, named - shown)
    assert all(a.rule == "bad histogram" and a.severity == "critical" for a in alarms)
    assert all(a.target == a.histogram for a in alarms)
    # Runs are processed oldest first: a problem of an earlier run is cleared by the
    # next run of its subsystem, and the ongoing run's drift stays open.
    last_run = max(run for run, _ in planted)
    for alarm in alarms:
        assert (alarm.cleared_at is None) == (alarm.run_number == last_run), alarm
