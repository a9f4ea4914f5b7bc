"""A subsystem without files of its own processes its plugin's source subsystem's files
(TPC from HLT, as the original), through scan, worker and database."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.demo import FIRST_RUN
from overwatch.demo import generate_demo_data
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import SubsystemRun
from tests.detectors.helpers import current_rows

RUN = 294832
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)
ZURICH = ZoneInfo("Europe/Zurich")
EDGES = np.linspace(0.0, 10.0, 11)


def _hlt_file(settings: Settings, minute: int, value: float, subsystem: str = "HLT") -> Path:
    objects = {
        "fHistTPCtracks": (np.full(10, value), EDGES),
        "fHistHLTInSize": (np.full(10, 2 * value), EDGES),
    }
    return write_receiver_file(
        settings.data_dir,
        subsystem,
        RUN,
        "C",
        START + timedelta(minutes=minute),
        objects,
        settings.tz,
    )


def _subsystems(db: Database) -> dict[str, tuple[int, str]]:
    with db.session() as session:
        return {
            sub.name: (sub.file_count, sub.accumulation_mode)
            for sub in session.scalars(select(SubsystemRun))
        }


def _contents(row: HistogramRecord) -> list[float]:
    array = json.loads(gzip.decompress(row.json_gz or b""))["fArray"]
    return [float(v) for v in array[1:-1]]


def _process(settings: Settings, db: Database) -> None:
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert all(o.state == "done" for o in outcomes), [o.error for o in outcomes]


def test_a_run_with_only_hlt_files_gets_tpc_processed_from_them(
    make_settings: Any, db: Database, tmp_path: Path
) -> None:
    settings: Settings = make_settings(timezone="Europe/Zurich")
    source = tmp_path / "demo"
    source.mkdir()
    generate_demo_data(source, ZURICH, runs=1, minutes=3, now=NOW, subsystems=["HLT"])
    for path in source.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    _process(settings, db)
    run_number = FIRST_RUN  # the demo's only run
    assert _subsystems(db) == {"HLT": (3, "cumulative"), "TPC": (0, "cumulative")}
    hlt = current_rows(db, run_number, "HLT")
    tpc = current_rows(db, run_number, "TPC")
    assert set(tpc) == {name for name in hlt if "TPC" in name}
    assert tpc  # the HLT files carry TPC cluster and track histograms
    for name, row in tpc.items():
        assert row.entries == hlt[name].entries, name


def test_own_files_win_over_the_source_and_later_own_files_take_over(
    settings: Settings, db: Database
) -> None:
    _hlt_file(settings, 0, 1)
    _process(settings, db)
    assert set(current_rows(db, RUN, "TPC")) == {"fHistTPCtracks"}
    # The TPC receiver starts sending for this run: from now on TPC uses its own files.
    _hlt_file(settings, 1, 5, subsystem="TPC")
    _hlt_file(settings, 2, 7)
    _process(settings, db)
    assert _subsystems(db)["TPC"] == (1, "cumulative")
    tpc = current_rows(db, RUN, "TPC")
    assert set(tpc) == {"fHistTPCtracks", "fHistHLTInSize"}  # its own file, unfiltered
    assert _contents(tpc["fHistTPCtracks"]) == [5.0] * 10
    assert _contents(current_rows(db, RUN, "HLT")["fHistTPCtracks"]) == [7.0] * 10
    # A newer HLT file does not queue TPC again: it no longer follows HLT.
    _hlt_file(settings, 3, 9)
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert [o.subsystem for o in outcomes] == ["HLT"]


@pytest.mark.parametrize(("mode", "expected"), [("cumulative", 6.0), ("reset", 10.0)])
def test_borrowed_files_follow_the_sources_mode_in_runs_and_time_slices(
    make_settings: Any, db: Database, mode: str, expected: float
) -> None:
    settings: Settings = make_settings(subsystem_modes={"HLT": mode})
    for minute, value in ((0, 1), (5, 3), (10, 6)):
        _hlt_file(settings, minute, value)
    _process(settings, db)
    assert _subsystems(db)["TPC"] == (0, mode)
    tpc = current_rows(db, RUN, "TPC")
    assert _contents(tpc["fHistTPCtracks"]) == [expected] * 10
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun).where(SubsystemRun.name == "TPC")).one()
        job_id = enqueue_job(
            session,
            kind="time_slice",
            dedupe_key="slice",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="TPC",
            params={"min_minutes": 2, "max_minutes": 7, "options": {}},
        ).id
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        rows = {
            r.name: r
            for r in session.scalars(
                select(HistogramRecord).where(HistogramRecord.result_id == job.result_id)
            )
        }
    # Cumulative: minute 5 minus minute 0; reset: the file of minute 5 alone.
    assert set(rows) == {"fHistTPCtracks"}
    assert _contents(rows["fHistTPCtracks"]) == [2.0 if mode == "cumulative" else 3.0] * 10


def test_borrowing_is_off_when_the_setting_lists_no_subsystem(
    make_settings: Any, db: Database
) -> None:
    settings: Settings = make_settings(borrowing_subsystems=[])
    _hlt_file(settings, 0, 1)
    _process(settings, db)
    assert set(_subsystems(db)) == {"HLT"}
