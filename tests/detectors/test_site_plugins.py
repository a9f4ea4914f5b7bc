"""Site plugins: the documented contract, the doc's example through real processing,
plugins named in the configuration, and a plugin that raises."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from overwatch.config import SETTINGS
from overwatch.config import ConfigError
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.api import ProcessingOption
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.webapp.conftest import log_in

DOC = Path(__file__).resolve().parents[2] / "docs" / "detectors.md"
RUN = 300001
EDGES = np.linspace(0.0, 16.0, 17)


def example_source() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- example: muo.py -->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/detectors.md lost its example plugin"
    return found.group(1)


def test_every_hook_attribute_field_and_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    public = {n for n in vars(DetectorPlugin) if not n.startswith("_")}
    assert {"derived", "prepare", "check", "groups", "summarize"} <= public
    documented: dict[str, set[str]] = {
        "DetectorPlugin": public,
        "GroupSpec": {f.name for f in dataclasses.fields(GroupSpec)},
        "ProcessingContext": {f.name for f in dataclasses.fields(ProcessingContext)},
        "ProcessingOption": {f.name for f in dataclasses.fields(ProcessingOption)},
        "CheckOutcome": {f.name for f in dataclasses.fields(CheckOutcome)},
        "settings": {s.name for s in SETTINGS if s.name.startswith("plugin")},
    }
    missing = {
        owner: sorted(n for n in names if f"`{n}`" not in text)
        for owner, names in documented.items()
    }
    assert missing == {owner: [] for owner in documented}


def _drop(settings: Settings, subsystem: str, objects: dict[str, Any], minute: int = 0) -> None:
    when = datetime(2024, 5, 1, 10, minute, 0, tzinfo=UTC)
    write_receiver_file(settings.data_dir, subsystem, RUN, "C", when, objects, settings.tz)


def _muo_objects() -> dict[str, Any]:
    live = np.full(16, 20.0)
    dead = live.copy()
    dead[3] = 0.0
    many_dead = live.copy()
    many_dead[[0, 5, 9]] = 0.0
    return {
        "MUO_events": (np.array([500.0]), np.array([0.0, 1.0])),
        "MUO_hits_chamber0": (live, EDGES),
        "MUO_hits_chamber1": (dead, EDGES),
        "MUO_hits_chamber2": (np.zeros(16), EDGES),
        "MUO_hits_chamber3": (many_dead, EDGES),
    }


def test_the_documented_example_runs_through_the_pipeline(
    make_settings: Any, db: Database, tmp_path: Path
) -> None:
    plugin_file = tmp_path / "plugins" / "muo.py"
    plugin_file.parent.mkdir()
    plugin_file.write_text(example_source(), encoding="utf-8")
    settings = make_settings(plugins={"MUO": f"{plugin_file}:MUOPlugin"})
    _drop(settings, "MUO", _muo_objects())
    scan(settings, db)
    summary = process_pending(settings, db, workers=1)
    assert (summary.done, summary.failed) == (1, 0), summary.failures
    with db.session() as session:
        rows = {r.name: r for r in session.scalars(select(HistogramRecord))}
        groups = {g.id: g.name for g in session.scalars(select(HistogramGroup))}
        attempt = session.scalars(select(JobAttempt)).one()
    assert rows["MUO_hits_chamber0"].quality == "good"
    assert rows["MUO_hits_chamber1"].quality == "medium"
    assert rows["MUO_hits_chamber1"].info["dead_strips"] == [3]
    assert rows["MUO_hits_chamber3"].quality == "bad"  # 3 of 16 above the default 0.1
    assert rows["MUO_hits_chamber1"].info["display"] == {"name": "Chamber 1"}
    assert rows["MUO_hits_chamber2"].quality is None  # no hits: not judged
    assert rows["MUO_hits_all"].quality is None
    assert rows["MUO_hits_chamber0"].draw_options == "hist"
    placed = {name: groups[r.group_id] for name, r in rows.items() if r.group_id}
    assert placed["MUO_hits_all"] == "All chambers"
    assert placed["MUO_hits_chamber1"] == "Chambers"
    assert placed["MUO_events"] == "Events"
    assert attempt.plugin == "muo"
    assert re.fullmatch(r"1\+s[0-9a-f]{8}\+c-", attempt.plugin_version)


RAISING = """
from overwatch.detectors.api import DetectorPlugin


class Broken(DetectorPlugin):
    name = "broken"

    def check(self, hist, context):
        raise RuntimeError("threshold table missing")
"""


def test_a_plugin_that_raises_fails_its_job_on_the_status_page_and_others_go_on(
    make_settings: Any, db: Database, tmp_path: Path
) -> None:
    plugin_file = tmp_path / "broken.py"
    plugin_file.write_text(RAISING, encoding="utf-8")
    settings = make_settings(plugins={"MUO": f"{plugin_file}:Broken"}, job_max_attempts=1)
    _drop(settings, "MUO", _muo_objects())
    _drop(settings, "ZDC", {"ZDC_energy": (np.ones(16), EDGES)})
    scan(settings, db)
    summary = process_pending(settings, db, workers=1)
    assert (summary.done, summary.failed) == (1, 1)
    with db.session() as session:
        jobs = {j.subsystem: j for j in session.scalars(select(Job))}
        create_user(session, "viewer", "viewer-password", "viewer")
    assert jobs["ZDC"].state == "done"
    assert jobs["MUO"].state == "failed"
    assert "Traceback" in (jobs["MUO"].error or "")
    app = create_app(settings, {"TESTING": True})
    try:
        client = app.test_client()
        log_in(client, "viewer", "viewer-password")
        page = client.get("/status").text
    finally:
        app.extensions["overwatch"].db.dispose()
    assert "RuntimeError: threshold table missing" in page
    assert "Traceback" in page


def test_a_plugin_that_cannot_be_loaded_stops_processing_naming_the_key(
    make_settings: Any, db: Database, tmp_path: Path
) -> None:
    settings = make_settings(plugins={"MUO": f"{tmp_path / 'absent.py'}:MUOPlugin"})
    with pytest.raises(ConfigError, match=r"'plugins\.MUO'.*absent\.py.*does not exist"):
        process_pending(settings, db, workers=1)
    wrong = make_settings(plugins={"MUO": "overwatch.detectors.api:GroupSpec"})
    with pytest.raises(ConfigError, match=r"'plugins\.MUO'.*not a DetectorPlugin subclass"):
        process_pending(wrong, db, workers=1)


def test_the_plugins_setting_is_validated_and_file_paths_follow_the_config_file(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("plugins:\n  MUO: plugins/muo.py:MUOPlugin\n  ZDC: site.zdc:ZDC\n")
    settings = load_settings(config, environ={})
    assert settings.plugins == {
        "MUO": f"{tmp_path / 'plugins' / 'muo.py'}:MUOPlugin",
        "ZDC": "site.zdc:ZDC",
    }
    config.write_text("plugins:\n  MUO: just-a-name\n")
    with pytest.raises(ConfigError, match=r"setting 'plugins': plugins\.MUO: expected"):
        load_settings(config, environ={})
    env = {"OVERWATCH_PLUGINS": "MUO=site.muo:MUOPlugin"}
    assert load_settings(None, environ=env, use_default_file=False).plugins == {
        "MUO": "site.muo:MUOPlugin"
    }
