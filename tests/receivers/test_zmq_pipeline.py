"""From the wire to the run page's data: a demo run replayed through the ZMQ receiver and processed."""

from __future__ import annotations

import shutil
from datetime import UTC
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.demo import generate_demo_data
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.receivers.replay import replay
from overwatch.receivers.zmqsender import ZmqPublisher
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from tests import rootfiles
from tests.receivers.zmqsupport import free_endpoint
from tests.receivers.zmqsupport import running_receiver
from tests.receivers.zmqsupport import wait_until

NEW_RUN = 300000


def _histogram_counts(db: Database, run_number: int) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            select(SubsystemRun.name, func.count(HistogramRecord.id))
            .join(Run, SubsystemRun.run_id == Run.id)
            .join(HistogramRecord, HistogramRecord.result_id == SubsystemRun.current_result_id)
            .where(Run.run_number == run_number)
            .group_by(SubsystemRun.name)
        ).all()
    return {name: int(count) for name, count in rows}


def test_a_demo_run_replayed_through_the_zmq_receiver_is_processed(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    sources = generate_demo_data(
        archive, settings.tz, runs=1, minutes=2, now=datetime(2018, 10, 22, 8, tzinfo=UTC)
    )
    assert len(sources) == 6  # EMC, HLT, TPC at two minutes
    endpoint = free_endpoint()
    with running_receiver(endpoint, settings.data_dir) as running:
        publisher = ZmqPublisher(endpoint)
        try:
            summary = replay(
                archive, sink=publisher, tz=settings.tz, speed=float("inf"), as_run=NEW_RUN
            )
        finally:
            publisher.close()
        assert summary.delivered == len(sources)
        wait_until(lambda: len(running.outcomes) == len(sources), "every demo snapshot")
    assert running.refusals == []
    report = scan(settings, db)
    assert len(report.registered) == len(sources)
    assert process_pending(settings, db).failed == 0
    counts = _histogram_counts(db, NEW_RUN)
    assert sorted(counts) == ["EMC", "HLT", "TPC"]
    assert all(count > 0 for count in counts.values())
    with db.session() as session:
        stored = session.scalars(select(ReceivedFile.file_name)).all()
    assert sorted(stored) == sorted(p.name.replace("_294832_", f"_{NEW_RUN}_") for p in sources)


def test_a_file_dropped_under_the_cpp_receivers_name_is_processed(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    # The ALICE C++ receivers wrote unpadded local Zurich times and nothing else we
    # know of; a file copied in under such a name goes the normal way.
    source = rootfiles.write_th1_file(tmp_path / "from_hlt.root", count=4)
    name = "EMChistos_294832_C_2018_10_2_9_3_5.root"
    shutil.copy(source, settings.data_dir / name)
    report = scan(settings, db)
    assert report.registered == [f"Run294832/EMC/{name}"]
    assert process_pending(settings, db).failed == 0
    assert _histogram_counts(db, 294832) == {"EMC": 4}
    with db.session() as session:
        received = session.scalars(select(ReceivedFile)).one()
        assert received.timestamp == datetime(2018, 10, 2, 7, 3, 5, tzinfo=UTC)
