"""Objects that are not histograms (graphs, stacks) through scan, Worker and the database.

Receiver files are written with uproot (a ``TGraph`` through the demo's writer);
what the run page would draw is read back from the stored JSON.  A drawable
object has no bins: in reset mode the newest file's object is the run's, a time
slice keeps the newest in its range, and checks never judge it (quality null).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.demo.graphs import to_tgraph
from overwatch.detectors import CheckOutcome
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.drawable import DrawableObject
from overwatch.histograms.drawable import stack
from overwatch.histograms.model import Histogram
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.jobs import PRIORITY_USER
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import SubsystemRun

RUN = 294833
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 10.0, 11)
#: A check on every object of every subsystem: it would fail an empty one.
CHECKS = {"*": [{"kind": "entries", "histograms": "*", "error_min": 1000}]}


class StackingPlugin(DetectorPlugin):
    """Stacks the two trigger histograms, drawn side by side ("nostack"); flags everything it is shown."""

    name = "stacking-test"

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram | DrawableObject]:
        by_name = {h.name: h for h in histograms}
        both = stack(
            "EMCTRQA_both", "A and B", [by_name["EMCTRQA_histA"], by_name["EMCTRQA_histB"]]
        )
        return [replace(both, draw_options="nostack")]

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        return CheckOutcome("bad", f"{hist.name} judged by the plugin")


@pytest.fixture
def stacking_plugin() -> Iterator[None]:
    register_plugin("EMC", StackingPlugin)
    yield
    unregister_plugin("EMC")


@pytest.fixture
def generic_plugin() -> Iterator[None]:
    register_plugin("EMC", DetectorPlugin)
    yield
    unregister_plugin("EMC")


def _drop(settings: Settings, minute: int, value: float) -> Path:
    """A receiver file: two histograms filled with ``value`` and a graph whose y are ``value``."""
    counts = np.full(10, value, dtype=np.float64)
    objects: dict[str, Any] = {
        "EMCTRQA_histA": (counts, EDGES),
        "EMCTRQA_histB": (counts * 2, EDGES),
        "EMCTRQA_rate": to_tgraph("rate", [1.0, 2.0, 3.0], [value, value + 1, value + 2]),
    }
    return write_receiver_file(
        settings.data_dir, "EMC", RUN, "C", START.replace(minute=minute), objects, settings.tz
    )


def _payload(record: HistogramRecord) -> dict[str, Any]:
    assert record.json_gz is not None
    parsed: dict[str, Any] = json.loads(gzip.decompress(record.json_gz))
    return parsed


def _rows(db: Database, result_id: int | None = None) -> dict[str, HistogramRecord]:
    with db.session() as session:
        if result_id is None:
            sub = session.scalars(select(SubsystemRun).where(SubsystemRun.name == "EMC")).one()
            result_id = sub.current_result_id
        rows = session.scalars(
            select(HistogramRecord).where(HistogramRecord.result_id == result_id)
        )
        return {row.name: row for row in rows}


def _checks_of(db: Database, record: HistogramRecord) -> list[CheckResult]:
    with db.session() as session:
        return list(
            session.scalars(select(CheckResult).where(CheckResult.histogram_id == record.id))
        )


@pytest.mark.usefixtures("generic_plugin")
def test_reset_mode_keeps_the_newest_files_graph_and_sums_the_histograms(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(subsystem_modes={"EMC": "reset"}, checks=CHECKS)
    _drop(settings, 1, 4.0)
    _drop(settings, 2, 7.0)
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    rows = _rows(db)
    assert _payload(rows["EMCTRQA_histA"])["fArray"][1:-1] == [11.0] * 10  # summed
    graph = rows["EMCTRQA_rate"]
    assert (graph.class_name, graph.draw_options, graph.entries) == ("TGraph", "ALP", 3.0)
    payload = _payload(graph)
    assert payload["_typename"] == "TGraph"
    assert payload["fY"] == [7.0, 8.0, 9.0]  # the newest file's, not a sum
    # The entries check judged the histograms (too few entries) but not the graph.
    assert rows["EMCTRQA_histA"].quality == "bad"
    assert graph.quality is None
    assert _checks_of(db, graph) == []


@pytest.mark.usefixtures("generic_plugin")
def test_time_slice_keeps_the_newest_graph_in_the_range_unsubtracted(
    settings: Settings, db: Database
) -> None:
    for minute, value in ((0, 1.0), (5, 3.0), (10, 6.0)):
        _drop(settings, minute, value)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        job = enqueue_job(
            session,
            kind="time_slice",
            dedupe_key="slice-objects",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params={"min_minutes": 2, "max_minutes": 7, "options": {}},
            priority=PRIORITY_USER,
        )
        job_id = job.id
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    with db.session() as session:
        done = session.get(Job, job_id)
        assert done is not None
        result_id = done.result_id
    rows = _rows(db, result_id)
    # Histograms: minute 5 minus minute 0; the graph: minute 5's as it is.
    assert _payload(rows["EMCTRQA_histA"])["fArray"][1:-1] == [2.0] * 10
    assert _payload(rows["EMCTRQA_rate"])["fY"] == [3.0, 4.0, 5.0]
    assert rows["EMCTRQA_rate"].quality is None


@pytest.mark.usefixtures("stacking_plugin")
def test_a_plugins_stack_is_stored_with_its_class_and_draw_option_and_never_checked(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(checks=CHECKS)
    _drop(settings, 1, 5.0)
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    rows = _rows(db)
    both = rows["EMCTRQA_both"]
    assert (both.class_name, both.draw_options, both.title) == ("THStack", "nostack", "A and B")
    assert both.entries == 150.0  # the entries of its two histograms (50 and 100)
    payload = _payload(both)
    assert payload["_typename"] == "THStack"
    members = payload["fHists"]["arr"]
    assert [m["fName"] for m in members] == ["EMCTRQA_histA", "EMCTRQA_histB"]
    assert [m["fArray"][1:-1] for m in members] == [[5.0] * 10, [10.0] * 10]
    # The plugin's check and the declarative one judged the histograms, not the stack
    # nor the file's graph.
    assert rows["EMCTRQA_histA"].quality == "bad"
    assert (both.quality, rows["EMCTRQA_rate"].quality) == (None, None)
    assert _checks_of(db, both) == []
    assert _checks_of(db, rows["EMCTRQA_rate"]) == []
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        assert sub.quality == "bad"  # from the histograms only
