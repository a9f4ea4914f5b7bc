"""Jobs on hostile files: odd names, oversized histograms, late files, nothing readable.

Every test runs on SQLite and PostgreSQL (the ``db`` fixture): PostgreSQL is the
one that rejects NUL in text and over-long names.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.detectors import DetectorPlugin
from overwatch.detectors import GroupSpec
from overwatch.detectors import ProcessingContext
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.histograms.model import Histogram
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.filenames import build_file_name
from overwatch.storage import Database
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import QuarantinedFile
from overwatch.storage.models import SubsystemRun
from tests import rootfiles

RUN = 300001
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)


def _drop(
    settings: Settings, minute: int, objects: Mapping[str, Any], renames: Mapping[str, str] = {}
) -> Path:
    name = build_file_name("EMC", RUN, "C", START.replace(minute=minute), settings.tz)
    path = rootfiles.write_file(settings.data_dir / name, objects)
    return rootfiles.rename_keys(path, renames) if renames else path


def _stored(db: Database) -> dict[str, HistogramRecord]:
    with db.session() as session:
        sub = session.scalars(select(SubsystemRun)).one()
        rows = session.scalars(
            select(HistogramRecord).where(HistogramRecord.result_id == sub.current_result_id)
        ).all()
        return {row.name: row for row in rows}


def _values(record: HistogramRecord) -> list[float]:
    assert record.json_gz is not None
    payload = json.loads(gzip.decompress(record.json_gz))
    return [float(v) for v in payload["fArray"][1:-1]]


def test_key_with_slash_in_its_name_is_read_not_quarantined(
    settings: Settings, db: Database
) -> None:
    _drop(
        settings,
        1,
        {"good": rootfiles.th1("good", [1, 2]), "odd|name": rootfiles.th1("odd|name", [3, 4])},
        {"odd|name": "odd/name"},
    )
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert (outcome.state, outcome.histograms, outcome.unreadable) == ("done", 2, 0)
    stored = _stored(db)
    assert _values(stored["odd\\x2fname"]) == [3.0, 4.0]
    assert _values(stored["good"]) == [1.0, 2.0]
    with db.session() as session:
        assert session.scalars(select(QuarantinedFile)).all() == []


def test_odd_names_and_titles_are_stored_escaped_and_distinct(
    settings: Settings, db: Database
) -> None:
    long_dir = "D" * 200  # a top-level directory name longer than a group name may be
    objects = {
        "nul\x00name": rootfiles.th1("nul\x00name", [1], title="t\x00itle\udcff"),
        "nul\\x00name": rootfiles.th1("nul\\x00name", [2]),  # the literal text, not a NUL
        "bad\udcfe": rootfiles.th1("bad\udcfe", [3]),
        "L" * 600 + "a": rootfiles.th1("La", [4]),
        "L" * 600 + "b": rootfiles.th1("Lb", [5]),
        f"{long_dir}/h": rootfiles.th1("h", [6]),
        "lst": rootfiles.tlist([rootfiles.th1("dup", [7]), rootfiles.th1("dup", [8])]),
        "ctl\x07": rootfiles.th1("ctl\x07", [9]),
    }
    _drop(settings, 1, objects)
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    assert outcome.histograms == len(objects) + 1  # the list holds two
    stored = _stored(db)
    assert _values(stored["nul\\x00name"]) == [1.0]
    assert stored["nul\\x00name"].title == "t\\x00itle\\xff"
    assert _values(stored["nul\\\\x00name"]) == [2.0]
    assert _values(stored["bad\\xfe"]) == [3.0]
    assert _values(stored["ctl\\x07"]) == [9.0]
    assert (_values(stored["lst/dup"]), _values(stored["lst/dup;2"])) == ([7.0], [8.0])
    long_names = [name for name in stored if name.startswith("LLL")]
    assert len(long_names) == 2
    assert all(len(name) == 512 for name in long_names)
    assert sorted(_values(stored[name])[0] for name in long_names) == [4.0, 5.0]
    assert _values(stored[f"{long_dir}/h"]) == [6.0]
    with db.session() as session:
        groups = session.scalars(select(HistogramGroup.name)).all()
        assert all(len(name) <= 128 for name in groups)
        assert len(groups) == len(set(groups))


def test_histogram_over_max_bins_is_refused_with_stored_reason_and_rest_processed(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(max_histogram_bins=500)
    _drop(
        settings,
        1,
        {
            "small": rootfiles.th1("small", [1, 2]),
            "big": rootfiles.th1("big", np.ones(1000)),
            "bomb": rootfiles.th1_claiming("bomb", 100_000_000),
        },
    )
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert (outcome.state, outcome.histograms, outcome.unreadable) == ("done", 1, 2)
    stored = _stored(db)
    assert _values(stored["small"]) == [1.0, 2.0]
    for name in ("big", "bomb"):
        assert stored[name].json_gz is None
        assert stored[name].error is not None
        assert "max_histogram_bins = 500" in stored[name].error
    assert "100,000,002 bins" in (stored["bomb"].error or "")
    with db.session() as session:
        attempt = session.scalars(select(JobAttempt)).one()
        assert attempt.outcome == "done"
        assert attempt.histogram_count == 1
        assert "2 object(s) could not be read" in (attempt.error or "")


def test_job_that_could_read_no_histogram_fails_with_the_reason(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(max_histogram_bins=10, job_max_attempts=1)
    _drop(settings, 1, {"big": rootfiles.th1("big", np.ones(100))})
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "failed"
    assert "no histogram could be read" in (outcome.error or "")
    assert "big: refused" in (outcome.error or "")
    with db.session() as session:
        assert session.scalars(select(Job.state)).one() == "failed"


def test_job_whose_every_file_is_unreadable_fails_instead_of_done(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(job_max_attempts=1)
    path = _drop(settings, 1, {"h": rootfiles.th1("h", [1])})
    scan(settings, db)
    filed = settings.data_dir / f"Run{RUN}" / "EMC" / path.name
    filed.write_bytes(filed.read_bytes()[:300])
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "failed"
    assert "every file was unreadable" in (outcome.error or "")
    assert path.name in (outcome.error or "")


def test_late_file_in_reset_mode_is_added_to_the_sum(make_settings: Any, db: Database) -> None:
    settings = make_settings(subsystem_modes={"EMC": "reset"})
    _drop(settings, 5, {"h": rootfiles.th1("h", [1, 1])})
    scan(settings, db)
    Worker(settings, db).run_until_idle()
    assert _values(_stored(db)["h"]) == [1.0, 1.0]
    _drop(settings, 2, {"h": rootfiles.th1("h", [10, 20])})  # older than the one summed
    assert scan(settings, db).jobs_queued == 1
    Worker(settings, db).run_until_idle()
    assert _values(_stored(db)["h"]) == [11.0, 21.0]
    assert scan(settings, db).jobs_queued == 0


class SilentPlugin(DetectorPlugin):
    """Hooks that forget to return their lists."""

    name = "silent-test"

    def derived(self, histograms: Sequence[Histogram], context: ProcessingContext) -> Any:
        return None

    def groups(self, names: Sequence[str], context: ProcessingContext) -> Any:
        return None


class GreedyPlugin(DetectorPlugin):
    """Asks for more memory than any machine has."""

    name = "greedy-test"

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        hist.metadata["huge"] = np.ones(1 << 50)


class ClashingPlugin(DetectorPlugin):
    """Derives a histogram under a name the file already has, groups it twice."""

    name = "clash-test"

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram]:
        copy = histograms[0].copy()
        copy.title = "derived\x00"
        copy.draw_options = "x" * 300
        return [copy]

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        return [GroupSpec("All", ".*"), GroupSpec("All", "h")]


@pytest.fixture
def plugin(request: pytest.FixtureRequest) -> Iterator[None]:
    register_plugin("EMC", request.param)
    yield
    unregister_plugin("EMC")


@pytest.mark.parametrize("plugin", [SilentPlugin], indirect=True)
@pytest.mark.usefixtures("plugin")
def test_plugin_hooks_returning_nothing_mean_nothing(settings: Settings, db: Database) -> None:
    _drop(settings, 1, {"h": rootfiles.th1("h", [1])})
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert (outcome.state, outcome.histograms) == ("done", 1), outcome.error
    assert _stored(db)["h"].group_id is not None  # in "Other"


@pytest.mark.parametrize("plugin", [ClashingPlugin], indirect=True)
@pytest.mark.usefixtures("plugin")
def test_derived_name_clash_and_repeated_group_are_stored(settings: Settings, db: Database) -> None:
    _drop(settings, 1, {"h": rootfiles.th1("h", [1])})
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    stored = _stored(db)
    assert set(stored) == {"h", "h;2"}
    assert stored["h;2"].title == "derived\\x00"
    assert len(stored["h;2"].draw_options) == 128


@pytest.mark.parametrize("plugin", [GreedyPlugin], indirect=True)
@pytest.mark.usefixtures("plugin")
def test_out_of_memory_fails_the_job_with_a_clear_reason(make_settings: Any, db: Database) -> None:
    settings = make_settings(job_max_attempts=1)
    _drop(settings, 1, {"h": rootfiles.th1("h", [1])})
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "failed"
    assert (outcome.error or "").startswith("out of memory")
    assert "worker_memory_limit_mb = 4096" in (outcome.error or "")


def test_memory_limit_makes_a_huge_allocation_fail_in_that_process() -> None:
    program = """
from overwatch.processing.limits import limit_memory
data = bytearray(300 << 20)  # fine without a limit
del data
limit_memory(256)
try:
    bytearray(300 << 20)
except MemoryError:
    print("MemoryError")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "MemoryError"


def test_binning_change_in_reset_mode_costs_that_histogram_not_the_job(
    make_settings: Any, db: Database
) -> None:
    settings = make_settings(subsystem_modes={"EMC": "reset"})
    _drop(settings, 1, {"h": rootfiles.th1("h", [1, 1]), "g": rootfiles.th1("g", [1])})
    _drop(settings, 2, {"h": rootfiles.th1("h", [1, 1, 1]), "g": rootfiles.th1("g", [2])})
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    stored = _stored(db)
    assert _values(stored["g"]) == [3.0]
    assert stored["h"].json_gz is None
    assert "cannot sum the files" in (stored["h"].error or "")


def test_two_process_split_reads_odd_top_level_names(make_settings: Any, db: Database) -> None:
    settings = make_settings(processing_workers=2)
    rng = np.random.default_rng(3)
    objects: dict[str, Any] = {
        f"h{i}": rootfiles.th1(f"h{i}", rng.random(1000)) for i in range(300)
    }
    objects["odd|name"] = rootfiles.th1("odd|name", [5, 6])
    path = _drop(settings, 1, objects, {"odd|name": "odd/name"})
    assert path.stat().st_size > 1024 * 1024  # large enough to be split
    scan(settings, db)
    [outcome] = Worker(settings, db).run_until_idle()
    assert (outcome.state, outcome.histograms) == ("done", 301), outcome.error
    assert _values(_stored(db)["odd\\x2fname"]) == [5.0, 6.0]
