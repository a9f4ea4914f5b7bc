"""Declarative checks and references through the real pipeline: scan, Worker, database.

Receiver files are written with uproot; the checks come from the ``checks``
setting; references are set with ``overwatch reference`` and the API.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.detectors import CheckOutcome
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import GroupSpec
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.model import Histogram
from overwatch.processing import parallel
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.users import create_token
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.clisupport import run_cli

SYS = "TST"
REFERENCE_RUN = 100
RUN = 200
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 20.0, 21)
CHECKS = {
    "*": [{"kind": "entries", "histograms": "*", "error_min": 1}],
    SYS: [
        {
            "kind": "mean",
            "histograms": "h_*",
            "min_entries": 10,
            "warning_max": 12,
            "error_max": 15,
        },
        {"kind": "pull", "histograms": ["h_*", "maps/h2"]},
    ],
}


class _TestPlugin(DetectorPlugin):
    """Groups everything under "Checked" and flags ``h_flagged`` itself."""

    name = "test-checks"

    def groups(self, names: list[str], context: ProcessingContext) -> list[GroupSpec]:
        return [GroupSpec("Maps", r"^maps/"), GroupSpec("Checked", r"^h_")]

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        if hist.name == "h_flagged":
            return CheckOutcome("medium", "the plugin does not like this one")
        return None


@pytest.fixture(autouse=True)
def plugin() -> Iterator[None]:
    register_plugin(SYS, _TestPlugin)
    yield
    unregister_plugin(SYS)


def _objects(run: int, *, shifted: bool) -> dict[str, Any]:
    rng = np.random.default_rng(run)
    centres = (EDGES[:-1] + EDGES[1:]) / 2
    shape = 5000 * np.exp(-0.5 * ((centres - 8.0) / 3.0) ** 2)
    moved = 5000 * np.exp(-0.5 * ((centres - (11.0 if shifted else 8.0)) / 3.0) ** 2)
    x2 = np.linspace(0.0, 4.0, 5)
    plane = np.full((4, 4), 400.0)
    if shifted:
        plane[1, 2] = 900.0
    return {
        "h_good": (rng.poisson(shape).astype(np.float64), EDGES),
        "h_shift": (rng.poisson(moved).astype(np.float64), EDGES),
        "h_flagged": (rng.poisson(shape).astype(np.float64), EDGES),
        "h_empty": (np.zeros(20), EDGES),
        "maps/h2": (rng.poisson(plane).astype(np.float64), x2, x2),
    }


def _write(settings: Settings, run: int, *, shifted: bool, minute: int = 0) -> None:
    write_receiver_file(
        settings.data_dir,
        SYS,
        run,
        "C",
        START + timedelta(minutes=minute),
        _objects(run, shifted=shifted),
        settings.tz,
    )


def _process(settings: Settings, db: Database) -> None:
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert outcomes
    assert all(o.state == "done" for o in outcomes), [o.error for o in outcomes]


def _stored(db: Database, run: int) -> tuple[SubsystemRun, list[HistogramRecord], dict[str, Any]]:
    """The subsystem row, its histograms in stored order, and each one's checks and group."""
    with db.session() as session:
        sub = session.scalars(
            select(SubsystemRun)
            .join(Run, Run.id == SubsystemRun.run_id)
            .where(Run.run_number == run, SubsystemRun.name == SYS)
        ).one()
        rows = session.scalars(
            select(HistogramRecord)
            .where(HistogramRecord.result_id == sub.current_result_id)
            .order_by(HistogramRecord.group_id, HistogramRecord.position)
        ).all()
        groups = {g.id: g.name for g in session.scalars(select(HistogramGroup))}
        checks: dict[str, Any] = {}
        for row in rows:
            found = session.scalars(
                select(CheckResult)
                .where(CheckResult.histogram_id == row.id)
                .order_by(CheckResult.id)
            ).all()
            checks[row.name] = {
                "group": groups.get(row.group_id or 0),
                "checks": {c.name: (c.quality, c.message) for c in found},
            }
        session.expunge_all()
    return sub, list(rows), checks


def _settings(make_settings: Any, workers: int = 1) -> Settings:
    built: Settings = make_settings(checks=CHECKS, processing_workers=workers)
    return built


def test_checks_are_stored_with_reasons_and_the_worst_is_the_quality(
    make_settings: Any, db: Database
) -> None:
    settings = _settings(make_settings)
    _write(settings, REFERENCE_RUN, shifted=False)
    _process(settings, db)
    sub, rows, stored = _stored(db, REFERENCE_RUN)
    good = stored["h_good"]["checks"]
    assert list(good) == ["entries", "mean", "pull"]
    assert good["entries"][0] == "good"
    assert good["mean"][0] == "good"
    assert good["mean"][1].startswith("mean 8")
    # No reference set: the pull test cannot judge, and says why.
    assert good["pull"] == (
        None,
        "no reference run set for TST: nothing to compare with "
        "(an expert sets one on a run page or with 'overwatch reference set')",
    )
    empty = stored["h_empty"]["checks"]
    assert empty["entries"][0] == "bad"
    assert empty["mean"] == (None, "empty histogram (0 entries): nothing to judge yet")
    # The plugin's own check is stored beside the declarative ones, as "plugin".
    flagged = stored["h_flagged"]["checks"]
    assert flagged["plugin"] == ("medium", "the plugin does not like this one")
    by_name = {row.name: row for row in rows}
    assert by_name["h_good"].quality == "good"
    assert by_name["h_flagged"].quality == "medium"
    assert by_name["h_empty"].quality == "bad"
    assert sub.quality == "bad"
    assert not any(name.endswith("_pulls") for name in by_name)


def _set_reference_by_cli(settings: Settings, *extra: str) -> None:
    result = run_cli(settings, "reference", "set", SYS, str(REFERENCE_RUN), *extra)
    assert result.exit_code == 0, result.output
    assert f"run {REFERENCE_RUN} is the reference" in result.output


@pytest.mark.usefixtures("close_cli_databases")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_reference_set_on_the_command_line_is_compared_with_and_pull_maps_are_stored(
    make_settings: Any, db: Database, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # Any size is worth splitting: with 2 workers the job takes the forked-helper path.
    monkeypatch.setattr(parallel, "MIN_SPLIT_BYTES", 0)
    settings = _settings(make_settings, workers)
    _write(settings, REFERENCE_RUN, shifted=False)
    _process(settings, db)
    _set_reference_by_cli(settings)
    listed = run_cli(settings, "reference", "list")
    assert f"{SYS}" in listed.output
    assert "every run" in listed.output
    _write(settings, RUN, shifted=True)
    _process(settings, db)
    sub, rows, stored = _stored(db, RUN)
    assert stored["h_good"]["checks"]["pull"][0] == "good"
    quality, reason = stored["h_shift"]["checks"]["pull"]
    assert quality == "bad"
    assert "pull" in reason
    assert stored["maps/h2"]["checks"]["pull"][0] in {"medium", "bad"}
    # h_empty and h_flagged are the helper process's share when the job is split.
    assert stored["h_flagged"]["checks"]["pull"][0] == "good"
    assert stored["h_empty"]["checks"]["pull"] == (
        None,
        "empty histogram (0 entries): nothing to judge yet",
    )
    names = [row.name for row in rows]
    # Each pull map of a medium or bad pull test is stored in its histogram's group,
    # right after it; a good one keeps none (pull_map: problems, the default).
    for name in ("h_shift", "maps/h2"):
        assert names[names.index(name) + 1] == f"{name}_pulls"
        assert stored[f"{name}_pulls"]["group"] == stored[name]["group"]
        assert stored[f"{name}_pulls"]["checks"] == {}
    assert "h_good_pulls" not in names
    assert "h_flagged_pulls" not in names
    assert stored["maps/h2"]["group"] == "Maps"
    by_name = {row.name: row for row in rows}
    pulls = by_name["maps/h2_pulls"]
    assert pulls.class_name == "TH2F"
    assert pulls.info == {"check": "pull", "companion_of": "maps/h2"}
    payload = json.loads(gzip.decompress(pulls.json_gz or b""))
    cells = np.array(payload["fArray"], dtype=float).reshape((6, 6), order="F")
    # The planted excess in bin (2, 3) is the largest pull of the map.
    assert np.unravel_index(np.argmax(np.abs(cells)), cells.shape) == (2, 3)
    assert cells[2, 3] > 5
    assert by_name["h_shift"].quality == "bad"
    assert sub.quality == "bad"


@pytest.mark.usefixtures("close_cli_databases")
def test_a_run_is_never_its_own_reference(make_settings: Any, db: Database) -> None:
    settings = _settings(make_settings)
    _write(settings, REFERENCE_RUN, shifted=False)
    _process(settings, db)
    _set_reference_by_cli(settings)
    # A new file of the reference run itself: its checks have no reference.
    _write(settings, REFERENCE_RUN, shifted=False, minute=5)
    _process(settings, db)
    _, _, stored = _stored(db, REFERENCE_RUN)
    assert stored["h_good"]["checks"]["pull"][0] is None


@pytest.mark.usefixtures("close_cli_databases")
def test_reference_commands_refuse_what_cannot_be_and_clear(
    make_settings: Any, db: Database
) -> None:
    settings = _settings(make_settings)
    unknown = run_cli(settings, "reference", "set", SYS, "999")
    assert unknown.exit_code != 0
    assert "run 999 has no TST data" in unknown.output
    _write(settings, REFERENCE_RUN, shifted=False)
    _process(settings, db)
    backwards = run_cli(settings, "reference", "set", SYS, str(REFERENCE_RUN), "--runs", "300-200")
    assert backwards.exit_code != 0
    assert "is empty" in backwards.output
    _set_reference_by_cli(settings, "--runs", "150-250")
    assert "runs 150-250" in run_cli(settings, "reference", "list", SYS).output
    assert run_cli(settings, "reference", "clear", SYS).exit_code != 0  # no default one
    cleared = run_cli(settings, "reference", "clear", SYS, "--runs", "150-250")
    assert cleared.exit_code == 0, cleared.output
    assert run_cli(settings, "reference", "list").output.strip() == "no reference set"


def _api(settings: Settings, db: Database) -> tuple[Flask, dict[str, dict[str, str]]]:
    with db.session() as session:
        create_user(session, "ex", "expert-password-1", "expert")
        create_user(session, "vi", "viewer-password-1", "viewer")
        tokens = {
            role: {"Authorization": f"Bearer {create_token(session, name)}"}
            for role, name in (("expert", "ex"), ("viewer", "vi"))
        }
    return create_app(settings, {"TESTING": True}), tokens


def test_a_reference_set_through_the_api_is_used_for_its_run_range(
    make_settings: Any, db: Database
) -> None:
    settings = _settings(make_settings)
    _write(settings, REFERENCE_RUN, shifted=False)
    _process(settings, db)
    app, tokens = _api(settings, db)
    try:
        client = app.test_client()
        url = f"/api/v1/references/{SYS}"
        body = {"run_number": REFERENCE_RUN, "runs": [RUN, RUN + 10]}
        assert client.put(url, json=body, headers=tokens["viewer"]).status_code == 403
        bad = client.put(url, json={"run_number": "x"}, headers=tokens["expert"])
        assert bad.status_code == 400
        assert bad.json["error"]["fields"] == {"run_number": "must be a run number (an integer)"}
        missing = client.put(url, json={"run_number": 5}, headers=tokens["expert"])
        assert missing.json["error"]["fields"] == {"run_number": "run 5 has no TST data"}
        response = client.put(url, json=body, headers=tokens["expert"])
        assert response.status_code == 200, response.json
        assert response.json["runs"] == [RUN, RUN + 10]
        assert response.json["set_by"] == "ex"
        listed = client.get("/api/v1/references", headers=tokens["viewer"]).json["references"]
        assert [(r["subsystem"], r["run_number"], r["runs"]) for r in listed] == [
            (SYS, REFERENCE_RUN, [RUN, RUN + 10])
        ]
    finally:
        app.extensions["overwatch"].db.dispose()
    _write(settings, RUN, shifted=True)
    _write(settings, RUN + 11, shifted=True)  # outside the range: no reference
    _process(settings, db)
    assert _stored(db, RUN)[2]["h_shift"]["checks"]["pull"][0] == "bad"
    assert _stored(db, RUN + 11)[2]["h_shift"]["checks"]["pull"][0] is None
