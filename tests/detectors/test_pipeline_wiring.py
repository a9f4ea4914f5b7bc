"""Plugin hooks through the real pipeline (scan, worker, database): the summary in the
split path, and the group order and layout a plugin asks for."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import ClassVar
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from flask import Flask

from overwatch.config import Settings
from overwatch.demo import generate_demo_data
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import GroupSpec
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.detectors.emc import FASTOR_SUMMARIES
from overwatch.processing import parallel
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.queries.histograms import result_histograms
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.detectors.helpers import current_rows
from tests.webapp.conftest import log_in

NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)
ZURICH = ZoneInfo("Europe/Zurich")
RUN = 294832
_SCALED = re.compile(r"_SM\d+$|EdgePos|FastOR|PatchAmp")


@pytest.fixture(scope="module")
def emc_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("demo-emc")
    generate_demo_data(source, ZURICH, runs=1, minutes=2, now=NOW, subsystems=["EMC"])
    return source


@pytest.mark.parametrize("workers", [1, 2])
def test_split_job_scales_and_searches_both_shares_with_the_number_of_events(
    emc_files: Path,
    make_settings: Any,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    # Any size is worth splitting: the demo's EMC files take the forked-helper path.
    monkeypatch.setattr(parallel, "MIN_SPLIT_BYTES", 0)
    settings: Settings = make_settings(timezone="Europe/Zurich", processing_workers=workers)
    for path in emc_files.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    scan(settings, db)
    assert [o.state for o in Worker(settings, db).run_until_idle()] == ["done"]
    rows = current_rows(db, RUN, "EMC")
    scaled = [row for name, row in rows.items() if _SCALED.search(name) and "GeV" not in name]
    assert len(scaled) > 40
    for row in scaled:
        notes = row.info.get("info", [])
        assert any(note.startswith("Scaled by 1/") for note in notes), (row.name, notes)
        assert not any("unknown" in note for note in notes), (row.name, notes)
    searched = [rows[name] for name in FASTOR_SUMMARIES if name in rows]
    assert searched
    for row in searched:
        assert "hot_channels" in row.info, row.name
    # The TRU grid is drawn by JSROOT from the JSON: TLine objects in fFunctions.
    stored = json.loads(gzip.decompress(rows["EMCTRQA_histFastORL0_SM4"].json_gz or b""))
    lines = stored["fFunctions"]["arr"]
    assert [(f["_typename"], f["fX1"], f["fY1"], f["fX2"], f["fY2"]) for f in lines] == [
        ("TLine", 8.0, 0.0, 8.0, 12.0),
        ("TLine", 16.0, 0.0, 16.0, 12.0),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_summary_histogram_inside_a_directory_reaches_both_shares_of_a_split_job(
    make_settings: Any, db: Database, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # Before the fork only the objects the summary needs are read, found by their paths
    # below the top level: here the number of events sits in a directory.
    monkeypatch.setattr(parallel, "MIN_SPLIT_BYTES", 0)
    settings: Settings = make_settings(timezone="Europe/Zurich", processing_workers=workers)
    edges = np.linspace(0.0, 100.0, 101)
    objects: dict[str, object] = {
        "counters/EMCTRQA_histEvents": (np.array([500.0]), np.array([0.0, 1.0]))
    }
    for number in range(6):
        objects[f"sm{number}/EMCTRQA_histFastORL0Amp_SM{number}"] = (np.full(100, 50.0), edges)
    write_receiver_file(settings.data_dir, "EMC", RUN, "C", NOW, objects, ZURICH)
    scan(settings, db)
    assert [o.state for o in Worker(settings, db).run_until_idle()] == ["done"]
    rows = current_rows(db, RUN, "EMC")
    scaled = [row for name, row in rows.items() if "FastORL0Amp_SM" in name]
    assert len(scaled) == 6
    for row in scaled:
        notes = row.info.get("info", [])
        assert "Scaled by 1/500 events" in notes or any(
            note.startswith("Scaled by 1/500") for note in notes
        ), (row.name, notes)


class _OrderedPlugin(DetectorPlugin):
    """Members in an order unlike the file's; a grid group and a plain one."""

    name: ClassVar[str] = "ordered"

    def groups(self, names: Any, context: ProcessingContext) -> list[GroupSpec]:
        return [
            GroupSpec("Late", "^late", order=("late_c", "late_a")),
            GroupSpec("Grid", "^grid", layout="grid", columns=3, order=("grid_2", "grid_0")),
        ]


@pytest.fixture
def ordered_plugin() -> Iterator[None]:
    register_plugin("EMC", _OrderedPlugin)
    yield
    unregister_plugin("EMC")


@pytest.mark.usefixtures("ordered_plugin")
def test_groups_keep_the_plugins_member_order_and_layout(settings: Settings, db: Database) -> None:
    edges = np.linspace(0.0, 4.0, 5)
    objects = {
        name: (np.arange(4, dtype=np.float64), edges)
        for name in ("grid_0", "grid_1", "grid_2", "late_a", "late_b", "late_c", "zz")
    }
    write_receiver_file(settings.data_dir, "EMC", RUN, "C", NOW, objects, settings.tz)
    scan(settings, db)
    assert [o.state for o in Worker(settings, db).run_until_idle()] == ["done"]
    with db.session() as session:
        from overwatch.storage.models import SubsystemRun  # noqa: PLC0415

        sub = session.query(SubsystemRun).one()
        assert sub.current_result_id is not None
        groups = result_histograms(session, sub.current_result_id)
    shown = [(g.name, g.layout, g.columns, [h.name for h in g.histograms]) for g in groups]
    assert shown == [
        ("Late", "", 0, ["late_c", "late_a", "late_b"]),
        ("Grid", "grid", 3, ["grid_2", "grid_0", "grid_1"]),
        ("Other", "", 0, ["zz"]),
    ]
    with db.session() as session:
        create_user(session, "viewer", "viewer-password", "viewer")
    app: Flask = create_app(settings, {"TESTING": True})
    try:
        client = app.test_client()
        assert log_in(client, "viewer", "viewer-password").status_code == 302
        data = client.get(f"/api/v1/runs/{RUN}/EMC").get_json()
    finally:
        app.extensions["overwatch"].db.dispose()
    assert [(g["name"], g["layout"], g["columns"]) for g in data["groups"]] == [
        ("Late", "", 0),
        ("Grid", "grid", 3),
        ("Other", "", 0),
    ]
    assert [h["name"] for h in data["groups"][1]["histograms"]] == ["grid_2", "grid_0", "grid_1"]


def test_the_run_page_titles_cards_with_the_display_name_and_hides_display_hints(
    emc_files: Path, make_settings: Any, db: Database
) -> None:
    settings: Settings = make_settings(timezone="Europe/Zurich")
    for path in emc_files.iterdir():
        shutil.copy2(path, settings.data_dir / path.name)
    scan(settings, db)
    assert [o.state for o in Worker(settings, db).run_until_idle()] == ["done"]
    with db.session() as session:
        create_user(session, "viewer", "viewer-password", "viewer")
    app: Flask = create_app(settings, {"TESTING": True})
    try:
        client = app.test_client()
        assert log_in(client, "viewer", "viewer-password").status_code == 302
        page = client.get(f"/runs/{RUN}/EMC", query_string={"q": "FastORL0_SM4"}).text
    finally:
        app.extensions["overwatch"].db.dispose()
    card = page[page.index('data-name="EMCTRQA_histFastORL0_SM4"') :]
    card = card[: card.index("</article>")]
    assert ">FastORL0_SM4</a>" in card  # the display name, not the stored key
    assert 'class="key">display:' not in card
    assert 'class="key">outliers:' in card  # other keys are still listed
