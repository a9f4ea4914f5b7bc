"""Trend extraction through the real pipeline, and backfill equal to it.

Receiver files are real ROOT files (uproot); they are scanned and processed by
the real Worker into a real database (SQLite and PostgreSQL); the values are
compared with numbers computed here from the arrays that were written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.model import Histogram
from overwatch.processing.scan import scan
from overwatch.processing.trending import backfill
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import TrendValue
from overwatch.storage.trends import trend_series
from tests import rootfiles

SYS = "TRN"
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 20.0, 21)
CENTRES = (EDGES[:-1] + EDGES[1:]) / 2
CHECKS = {
    SYS: [{"name": "peak-mean", "kind": "mean", "histograms": "h_peak", "warning_max": 100,
           "error_max": 200}],
}  # fmt: skip
TRENDS = {
    SYS: [
        {"name": "peak_mean", "kind": "mean", "histogram": "h_peak"},
        {"name": "peak_rms", "kind": "rms", "histogram": "h_peak"},
        {"name": "peak_max", "kind": "maximum", "histogram": "h_peak"},
        {"name": "peak_entries", "kind": "entries", "histogram": "h_peak"},
        {"name": "map_y_mean", "kind": "mean", "histogram": "maps/h2", "axis": "y"},
        {"name": "check_figure", "kind": "check", "histogram": "h_peak", "check": "peak-mean"},
        {"name": "twice_max", "kind": "plugin", "histogram": "h_peak", "function": "twice_max",
         "warning_max": 50, "critical_max": 80},
        {"name": "unknown_function", "kind": "plugin", "histogram": "h_peak", "function": "nope"},
        {"name": "empty_mean", "kind": "mean", "histogram": "h_empty"},
        {"name": "missing", "kind": "mean", "histogram": "not_in_the_file"},
    ]
}  # fmt: skip


class _TrendPlugin(DetectorPlugin):
    name = "test-trends"

    def trend(self, function: str, hist: Histogram, context: ProcessingContext) -> float | None:
        if function == "twice_max":
            return 2.0 * float(hist.values().max())
        return None


@pytest.fixture(autouse=True)
def plugin() -> Iterator[None]:
    register_plugin(SYS, _TrendPlugin)
    yield
    unregister_plugin(SYS)


def _peak(run: int, minute: int) -> np.ndarray[Any, Any]:
    # Not whole numbers, stored as TH1F: the float32 contents must not change a value.
    rng = np.random.default_rng(run * 100 + minute)
    return rng.poisson(300 * np.exp(-0.5 * ((CENTRES - 8.0 - minute) / 3.0) ** 2)) * 0.1


def _map() -> np.ndarray[Any, Any]:
    plane = np.zeros((4, 5))
    plane[:, 1] = 10.0
    plane[:, 3] = 30.0
    return plane


def _write(settings: Settings, run: int, minute: int) -> np.ndarray[Any, Any]:
    peak = _peak(run, minute)
    write_receiver_file(
        settings.data_dir, SYS, run, "C", START + timedelta(minutes=minute),
        {
            "h_peak": rootfiles.th1("h_peak", peak, edges=list(EDGES), kind="F"),
            "h_empty": rootfiles.th1("h_empty", np.zeros(20), edges=list(EDGES)),
            "maps/h2": rootfiles.th2("h2", _map()),
        },
        settings.tz,
    )  # fmt: skip
    return peak


def _process(settings: Settings, db: Database) -> None:
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert outcomes
    assert all(o.state == "done" for o in outcomes), [o.error for o in outcomes]


def _rows(db: Database) -> set[tuple[str, str, int, datetime, float]]:
    with db.session() as session:
        return {
            (r.subsystem, r.name, r.run_number, r.time, r.value)
            for r in session.scalars(select(TrendValue))
        }


def test_every_kind_is_extracted_from_real_files_and_stored_with_run_and_time(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(checks=CHECKS, trending=TRENDS)
    peak = _write(settings, 200, 0)
    _process(settings, db)
    values = {name: value for _, name, _, _, value in _rows(db)}
    mean = float(np.dot(peak, CENTRES) / peak.sum())
    rms = float(np.sqrt(np.dot(peak, (CENTRES - mean) ** 2) / peak.sum()))
    # TH1F contents are trended as stored and drawn: the shortest decimal of each float32.
    largest = float(str(peak.astype(np.float32).max()))
    assert values["peak_mean"] == pytest.approx(mean, rel=1e-9)
    assert values["peak_rms"] == pytest.approx(rms, rel=1e-9)
    assert values["peak_max"] == largest
    assert values["peak_entries"] == pytest.approx(peak.sum(), rel=1e-9)
    # The y projection of the map: 4 x 10 at y = 1.5, 4 x 30 at y = 3.5.
    assert values["map_y_mean"] == pytest.approx((40 * 1.5 + 120 * 3.5) / 160)
    # The figure the mean check judged is the mean itself.
    assert values["check_figure"] == values["peak_mean"]
    assert values["twice_max"] == 2 * largest
    # No value, no point: an unknown plugin function, an empty histogram, a missing one.
    assert set(values) == {
        "peak_mean", "peak_rms", "peak_max", "peak_entries", "map_y_mean", "check_figure",
        "twice_max",
    }  # fmt: skip
    times = {(run, time) for _, _, run, time, _ in _rows(db)}
    assert times == {(200, START)}


def test_by_time_every_processing_by_run_the_last_value_of_each_run(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(trending=TRENDS)
    for run, minute in ((200, 0), (201, 1)):
        _write(settings, run, minute)
        _process(settings, db)
    later = _write(settings, 201, 2)
    _process(settings, db)
    with db.session() as session:
        by_time = trend_series(session, SYS, "peak_max")
        by_run = trend_series(session, SYS, "peak_max", by="run")
        since = trend_series(session, SYS, "peak_max", since=START + timedelta(minutes=1))
        runs = trend_series(session, SYS, "peak_max", by="run", since=201, until=201)
    assert [(p.run_number, p.time) for p in by_time] == [
        (200, START), (201, START + timedelta(minutes=1)), (201, START + timedelta(minutes=2))
    ]  # fmt: skip
    assert [p.run_number for p in by_run] == [200, 201]
    assert by_run[-1].value == float(str(later.astype(np.float32).max()))
    assert [p.time for p in since] == [START + timedelta(minutes=m) for m in (1, 2)]
    assert [(p.run_number, p.value) for p in runs] == [(201, by_run[-1].value)]


def test_backfill_equals_live_extraction_exactly_and_is_idempotent(
    make_settings: Any, db: Database
) -> None:
    from overwatch.demo import generate_demo_data  # noqa: PLC0415

    checks = {"TPC": [{"name": "dca-mean", "kind": "mean",
                       "histograms": "TPCQA/h_tpc_track_all_recvertex_3", "warning_max": 1,
                       "error_max": 2}]}  # fmt: skip
    trending = {"TPC": ["defaults", {"name": "dca_check", "kind": "check", "check": "dca-mean",
                                     "histogram": "TPCQA/h_tpc_track_all_recvertex_3"}]}  # fmt: skip
    settings = make_settings(checks=checks, trending=trending)
    generate_demo_data(settings.data_dir, settings.tz, runs=2, minutes=3)
    _process(settings, db)
    live = _rows(db)
    kinds = {
        spec.kind for s in ("EMC", "HLT", "TPC") for spec in settings.trending.for_subsystem(s)
    }
    assert kinds == {"mean", "rms", "entries", "plugin", "check"}
    # Every trend, built-in or not, of every subsystem has a value in both runs.
    expected = sum(len(settings.trending.for_subsystem(s)) for s in ("EMC", "HLT", "TPC"))
    assert len(live) == 2 * expected
    with db.session() as session:
        session.execute(delete(TrendValue))
    report = backfill(settings, db)
    assert report.results == 6
    assert _rows(db) == live
    backfill(settings, db)
    assert _rows(db) == live


def test_backfill_fills_a_new_definition_for_one_subsystem_only(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(trending={SYS: TRENDS[SYS][:1]})
    for run in (200, 201, 202):
        _write(settings, run, 0)
    _process(settings, db)
    assert {name for _, name, _, _, _ in _rows(db)} == {"peak_mean"}
    wider = make_settings(checks=CHECKS, trending=TRENDS)
    calls: list[tuple[int, int]] = []
    report = backfill(wider, db, [SYS], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    with db.session() as session:
        counts = dict(
            session.execute(select(TrendValue.name, func.count()).group_by(TrendValue.name)).all()
        )
    # The check's figure was not stored at processing (no check then): no value for it.
    names = ("peak_mean", "peak_rms", "peak_max", "peak_entries", "map_y_mean", "twice_max")
    assert counts == dict.fromkeys(names, 3)
    assert report.values == 3 * 6


def test_backfill_command_reports_and_refuses_a_subsystem_without_trends(
    make_settings: Any, db: Database, tmp_path: Any
) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from overwatch.cli import cli  # noqa: PLC0415

    settings = make_settings(trending=TRENDS)
    for run in (200, 201):
        _write(settings, run, 0)
    _process(settings, db)
    with db.session() as session:
        session.execute(delete(TrendValue))
    config = tmp_path / "trending.yaml"
    config.write_text(f"trending: {TRENDS!r}\n".replace("'", '"'), encoding="utf-8")
    options = ["--config", str(config), "--data-dir", str(settings.data_dir),
               "--database-url", settings.effective_database_url]  # fmt: skip
    runner = CliRunner()
    done = runner.invoke(cli, [*options, "trending", "backfill", "--subsystem", SYS])
    assert done.exit_code == 0, done.output
    # Six trends per run: no check was configured, so no check figure was stored.
    assert done.output.strip() == "backfill: 12 trend value(s) from 2 result(s)"
    assert len(_rows(db)) == 12
    refused = runner.invoke(cli, [*options, "trending", "backfill", "--subsystem", "XYZ"])
    assert refused.exit_code == 2
    assert "no trends are defined for XYZ" in refused.output
    listed = runner.invoke(cli, [*options, "trending", "list", SYS])
    assert "peak_mean" in listed.output
    assert "2 value(s)" in listed.output
