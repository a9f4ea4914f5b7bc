"""Jobs end to end: files in the data dir -> worker -> results, provenance and failures."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.detectors import CheckOutcome
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import GroupSpec
from overwatch.detectors import ProcessingContext
from overwatch.detectors import ProcessingOption
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.model import Histogram
from overwatch.processing import worker as worker_module
from overwatch.processing.reader import read_file
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.jobs import PRIORITY_USER
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import reclaim_expired
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import SubsystemRun
from tests import rootfiles

RUN = 294832
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
EDGES = np.linspace(0.0, 10.0, 11)


@pytest.fixture(autouse=True)
def generic_emc_plugin() -> Iterator[None]:
    """These tests use EMC as an example subsystem with the generic plugin's groups; tests
    that need another plugin register their own over it."""
    register_plugin("EMC", DetectorPlugin)
    yield
    unregister_plugin("EMC")


def _drop(
    settings: Settings,
    minute: int,
    counts: Sequence[float],
    subsystem: str = "EMC",
    **extra: object,
) -> Path:
    objects: dict[str, object] = {
        "EMCTRQA_histA": (np.asarray(counts, dtype=np.float64), EDGES),
        "EMCTRQA_histB": (np.asarray(counts, dtype=np.float64) * 2, EDGES),
        "Cells/histC": (np.ones(10), EDGES),
        **extra,
    }
    return write_receiver_file(
        settings.data_dir, subsystem, RUN, "C", START.replace(minute=minute), objects, settings.tz
    )


def _payload(record: HistogramRecord) -> dict[str, object]:
    assert record.json_gz is not None
    data = gzip.decompress(record.json_gz)
    assert len(data) == record.json_size
    parsed: dict[str, object] = json.loads(data)
    return parsed


def _current(db: Database, subsystem: str = "EMC") -> dict[str, HistogramRecord]:
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun).where(SubsystemRun.name == subsystem)).one()
        rows = session.scalars(
            select(HistogramRecord).where(HistogramRecord.result_id == sub.current_result_id)
        ).all()
        return {row.name: row for row in rows}


def _inner(record: HistogramRecord) -> list[float]:
    array = _payload(record)["fArray"]
    assert isinstance(array, list)
    return [float(v) for v in array[1:-1]]


def test_cumulative_run_state_is_the_newest_file(settings: Settings, db: Database) -> None:
    _drop(settings, 1, range(10))
    newest = _drop(settings, 2, [5] * 10)
    scan(settings, db)
    outcomes = Worker(settings, db).run_until_idle()
    assert [(o.kind, o.state, o.histograms) for o in outcomes] == [("process", "done", 3)]
    stored = _current(db)
    assert _inner(stored["EMCTRQA_histA"]) == [5.0] * 10
    assert _inner(stored["EMCTRQA_histB"]) == [10.0] * 10
    # What is stored is exactly the JSROOT JSON of the newest file's histogram.
    from overwatch.processing.jsroot import to_jsroot_json  # noqa: PLC0415

    expected = {
        h.name: h
        for h in read_file(settings.data_dir / f"Run{RUN}" / "EMC" / newest.name).histograms
    }
    assert gzip.decompress(stored["Cells/histC"].json_gz or b"") == to_jsroot_json(
        expected["Cells/histC"]
    )
    payload = _payload(stored["EMCTRQA_histA"])
    assert payload["_typename"] == "TH1D"
    assert stored["EMCTRQA_histA"].etag
    assert len(stored["EMCTRQA_histA"].etag) == 40
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        assert sub.processed_until == START.replace(minute=2)
        groups = session.scalars(select(HistogramGroup).order_by(HistogramGroup.position)).all()
        assert [g.name for g in groups] == ["Cells", "EMCTRQA"]
        attempt = session.scalars(select(JobAttempt)).one()
        assert (
            attempt.outcome,
            attempt.plugin,
            attempt.plugin_version,
            attempt.histogram_count,
        ) == ("done", "generic", "1", 3)
        assert attempt.duration_seconds is not None
        assert attempt.duration_seconds >= 0
        job = session.scalars(select(Job)).one()
        assert (job.state, job.result_id) == ("done", sub.current_result_id)
        states = set(session.scalars(select(ReceivedFile.state)))
        assert states == {"processed", "registered"}  # the older file was not needed


def test_new_file_replaces_the_result_and_removes_the_old_one(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1, range(10))
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    _drop(settings, 3, [7] * 10)
    report = scan(settings, db)
    assert report.jobs_queued == 1
    Worker(settings, db).run_until_idle()
    assert _inner(_current(db)["EMCTRQA_histA"]) == [7.0] * 10
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 1
    assert scan(settings, db).jobs_queued == 0  # nothing new: nothing queued


def test_reset_mode_sums_the_files(make_settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(subsystem_modes={"EMC": "reset"})
    _drop(settings, 1, range(10))
    _drop(settings, 2, [1] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    stored = _current(db)
    assert _inner(stored["EMCTRQA_histA"]) == [float(i + 1) for i in range(10)]
    assert _payload(stored["Cells/histC"])["fEntries"] == 20.0


def test_time_slice_subtracts_the_file_before_the_range_and_is_reused(
    settings: Settings, db: Database
) -> None:
    for minute, value in ((0, 1), (5, 3), (10, 6)):
        _drop(settings, minute, [value] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        params = {"min_minutes": 2, "max_minutes": 7, "options": {}}
        job = enqueue_job(
            session,
            kind="time_slice",
            dedupe_key="slice-1",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params=params,
            priority=PRIORITY_USER,
        )
        job_id = job.id
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        result = session.get(Result, job.result_id)
        assert result is not None
        assert result.kind == "time_slice"
        assert (result.min_time, result.max_time) == (START, START.replace(minute=5))
        rows = {
            r.name: r
            for r in session.scalars(
                select(HistogramRecord).where(HistogramRecord.result_id == result.id)
            )
        }
        # newest file in [2, 7] minutes is minute 5; the last one before minute 2 is minute 0.
        assert _inner(rows["EMCTRQA_histA"]) == [2.0] * 10
        again = enqueue_job(
            session,
            kind="time_slice",
            dedupe_key="slice-2",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params=params,
        )
        again_id = again.id
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        second = session.get(Job, again_id)
        assert second is not None
        assert second.result_id == result.id  # served from storage, not recomputed
        assert (
            session.scalar(
                select(func.count()).select_from(Result).where(Result.kind == "time_slice")
            )
            == 1
        )


def test_corrupt_file_found_while_processing_is_quarantined_and_older_data_used(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1, [4] * 10)
    newest = _drop(settings, 2, [9] * 10)
    scan(settings, db)
    filed = settings.data_dir / f"Run{RUN}" / "EMC" / newest.name
    filed.write_bytes(filed.read_bytes()[:300])  # the disk lost the end of the file
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done"
    assert _inner(_current(db)["EMCTRQA_histA"]) == [4.0] * 10
    assert not filed.exists()
    with db.session() as session:
        quarantined = session.scalars(select(QuarantinedFile)).one()
        assert quarantined.original_name == newest.name
        assert "unreadable during processing" in quarantined.reason
        row = session.scalars(
            select(ReceivedFile).where(ReceivedFile.file_name == newest.name)
        ).one()
        assert row.state == "quarantined"
    # The file set aside counts as seen: the next scan has nothing to queue.
    rescan = scan(settings, db)
    assert rescan.jobs_queued == 0
    assert Worker(settings, db).run_until_idle() == []


class QualityPlugin(DetectorPlugin):
    """A test plugin exercising every hook."""

    name = "quality-test"
    version = "7"
    options = (ProcessingOption("threshold", float, 5.0, "bad above this mean", minimum=0),)

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram]:
        by_name = {h.name: h for h in histograms}
        total = by_name["EMCTRQA_histA"].copy()
        total.name = "EMCTRQA_sum"
        total.contents = total.contents + by_name["EMCTRQA_histB"].contents
        return [total]

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        hist.draw_options = "colz" if hist.ndim == 2 else "hist"
        hist.metadata.setdefault("info", []).append(f"max {float(hist.values().max()):g}")

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        if not hist.name.startswith("EMCTRQA"):
            return None
        mean = float(hist.values().mean())
        if mean > context.options["threshold"]:
            return CheckOutcome("bad", f"mean {mean:g} above {context.options['threshold']:g}")
        return CheckOutcome("good")

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        return [GroupSpec("Sums", "_sum$"), GroupSpec("Trigger", "^EMCTRQA")]


@pytest.fixture
def quality_plugin() -> Iterator[None]:
    register_plugin("EMC", QualityPlugin)
    yield
    unregister_plugin("EMC")


@pytest.mark.usefixtures("quality_plugin")
def test_plugin_hooks_shape_the_result(settings: Settings, db: Database) -> None:
    _drop(settings, 1, [3] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    stored = _current(db)
    assert set(stored) == {"EMCTRQA_histA", "EMCTRQA_histB", "EMCTRQA_sum", "Cells/histC"}
    assert _inner(stored["EMCTRQA_sum"]) == [9.0] * 10
    assert (stored["EMCTRQA_histA"].quality, stored["EMCTRQA_histB"].quality) == ("good", "bad")
    assert stored["EMCTRQA_histB"].info == {"info": ["max 6"], "check": "mean 6 above 5"}
    assert stored["Cells/histC"].quality is None
    assert stored["EMCTRQA_histA"].draw_options == "hist"
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        assert sub.quality == "bad"
        groups = {g.id: g.name for g in session.scalars(select(HistogramGroup))}
        assert list(groups.values()) == ["Sums", "Trigger", "Other"]
        placed = {
            r.name: groups[r.group_id]
            for r in session.scalars(select(HistogramRecord))
            if r.group_id
        }
        assert placed == {
            "EMCTRQA_sum": "Sums",
            "EMCTRQA_histA": "Trigger",
            "EMCTRQA_histB": "Trigger",
            "Cells/histC": "Other",
        }
        attempt = session.scalars(select(JobAttempt)).one()
        assert (attempt.plugin, attempt.plugin_version) == ("quality-test", "7")


@pytest.mark.usefixtures("quality_plugin")
def test_reprocessing_with_options_is_stored_apart(settings: Settings, db: Database) -> None:
    _drop(settings, 1, [3] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        current = sub.current_result_id
        job = enqueue_job(
            session,
            kind="reprocess",
            dedupe_key="re",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params={"options": {"threshold": "10"}},
        )
        job_id = job.id
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.state == "done"
        result = session.get(Result, job.result_id)
        assert result is not None
        assert (result.kind, result.options, result.quality) == (
            "reprocess",
            {"threshold": 10.0},
            "good",
        )
        sub = session.scalars(select(SubsystemRun)).one()
        assert sub.current_result_id == current  # the run's own result is untouched


@pytest.mark.usefixtures("quality_plugin")
def test_bad_option_fails_the_job_with_the_reason(make_settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(job_max_attempts=1)
    _drop(settings, 1, [3] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        enqueue_job(
            session,
            kind="reprocess",
            dedupe_key="bad",
            subsystem_id=sub.id,
            run_number=RUN,
            subsystem="EMC",
            params={"options": {"threshold": -1}},
            max_attempts=1,
        )
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "failed"
    assert outcome.error is not None
    assert "threshold: must be at least 0" in outcome.error


class BrokenPlugin(DetectorPlugin):
    name = "broken"

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        raise ZeroDivisionError("plugin bug")


def test_failing_plugin_is_retried_then_failed_keeping_the_previous_result(
    settings: Settings, db: Database
) -> None:
    _drop(settings, 1, [2] * 10)
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    before = _current(db)
    register_plugin("EMC", BrokenPlugin)
    try:
        _drop(settings, 2, [8] * 10)
        scan(settings, db)
        outcomes = Worker(settings, db).run_until_idle()
    finally:
        unregister_plugin("EMC")
    assert [o.state for o in outcomes] == ["queued", "queued", "failed"]
    assert outcomes[-1].error is not None
    assert "ZeroDivisionError: plugin bug" in outcomes[-1].error
    after = _current(db)
    assert {k: v.etag for k, v in after.items()} == {k: v.etag for k, v in before.items()}
    with db.session() as session:
        attempts = session.scalars(select(JobAttempt).order_by(JobAttempt.id)).all()
        assert [a.outcome for a in attempts] == ["done", "retry", "retry", "failed"]
        assert attempts[-1].error is not None
        assert "Traceback" in attempts[-1].error
    # The failed data is not queued again until a newer file arrives.
    assert scan(settings, db).jobs_queued == 0


def test_job_taken_over_by_another_worker_writes_nothing(settings: Settings, db: Database) -> None:
    _drop(settings, 1, [1] * 10)
    scan(settings, db)

    class Thief(DetectorPlugin):
        def derived(
            self, histograms: Sequence[Histogram], context: ProcessingContext
        ) -> list[Histogram]:
            with db.session() as session:
                session.execute(update(Job).values(worker="someone-else"))
            return []

    register_plugin("EMC", Thief)
    try:
        [outcome] = Worker(settings, db).run_until_idle()
    finally:
        unregister_plugin("EMC")
    assert outcome.state == "lost"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 0


def test_large_job_split_across_two_processes_gives_the_same_result(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    objects = {
        f"dir{i % 4}/h{i}": rootfiles.th1(f"h{i}", np.arange(2000) * (i + 1), kind="F")
        for i in range(400)
    }
    stamp = START.replace(minute=1)
    write_receiver_file(settings.data_dir, "TPC", RUN, "C", stamp, objects, settings.tz)
    copy = (settings.data_dir / "TPChistos_294832_C_2018_10_22_9_1_0.root").read_bytes()
    assert len(copy) > 1024 * 1024  # large enough to be split
    parallel = replace(settings, processing_workers=2)
    scan(parallel, db)
    [outcome] = Worker(parallel, db).run_until_idle()
    assert (outcome.state, outcome.histograms) == ("done", 400)
    split = {name: row.etag for name, row in _current(db, "TPC").items()}
    serial = {}
    for hist in read_file(
        settings.data_dir / f"Run{RUN}" / "TPC" / "TPChistos_294832_C_2018_10_22_9_1_0.root"
    ).histograms:
        from overwatch.processing.pipeline import encode_histogram  # noqa: PLC0415

        serial[hist.name] = encode_histogram(hist, 1)[2]
    assert split == serial


class SlowPlugin(DetectorPlugin):
    """Takes longer than the job lease: only heartbeats keep its job."""

    name = "slow-test"
    seconds = 1.6

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram]:
        time.sleep(self.seconds)
        return []


def test_heartbeats_keep_long_jobs_one_after_another(settings: Settings, db: Database) -> None:
    settings = replace(settings, job_lease_seconds=1.0)  # a beat every 0.5 s
    register_plugin("EMC", SlowPlugin)
    try:
        _drop(settings, 1, [4] * 10)
        scan(settings, db)
        worker = Worker(settings, db)
        stop = threading.Event()
        reclaimed: list[int] = []

        def reclaimer() -> None:  # what the daemon's reclaim task does, far more often
            while not stop.wait(0.1):
                with db.session() as session:
                    reclaimed.extend(reclaim_expired(session, settings.job_lease_seconds))

        watcher = threading.Thread(target=reclaimer)
        watcher.start()
        try:
            [first] = worker.run_until_idle()
            _drop(settings, 2, [5] * 10)
            scan(settings, db)
            [second] = worker.run_until_idle()  # the same worker, its heartbeat thread again
        finally:
            stop.set()
            watcher.join()
    finally:
        unregister_plugin("EMC")
    assert (first.state, second.state) == ("done", "done"), (first.error, second.error)
    assert reclaimed == []
    assert _inner(_current(db)["EMCTRQA_histA"]) == [5.0] * 10


def test_an_idle_worker_keeps_no_heartbeat_thread(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers are made per reload and per test: a thread each that never ended would pile up.
    monkeypatch.setattr(worker_module, "HEARTBEAT_IDLE_SECONDS", 0.2)
    _drop(settings, 1, [4] * 10)
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done"
    deadline = time.monotonic() + 5
    while any(t.name == "job heartbeat" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the heartbeat thread outlived its worker's jobs"
        time.sleep(0.05)
