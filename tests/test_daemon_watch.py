"""The daemon takes a new file from its file event, not at the next periodic scan."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC
from datetime import datetime

import numpy as np
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.processing.daemon import run_daemon
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import Job


def _done_jobs(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Job).where(Job.state == "done")).all())


def _run(settings: Settings, db: Database, *, watch: bool, wait: float) -> int:
    """Start a daemon whose periodic scan never comes again, drop a file, count done jobs."""
    settings = replace(settings, scan_interval=3600.0, watch_files=watch, file_settle_seconds=2.0)
    stop = threading.Event()
    daemon = threading.Thread(
        target=run_daemon, args=(settings, db), kwargs={"workers": 1, "stop": stop}
    )
    daemon.start()
    try:
        time.sleep(1.5)  # the first scan (at start) has run on the empty directory
        counts = np.histogram(np.arange(100), bins=10)
        write_receiver_file(
            settings.data_dir, "EMC", 1234, "C", datetime.now(UTC), {"h": counts}, settings.tz
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not _done_jobs(db):
            time.sleep(0.1)
        return _done_jobs(db)
    finally:
        stop.set()
        daemon.join(timeout=60)


def test_a_new_file_is_processed_from_its_file_event(settings: Settings, db: Database) -> None:
    assert _run(settings, db, watch=True, wait=30) == 1


def test_without_file_events_it_waits_for_the_periodic_scan(
    settings: Settings, db: Database
) -> None:
    # Long enough for the file to settle and a scan to take it, were there one.
    assert _run(settings, db, watch=False, wait=5) == 0
