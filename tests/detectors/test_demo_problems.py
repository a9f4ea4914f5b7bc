"""End to end: the demo data set through scan, worker and database; each planted problem is
flagged by its plugin exactly where it was planted, and nothing else anywhere."""

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
from overwatch.demo import FIRST_RUN
from overwatch.demo import PLANTED_PROBLEMS
from overwatch.demo import generate_demo_data
from overwatch.demo.simulation import HOT_FASTOR
from overwatch.demo.simulation import HOT_SUPERMODULE
from overwatch.detectors.emc_geometry import supermodule_shape
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

RUNS = 3
# Long enough for the drifting DCA's cumulative mean to pass the "bad" line (0.2 cm).
MINUTES = 8
NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)
ZURICH = ZoneInfo("Europe/Zurich")

Stored = dict[tuple[int, str], tuple[str | None, dict[str, HistogramRecord]]]


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("demo")
    generate_demo_data(source, ZURICH, runs=RUNS, minutes=MINUTES, now=NOW)
    return source


@pytest.fixture
def stored(demo_files: Path, make_settings: Any, db: Database) -> Stored:
    settings: Settings = make_settings(timezone="Europe/Zurich")
    for path in demo_files.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert [o.state for o in outcomes] == ["done"] * (RUNS * 3)
    result: Stored = {}
    with db.session() as session:
        for run_number, sub in session.execute(
            select(Run.run_number, SubsystemRun).join(SubsystemRun, SubsystemRun.run_id == Run.id)
        ):
            rows = session.scalars(
                select(HistogramRecord).where(HistogramRecord.result_id == sub.current_result_id)
            ).all()
            result[run_number, sub.name] = (sub.quality, {row.name: row for row in rows})
    return result


def test_each_planted_problem_is_flagged_where_planted_and_nowhere_else(stored: Stored) -> None:
    planted = {
        (p.run_number(RUNS), p.subsystem): set(p.histograms) | set(p.derived)
        for p in PLANTED_PROBLEMS
    }
    assert len(planted) == len(PLANTED_PROBLEMS)  # one problem per run and subsystem
    for (run, subsystem), (quality, rows) in stored.items():
        flagged = {name for name, row in rows.items() if row.quality in ("medium", "bad")}
        expected = planted.get((run, subsystem), set())
        assert flagged <= expected, (run, subsystem, flagged - expected)
        if expected:
            [problem] = [
                p for p in PLANTED_PROBLEMS if (p.run_number(RUNS), p.subsystem) == (run, subsystem)
            ]
            assert problem.histograms[0] in flagged, (run, subsystem)
            assert quality == "bad", (run, subsystem)
            assert all(rows[name].info.get("check") for name in flagged)
        else:
            assert quality == "good", (run, subsystem, quality)


def test_the_hot_fastor_is_reported_with_its_absolute_id(stored: Stored) -> None:
    _, rows = stored[FIRST_RUN, "EMC"]
    columns, _ = supermodule_shape(HOT_SUPERMODULE)
    offset = sum(
        supermodule_shape(sm)[0] * supermodule_shape(sm)[1] for sm in range(HOT_SUPERMODULE)
    )
    # Absolute IDs run along a row first, supermodule after supermodule.
    expected = offset + HOT_FASTOR[1] * columns + HOT_FASTOR[0]

    assert rows["EMCTRQA_histFastORL0"].info["hot_channels"] == [expected]
    assert rows["EMCTRQA_histFastORL0"].quality == "bad"
    assert rows[f"EMCTRQA_histFastORL0_SM{HOT_SUPERMODULE}"].info["outliers"] == [list(HOT_FASTOR)]


def test_derived_histograms_are_stored_and_grouped(stored: Stored) -> None:
    _, emc = stored[FIRST_RUN, "EMC"]
    _, tpc = stored[FIRST_RUN, "TPC"]

    assert "EMCTRQA_histPatchAmpEMCGAH_EMCal_GeV" in emc
    assert emc["EMCTRQA_histFastORL0_SM3"].info["display"]["name"] == "FastORL0_SM3"
    assert emc["EMCTRQA_histFastORL0_SM3"].draw_options == "colz"
    for name in ("DCAr_vs_Phi_postracks_aSide", "Eta_vs_Phi_negtracks", "pT_postracks"):
        assert tpc[f"TPCQA/{name}"].json_gz
